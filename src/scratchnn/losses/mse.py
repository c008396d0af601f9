"""Mean squared error: :class:`MSE`, the loss for regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_array, as_float_targets
from ..errors import InputError, ShapeError
from .base import REDUCTIONS, Loss, elementwise_targets, reduction_scale

__all__ = ["MSE"]


class MSE(Loss):
    r"""Mean squared error for regression.

    Parameters
    ----------
    reduction : {"mean", "batchmean", "sum"}
        As in :class:`~scratchnn.losses.bce.BCEWithLogits`; ``"mean"`` matches PyTorch's
        ``nn.MSELoss``.

    Math
    ----
    ::

        value = mean (Y - T)²        dY = 2 (Y - T) / count

    >>> MSE()(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))[0]
    2.5
    """

    aliases = ("mse",)

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in REDUCTIONS:
            raise InputError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def __call__(self, Y: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        T = elementwise_targets(Y, T, "predictions")
        diff = Y - T
        scale = reduction_scale(self.reduction, Y)
        value = float(np.vdot(diff, diff) * scale)
        diff *= 2 * scale
        return value, diff

    def prepare_target(self, T, n_examples, n_outputs, dtype):
        T = as_array(T, "y")
        if T.ndim == 0 or T.shape[0] != n_examples:
            raise ShapeError(
                f"X has {n_examples} examples but the targets have shape {T.shape}; they must match"
            )
        if T.ndim == 1:
            T = T.reshape(-1, 1)
        if n_outputs is not None and T.ndim == 2 and T.shape[1] != n_outputs:
            raise ShapeError(
                f"targets have {T.shape[1]} columns but the model has {n_outputs} outputs"
            )
        return as_float_targets(T, dtype, "targets")

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}
