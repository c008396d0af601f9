"""Layers that only change an array's shape."""

from __future__ import annotations

import math

import numpy as np

from .base import Layer

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flatten everything but the batch axis: ``(N, C, H, W) -> (N, C·H·W)``.

    ``dX`` is ``dY`` reshaped back to the input's shape (a view, no copy).

    >>> import numpy as np
    >>> Flatten().forward(np.zeros((2, 1, 28, 28))).shape
    (2, 784)
    """

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        shape = self._cached("_shape")
        return dY.reshape(shape)

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))
