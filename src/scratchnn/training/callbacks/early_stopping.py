"""Early stopping: end training when a monitored metric stops improving."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ...errors import InputError
from .base import Callback

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A History column: ``"val_loss"`` (default), ``"val_accuracy"``, ``"loss"``, ...
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` chooses max for accuracies.
    restore_best_weights : bool
        At the end, copy back the parameters of the best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise InputError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise InputError(f"patience must be a non-negative integer, got {patience!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(float(min_delta))
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.restore_best_weights = restore_best_weights
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._best_state: dict[str, np.ndarray] | None = None

    def on_train_begin(self, logs):
        self.best, self.best_epoch, self.stopped_epoch, self._wait = None, None, None, 0
        self._best_state = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None or math.isnan(value):
            raise InputError(
                f"EarlyStopping monitors {self.monitor!r}, which this run does not record; "
                "pass validation data (validation_data or validation_split) or monitor 'loss'"
            )
        if self._improved(value):
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = self.model.state_dict()
        else:
            self._wait += 1
            if self._wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self._best_state is not None:
            self.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "wait": self._wait,
            "best_state": self._best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best_state = state["best_state"]
        if not (best_state is None or isinstance(best_state, dict)) or not (
            state["best"] is None or isinstance(state["best"], (int, float))
        ):
            raise ValueError("best and best_state must be a number and parameters, or null")
        counts = {"best_epoch": state["best_epoch"], "stopped_epoch": state["stopped_epoch"]}
        for key, value in {**counts, "wait": state["wait"]}.items():
            if not (value is None and key != "wait") and not (
                isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53
            ):
                raise ValueError(f"{key} must be a count, got {value!r}")
        if best_state is not None:
            shapes = {name: np.shape(value) for name, value in self.model.state_dict().items()}
            if set(best_state) != set(shapes) or not all(
                isinstance(value, np.ndarray) and value.shape == shapes[name]
                for name, value in best_state.items()
            ):
                raise ValueError("best_state must hold every parameter of the model, shaped")
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.stopped_epoch, self._wait = state["stopped_epoch"], state["wait"]
        self._best_state = state["best_state"]
