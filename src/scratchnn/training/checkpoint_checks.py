"""Validation of a checkpoint's training state: every field read from a file is checked.

A checkpoint is untrusted input (a file can be damaged or edited), so before a run is
resumed from it :func:`check_training_state` checks the type and range of every field and
raises ``ValueError`` naming the first one that is wrong; the reader turns that into a
one-line :class:`~scratchnn.errors.ModelFileError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_training_state"]

#: The fit settings every checkpoint records.
SETTINGS = ("loss", "optimizer", "lr_schedule", "batch_size", "shuffle", "validation_split")
SETTINGS += ("clip_norm", "epochs")


def _is_order(value: Any) -> bool:
    """A 1-D integer array: the order of an epoch (checked against the data on resume)."""
    return isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu"


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


#: The largest step counter accepted: beyond 2^53 it is no longer exact as a float.
MAX_STEPS = 2**53


def _is_plain(value: Any) -> bool:
    """A hyper-parameter: a number, a flag, a name or null (never a container)."""
    return value is None or isinstance(value, (bool, int, float, str))


def _is_generator(value: Any) -> bool:
    """A bit generator's state as ``bit_generator.state`` gives it, every integer in range.

    NumPy raises OverflowError (not ValueError) for a state outside its integer types, and
    accepts a ``has_uint32`` of 5; both are checked here, before the state is set.
    """
    if not isinstance(value, dict) or not isinstance(value.get("bit_generator"), str):
        return False
    if not isinstance(value.get("state"), dict):
        return False
    if value.get("has_uint32", 0) not in (0, 1) or isinstance(value.get("has_uint32"), bool):
        return False
    if not (_is_int(value.get("uinteger", 0)) and 0 <= value.get("uinteger", 0) < 2**32):
        return False

    def in_range(item: Any) -> bool:
        if isinstance(item, dict):
            return all(in_range(v) for v in item.values())
        if isinstance(item, list):
            return all(in_range(v) for v in item)
        if isinstance(item, np.ndarray):
            return item.dtype.kind in "iu"
        return (_is_int(item) and 0 <= item < 2**128) or isinstance(item, str)

    return in_range(value["state"])


def check_training_state(state: Any) -> None:
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
            and (
                _is_order(position.get("order"))  # format 2: the epoch's order itself
                or isinstance(position.get("epoch_rng"), dict)  # format 1: what drew it
            )
            and isinstance(position.get("term_sums", {}), dict)
            and all(
                isinstance(k, str) and _is_number(v)
                for k, v in position.get("term_sums", {}).items()
            )
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
    missing = [key for key in SETTINGS if key not in settings]
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
        and 0 <= saved["state"]["t"] <= MAX_STEPS
        and isinstance(saved["state"].get("state"), dict)
        and all(
            isinstance(arrays, dict)
            and all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays.values())
            for arrays in saved["state"]["state"].values()
        )
        and isinstance(saved["state"].get("hyperparameters", {}), dict),
        "optimizer",
        "a step counter (0 to 2^53) and float arrays",
    )
    hyper = saved["state"].get("hyperparameters", {})
    need(
        all(isinstance(k, str) and _is_plain(v) for k, v in hyper.items()),
        "optimizer.hyperparameters",
        "names and numbers",
    )
    generators, owners = state.get("generators"), state.get("generator_owners")
    need(
        isinstance(generators, list) and all(_is_generator(g) for g in generators),
        "generators",
        "a list of generator states",
    )
    need(
        isinstance(owners, dict)
        and all(_is_int(i) and 0 <= i < len(generators) for i in owners.values()),
        "generator_owners",
        "indices into generators",
    )
    need(_is_generator(state.get("split_rng")), "split_rng", "a generator state")
    if position is not None and "epoch_rng" in position:
        need(_is_generator(position["epoch_rng"]), "position.epoch_rng", "a generator state")
    need(isinstance(state.get("data"), str), "data", "a fingerprint")
    callbacks = state.get("callbacks", [])
    need(
        isinstance(callbacks, list)
        and all(isinstance(c, dict) and isinstance(c.get("state", {}), dict) for c in callbacks),
        "callbacks",
        "a list of states",
    )
