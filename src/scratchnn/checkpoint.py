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
  and the generator state at the start of the epoch, so the same batch order is drawn again
  and the batches already done are skipped.

This module defines the file and reads it; :class:`~scratchnn.training_run.TrainingRun`
writes it while ``fit`` trains.

>>> import tempfile, numpy as np, scratchnn as snn
>>> X, y = snn.datasets.circle_regions(64, seed=0)
>>> run = tempfile.mkdtemp()
>>> _ = snn.mlp([2, 8, 2], rng=0).fit(X, y, epochs=2, seed=0, verbose=0, checkpoint=run)
>>> model, history = snn.resume(run, X, y, epochs=3, verbose=0)
>>> len(history), load_checkpoint(run).epoch
(3, 3)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import losses as losses_mod
from . import optimizers as optimizers_mod
from . import schedules as schedules_mod
from .errors import InputError
from .serialization import ModelFileError, _build_model, read_npz

if TYPE_CHECKING:
    from .model import Sequential
    from .training import Callback, History

__all__ = ["CHECKPOINT_FILE", "HISTORY_FILE", "Checkpoint", "load_checkpoint", "resume"]

CHECKPOINT_FILE = "checkpoint.npz"
HISTORY_FILE = "history.csv"
_SETTINGS = ("loss", "optimizer", "lr_schedule", "batch_size", "shuffle", "validation_split")
_SETTINGS += ("clip_norm", "epochs")
_ARRAY = "__array__"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


# -- nested state <-> JSON + arrays ---------------------------------------------------------
def _pack(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able copy of ``value`` with every array moved to ``arrays`` under a path-like key."""
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {_ARRAY: key}
    if isinstance(value, dict):
        return {str(k): _pack(v, f"{key}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pack(v, f"{key}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise InputError(
        f"cannot save a {type(value).__name__} ({key}) in a checkpoint; "
        "state_dict() must return numbers, strings, lists, dicts and arrays"
    )


def _unpack(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return arrays[value[_ARRAY]]
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays) for v in value]
    return value


def _normalized(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


# -- random generators --------------------------------------------------------------------
def _holds_layers(obj: Any) -> bool:
    from .layers.base import Layer

    return isinstance(obj, Layer) or isinstance(getattr(obj, "layers", None), list)


def find_generators(model: Any) -> dict[str, np.random.Generator]:
    """Every Generator a model or its layers keep, by attribute path (``"layers.3.rng"``)."""
    found: dict[str, np.random.Generator] = {}

    def visit(obj: Any, prefix: str, depth: int) -> None:
        if depth > 8 or not hasattr(obj, "__dict__"):
            return
        for attr, value in vars(obj).items():
            path = f"{prefix}{attr}"
            if isinstance(value, np.random.Generator):
                found[path] = value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if _holds_layers(item):
                        visit(item, f"{path}.{i}.", depth + 1)
            elif _holds_layers(value):
                visit(value, f"{path}.", depth + 1)

    visit(model, "", 0)
    return found


def _set_path(root: Any, path: str, value: Any) -> None:
    *parts, last = path.split(".")
    obj = root
    for part in parts:
        obj = obj[int(part)] if isinstance(obj, (list, tuple)) else getattr(obj, part)
    setattr(obj, last, value)


def generator_from_state(state: dict[str, Any]) -> np.random.Generator:
    """A Generator continuing exactly from ``bit_generator.state`` (PCG64, MT19937, ...)."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ModelFileError(f"unknown bit generator {name!r} in a saved random state")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


# -- the fit settings ---------------------------------------------------------------------
def _spec(obj: Any) -> dict[str, Any] | None:
    """``{"class": name, "config": constructor arguments}`` of a loss or schedule."""
    if obj is None:
        return None
    return {"class": type(obj).__name__, "config": obj.get_config()}


def _subclass(base: type, name: str) -> type | None:
    stack = [base]
    while stack:
        cls = stack.pop()
        if cls.__name__ == name:
            return cls
        stack.extend(cls.__subclasses__())
    return None


def _rebuild(base: type, spec: dict[str, Any], what: str, path: Path) -> Any:
    cls = _subclass(base, spec.get("class", ""))
    if cls is None:
        raise InputError(
            f"{path}: the run used the {what} {spec.get('class')!r}, which this program does not "
            f"define; define it, or call fit(..., checkpoint=DIR, resume=True) with an instance"
        )
    try:
        return cls(**spec.get("config", {}))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the saved {what} cannot be rebuilt ({exc})") from None


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
    return _normalized(
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


# -- reading ------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A checkpoint read back by :func:`load_checkpoint`.

    Attributes
    ----------
    path : pathlib.Path
        The ``checkpoint.npz`` file.
    model : Sequential
        The model with the saved parameters.
    epoch : int
        Epochs completed.
    history : History
        One row per completed epoch.
    settings : dict
        The fit settings (loss, optimizer, schedule, batch size, ...; see :func:`resume`).
    state : dict
        The rest of the training state (optimizer moments, generators, position, ...).
    """

    path: Path
    model: Sequential
    epoch: int
    history: History
    settings: dict[str, Any]
    state: dict[str, Any] = field(repr=False)

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
            optimizers_mod.Optimizer,
            {
                "class": saved["class"],
                "config": {"lr": saved["initial_lr"], **saved["hyperparameters"]},
            },
            "optimizer",
            self.path,
        )
        _load_optimizer_state(optimizer, self.state["optimizer"], self.path, self.model)
        return optimizer

    def loss(self) -> losses_mod.Loss:
        return _rebuild(losses_mod.Loss, self.settings["loss"], "loss", self.path)

    def lr_schedule(self) -> schedules_mod.Schedule | None:
        spec = self.settings.get("lr_schedule")
        return (
            None if spec is None else _rebuild(schedules_mod.Schedule, spec, "schedule", self.path)
        )


def _checkpoint_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path / CHECKPOINT_FILE if path.is_dir() else path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint: a run directory (``runs/NAME``) or its ``checkpoint.npz``.

    Raises :class:`~scratchnn.serialization.ModelFileError` for a missing, corrupted,
    truncated, foreign or too new file, or a model file that holds no training state.
    """
    from .training import History

    path = _checkpoint_file(path)
    meta, arrays = read_npz(path)
    if meta.get("kind") != "checkpoint":
        raise ModelFileError(
            f"{path}: is a model file, not a training checkpoint; load it with scratchnn.load"
        )
    model = _build_model(meta, arrays, path)
    try:
        state = _unpack(meta["training"], arrays)
        _check_training_state(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: the training state is incomplete or damaged ({type(exc).__name__}: {exc}); "
            "use another checkpoint"
        ) from None
    epoch, history, settings = state["epoch"], History(state["history"]), state["settings"]
    return Checkpoint(path, model, epoch, history, settings, state)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_spec(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("class"), str)
        and isinstance(value.get("config", {}), dict)
    )


def _check_training_state(state: Any) -> None:
    """Raise ValueError naming the first field of a damaged training state."""

    def need(ok: bool, field: str, expected: str) -> None:
        if not ok:
            raise ValueError(f"{field} should be {expected}")

    need(isinstance(state, dict), "the state", "a dict")
    need(_is_int(state.get("epoch")) and state["epoch"] >= 0, "epoch", "a count")
    need(isinstance(state.get("stopped", False), bool), "stopped", "true or false")
    position = state.get("position")
    need(
        position is None
        or (
            isinstance(position, dict)
            and position.get("epoch") == state["epoch"]  # the epoch after the last complete one
            and _is_int(position.get("batch"))
            and position["batch"] >= 1
            and all(_is_number(position.get(k)) for k in ("loss_sum", "correct_sum", "seconds"))
            and isinstance(position.get("epoch_rng"), dict)
        ),
        "position",
        "null or where an epoch stopped",
    )
    history = state.get("history")
    need(
        isinstance(history, list)
        and all(
            isinstance(row, dict) and all(_is_number(v) for v in row.values()) for row in history
        ),
        "history",
        "a list of rows of numbers",
    )
    settings = state.get("settings")
    need(isinstance(settings, dict), "settings", "a dict")
    missing = [key for key in _SETTINGS if key not in settings]
    need(not missing, f"settings ({', '.join(missing)} missing)", "complete")
    need(_is_spec(settings["loss"]), "settings.loss", "a class and its config")
    need(
        settings["lr_schedule"] is None or _is_spec(settings["lr_schedule"]),
        "settings.lr_schedule",
        "null or a class and its config",
    )
    optimizer = settings["optimizer"]
    need(
        isinstance(optimizer, dict)
        and isinstance(optimizer.get("class"), str)
        and isinstance(optimizer.get("hyperparameters"), dict)
        and _is_number(optimizer.get("initial_lr")),
        "settings.optimizer",
        "a class, hyper-parameters and initial_lr",
    )
    saved = state.get("optimizer")
    need(
        isinstance(saved, dict)
        and _is_number(saved.get("initial_lr"))
        and isinstance(saved.get("state"), dict)
        and _is_int(saved["state"].get("t"))
        and saved["state"]["t"] >= 0
        and isinstance(saved["state"].get("state"), dict)
        and all(
            isinstance(arrays, dict)
            and all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays.values())
            for arrays in saved["state"]["state"].values()
        )
        and isinstance(saved["state"].get("hyperparameters", {}), dict),
        "optimizer",
        "a step counter and float arrays",
    )
    generators, owners = state.get("generators"), state.get("generator_owners")
    need(
        isinstance(generators, list) and all(isinstance(g, dict) for g in generators),
        "generators",
        "a list of states",
    )
    need(
        isinstance(owners, dict)
        and all(_is_int(i) and 0 <= i < len(generators) for i in owners.values()),
        "generator_owners",
        "indices into generators",
    )
    need(isinstance(state.get("split_rng"), dict), "split_rng", "a generator state")
    need(isinstance(state.get("data"), str), "data", "a fingerprint")
    callbacks = state.get("callbacks", [])
    need(
        isinstance(callbacks, list)
        and all(isinstance(c, dict) and isinstance(c.get("state", {}), dict) for c in callbacks),
        "callbacks",
        "a list of states",
    )


def _load_optimizer_state(
    optimizer: optimizers_mod.Optimizer, saved: dict[str, Any], path: Path, model: Any
) -> None:
    shapes = {name: param.shape for name, param, _ in model.parameters()}
    for name, arrays in saved["state"]["state"].items():
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


# -- resume in one call -------------------------------------------------------------------
def resume(
    directory: str | os.PathLike[str],
    X: Any,
    y: Any,
    *,
    epochs: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    checkpoint_every: int | None = None,
) -> tuple[Sequential, History]:
    """Continue the run saved in ``directory`` until ``epochs`` epochs in total.

    The model, optimizer, loss, schedule and every fit setting come from the checkpoint;
    pass the same data (and validation data) as the run was started with. ``epochs``
    defaults to the total the run was started with. Returns ``(model, history)``; the
    checkpoint keeps being updated in ``directory``.

    Raises
    ------
    ModelFileError
        No readable checkpoint in ``directory``.
    InputError
        Different data, or ``epochs`` smaller than the epochs already done.
    """
    from .training import fit

    checkpoint = load_checkpoint(directory)
    settings = checkpoint.settings
    epochs = settings.get("epochs") if epochs is None else epochs
    history = fit(
        checkpoint.model,
        X,
        y,
        loss=checkpoint.loss(),
        optimizer=checkpoint.optimizer(),
        lr_schedule=checkpoint.lr_schedule(),
        epochs=epochs,
        batch_size=settings["batch_size"],
        validation_data=validation_data,
        validation_split=settings["validation_split"],
        shuffle=settings["shuffle"],
        clip_norm=settings["clip_norm"],
        callbacks=callbacks,
        verbose=verbose,
        checkpoint=checkpoint.directory,
        checkpoint_every=settings.get("checkpoint_every", 1)
        if checkpoint_every is None
        else checkpoint_every,
        resume=checkpoint,
    )
    return checkpoint.model, history
