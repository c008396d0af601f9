"""Checkpoints: continue a training run exactly where it stopped, after a crash or a Ctrl-C.

``fit(model, X, y, checkpoint="runs/NAME")`` keeps two files in that directory, each
replaced atomically (temporary file, fsync, rename), so a crash at any moment leaves the
previous version readable:

- ``checkpoint.npz``: a model file (see :mod:`scratchnn.serialization`: architecture as JSON,
  parameters, no pickle) plus the training state: epochs done, the optimizer (class,
  hyper-parameters, initial learning rate, step counter and moments), the state of every
  random generator, the :class:`~scratchnn.training.History`, callbacks' state and the fit
  settings. ``scratchnn.load`` reads the model out of it.
- ``history.csv``: the History so far, for people and spreadsheets, rewritten after every
  checkpoint, on divergence, on an interrupt and when a run is resumed. The two files cannot
  be replaced together atomically, so after a crash ``history.csv`` may lack the last epoch;
  the checkpoint (which holds the History too) is the reference.

Resuming is exact: 10 epochs straight and 5 + resume + 5 give bit-identical weights and
History (except the wall-clock ``seconds``), because the checkpoint holds everything the
remaining epochs depend on:

- parameters and optimizer moments as binary arrays, the step counter ``t`` (Adam's bias
  correction) and ``initial_lr`` (what a schedule starts from; the schedule itself is a
  function of the epoch number, which is saved);
- the bit-generator state of fit's shuffling generator and of every layer's generator
  (Dropout), as JSON (Python integers are exact however large, e.g. PCG64's 128-bit state),
  with a generator shared by several layers kept shared;
- the generator state the run *started* with, from which the same validation split is drawn
  again (the data are fingerprinted, so resuming with other data is an error, not a
  silently different run);
- after an interrupt in the middle of an epoch: the batch reached, the epoch's running sums
  and the epoch's order of examples itself, so the resumed epoch continues with the next
  batch of the same order (format version 1 kept the generator state the order was drawn
  from instead; such checkpoints are read and the order drawn again).

This module defines the file, writes it and reads it; the callback
:class:`~scratchnn.training.callbacks.Checkpointing` saves and restores runs with it, and
:mod:`scratchnn.training.checkpoint_checks` validates what is read.

>>> import tempfile, numpy as np, scratchnn as snn
>>> X, y = snn.datasets.circle_regions(64, seed=0)
>>> run = tempfile.mkdtemp()
>>> model = snn.mlp([2, 8, 2], rng=0)
>>> _ = model.fit(X, y, epochs=2, optimizer=snn.Adam(0.03), seed=0, verbose=0, checkpoint=run)
>>> model, history = snn.resume(run, X, y, epochs=3, verbose=0)
>>> len(history), load_checkpoint(run).epoch
(3, 3)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import losses as losses_mod
from .. import optimizers as optimizers_mod
from .. import schedules as schedules_mod
from ..errors import InputError, ModelFileError
from ..io.model_file import architecture, build_model
from ..io.npz import read_npz, write_npz
from ..layers.base import Module
from ..registry import LOSSES, OPTIMIZERS, SCHEDULES, Registry
from .checkpoint_checks import check_training_state
from .history import History

__all__ = [
    "CHECKPOINT_FILE",
    "HISTORY_FILE",
    "Checkpoint",
    "data_fingerprint",
    "fit_settings",
    "generator_from_state",
    "generator_table",
    "load_checkpoint",
    "optimizer_spec",
    "write_checkpoint",
]

CHECKPOINT_FILE = "checkpoint.npz"
HISTORY_FILE = "history.csv"
_ARRAY = "__array__"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


# -- nested state <-> JSON + arrays ---------------------------------------------------------
def pack(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able copy of ``value`` with every array moved to ``arrays`` under a path-like key."""
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {_ARRAY: key}
    if isinstance(value, dict):
        return {str(k): pack(v, f"{key}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [pack(v, f"{key}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise InputError(
        f"cannot save a {type(value).__name__} ({key}) in a checkpoint; "
        "state_dict() must return numbers, strings, lists, dicts and arrays"
    )


def unpack(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of :func:`pack`."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return arrays[value[_ARRAY]]
        return {k: unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v, arrays) for v in value]
    return value


def normalized(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


# -- random generators --------------------------------------------------------------------
def generator_from_state(state: dict[str, Any]) -> np.random.Generator:
    """A Generator continuing exactly from ``bit_generator.state`` (PCG64, MT19937, ...)."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ModelFileError(f"unknown bit generator {name!r} in a saved random state")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise ModelFileError(f"invalid {name} state in a saved random state ({exc})") from None
    return np.random.Generator(bit_generator)


def generator_table(users: dict[str, np.random.Generator]) -> dict[str, Any]:
    """Unique generator states and who draws from each (shared generators stay shared)."""
    index_of: dict[int, int] = {}
    states: list[dict[str, Any]] = []
    owners: dict[str, int] = {}
    for owner, generator in users.items():
        if id(generator) not in index_of:
            index_of[id(generator)] = len(states)
            states.append(generator.bit_generator.state)
        owners[owner] = index_of[id(generator)]
    return {"generators": states, "generator_owners": owners}


def current_owner_name(owner: str) -> str:
    """A generator's owner as named now: format 1 named them by attribute path through
    ``Sequential.layers`` (``"layers.3.rng"``, ``"encoder.layers.1.rng"``); the module tree
    names them by child (``"3.rng"``, ``"encoder.1.rng"``)."""
    return re.sub(r"(^|\.)layers\.(\d+)\.", r"\1\2.", owner)


# -- the fit settings ---------------------------------------------------------------------
def _spec(obj: Any) -> dict[str, Any] | None:
    """``{"class": name, "config": constructor arguments}`` of a loss or schedule."""
    if obj is None:
        return None
    return {"class": type(obj).__name__, "config": obj.get_config()}


def optimizer_spec(optimizer: optimizers_mod.Optimizer) -> dict[str, Any]:
    """What identifies an optimizer for resuming: class, hyper-parameters, initial rate."""
    hyper = {k: v for k, v in optimizer.hyperparameters().items() if k != "lr"}
    return {
        "class": type(optimizer).__name__,
        "hyperparameters": hyper,
        "initial_lr": optimizer.initial_lr,
    }


def fit_settings(
    *,
    loss: losses_mod.Loss,
    optimizer: optimizers_mod.Optimizer,
    lr_schedule: schedules_mod.Schedule,
    **settings: Any,
) -> dict[str, Any]:
    """The settings a run must keep when resumed (plus ``epochs``/``checkpoint_every``)."""
    return normalized(
        {
            "loss": _spec(loss),
            "optimizer": optimizer_spec(optimizer),
            "lr_schedule": _spec(lr_schedule),
            **settings,
        }
    )


def data_fingerprint(*arrays: np.ndarray | None) -> str:
    """A short hash of the training (and validation) data: shapes, dtypes and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"-")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


# -- writing ------------------------------------------------------------------------------
def write_checkpoint(path: Path, model: Module, state: dict[str, Any]) -> None:
    """Write ``checkpoint.npz``: the model file plus the training ``state`` (atomically)."""
    arrays = {f"param/{name}": value for name, value in model.state_dict().items()}
    meta = {
        "kind": "checkpoint",
        "architecture": architecture(model),
        "extra": getattr(model, "metadata", {}),
        "training": pack(state, "training", arrays),
    }
    write_npz(path, meta, arrays)


# -- reading ------------------------------------------------------------------------------
def _rebuild(registry: Registry, spec: dict[str, Any], what: str, path: Path) -> Any:
    if spec.get("class") not in registry:
        raise InputError(
            f"{path}: the run used the {what} {spec.get('class')!r}, which this program does not "
            f"define; define it, or call fit(..., checkpoint=DIR, resume=True) with an instance"
        )
    try:
        return registry.get(spec["class"])(**spec.get("config", {}))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the saved {what} cannot be rebuilt ({exc})") from None


@dataclass
class Checkpoint:
    """A checkpoint read back by :func:`load_checkpoint`.

    Attributes
    ----------
    path : pathlib.Path
        The ``checkpoint.npz`` file.
    model : Module
        The model with the saved parameters.
    epoch : int
        Epochs completed.
    history : History
        One row per completed epoch.
    settings : dict
        The fit settings (loss, optimizer, schedule, batch size, ...; see
        :func:`~scratchnn.training.resume`).
    state : dict
        The rest of the training state (optimizer moments, generators, position, ...).
    version : int
        The file's format version.
    """

    path: Path
    model: Module
    epoch: int
    history: History
    settings: dict[str, Any]
    state: dict[str, Any] = field(repr=False)
    version: int = 2

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def in_epoch(self) -> int | None:
        """The 1-based epoch an interrupt stopped in the middle of, or ``None``."""
        position = self.state.get("position")
        return None if position is None else int(position["epoch"]) + 1

    def optimizer(self) -> optimizers_mod.Optimizer:
        """A new optimizer of the saved class with the saved state (moments, step counter)."""
        saved = self.settings["optimizer"]
        optimizer = _rebuild(
            OPTIMIZERS,
            {
                "class": saved["class"],
                "config": {"lr": saved["initial_lr"], **saved["hyperparameters"]},
            },
            "optimizer",
            self.path,
        )
        load_optimizer_state(optimizer, self.state["optimizer"], self.path, self.model)
        return optimizer

    def loss(self) -> losses_mod.Loss:
        return _rebuild(LOSSES, self.settings["loss"], "loss", self.path)

    def lr_schedule(self) -> schedules_mod.Schedule | None:
        spec = self.settings.get("lr_schedule")
        return None if spec is None else _rebuild(SCHEDULES, spec, "schedule", self.path)


def _checkpoint_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path / CHECKPOINT_FILE if path.is_dir() else path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint: a run directory (``runs/NAME``) or its ``checkpoint.npz``.

    Raises :class:`~scratchnn.errors.ModelFileError` for a missing, corrupted, truncated,
    foreign or too new file, or a model file that holds no training state.
    """
    path = _checkpoint_file(path)
    meta, arrays = read_npz(path)
    if meta.get("kind") != "checkpoint":
        raise ModelFileError(
            f"{path}: is a model file, not a training checkpoint; load it with scratchnn.load"
        )
    model = build_model(meta, arrays, path)
    try:
        state = unpack(meta["training"], arrays)
        check_training_state(state)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise ModelFileError(
            f"{path}: the training state is incomplete or damaged ({type(exc).__name__}: {exc}); "
            "use another checkpoint"
        ) from None
    state["generator_owners"] = {
        current_owner_name(owner): index for owner, index in state["generator_owners"].items()
    }
    epoch, history, settings = state["epoch"], History(state["history"]), state["settings"]
    return Checkpoint(path, model, epoch, history, settings, state, version=meta["version"])


def load_optimizer_state(
    optimizer: optimizers_mod.Optimizer, saved: dict[str, Any], path: Path, model: Module
) -> None:
    """Give ``optimizer`` the saved moments and step counter, checking every shape."""
    shapes = {name: param.shape for name, param, _ in model.parameters()}
    known = optimizer.hyperparameters()
    for key, value in saved["state"].get("hyperparameters", {}).items():
        # applied with setattr: only the optimizer's own hyper-parameters, of their own type
        if key not in known or _kind(value) != _kind(known[key]):
            raise ModelFileError(
                f"{path}: optimizer hyper-parameter {key}={_short_value(value)} is not one of "
                f"{type(optimizer).__name__}'s ({', '.join(known)}); the checkpoint is damaged"
            )
        if key == "lr":  # the one that changes during a run (a schedule sets it each epoch)
            if not (value > 0 and np.isfinite(value)):
                raise ModelFileError(
                    f"{path}: optimizer learning rate {value!r} is not a positive number; the "
                    "checkpoint is damaged"
                )
        elif value != known[key]:  # the others are the run's settings, already compared
            raise ModelFileError(
                f"{path}: optimizer hyper-parameter {key}={_short_value(value)} differs from the "
                f"run's settings ({key}={known[key]!r}); the checkpoint is damaged"
            )
    for name, arrays in saved["state"]["state"].items():
        if name not in shapes:
            raise ModelFileError(
                f"{path}: optimizer state for {_short_value(name)}, which the model has no "
                "parameter of; the checkpoint is damaged"
            )
        for key, array in arrays.items():
            if shapes.get(name) != array.shape:
                raise ModelFileError(
                    f"{path}: optimizer state {name}/{key} has shape {array.shape}, but the "
                    f"parameter has {shapes.get(name)}; the checkpoint is damaged"
                )
    try:
        optimizer.load_state_dict(saved["state"])
        optimizer.initial_lr = float(saved["initial_lr"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the optimizer state is damaged ({exc})") from None


def _short_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    """What sort of hyper-parameter ``value`` is: 1 and 1.0 are both numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return type(value).__name__
    return "number" if isinstance(value, (int, float)) else "other"
