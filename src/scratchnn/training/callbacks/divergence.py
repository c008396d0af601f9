"""Divergence: stop with a clear message when the loss or a parameter is no longer finite."""

from __future__ import annotations

import math

import numpy as np

from ...errors import DivergenceError
from .base import Callback

__all__ = ["StopOnDivergence"]


class StopOnDivergence(Callback):
    """Raise :class:`~scratchnn.errors.DivergenceError` at the first NaN or infinite loss or
    gradient.

    Checked after every batch: the loss value, and the global gradient norm
    ``‖g‖ = √(Σ g²)`` (the one the optimizer clipped with, when ``clip_norm`` is set; else
    one pass of dot products over the gradients). After every epoch the parameters are
    checked too, so that a run never ends, or saves, with a broken model. The message
    names the epoch and the batch and suggests the fix.
    """

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        value = logs["loss"]
        what, bad = "loss", value
        if math.isfinite(value):
            what, bad = "gradient norm", self._grad_norm()
            if math.isfinite(bad):
                return
        raise self._diverged(
            f"training diverged: the {what} became {bad} at epoch {self.state.epoch + 1}, "
            f"batch {batch}"
        )

    def _grad_norm(self) -> float:
        optimizer = self.state.optimizer
        if optimizer.clip_norm is not None and optimizer.grad_norm is not None:
            return optimizer.grad_norm
        return math.sqrt(sum(float(np.vdot(g, g)) for _, _, g in self.model.parameters()))

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        for name, param, _ in self.model.parameters():
            if not np.isfinite(param).all():
                raise self._diverged(
                    f"training diverged: parameter {name} became NaN or infinite after "
                    f"epoch {epoch}"
                )

    def _diverged(self, what: str) -> DivergenceError:
        error = DivergenceError(
            f"{what}; lower the learning rate (now {self.state.lr:g}) or set clip_norm"
        )
        error.history = self.state.history
        return error
