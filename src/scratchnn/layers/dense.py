"""The fully connected layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers
from .._validation import as_generator
from ..errors import InputError, ShapeError
from .base import Layer, sum_rows

__all__ = ["Dense"]


class Dense(Layer):
    r"""Fully connected layer ``Y = X @ W.T + b``.

    Input shape ``(N, in_features)``; output shape ``(N, out_features)``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes. ``W`` has shape ``(out_features, in_features)`` as in
        PyTorch's ``nn.Linear``, so ``W[j, k]`` is Nielsen's :math:`w_{jk}`.
    bias : bool
        Learn an additive bias ``b`` of shape ``(out_features,)``.
    init : str or callable
        Weight initialiser (see :mod:`scratchnn.initializers`); default ``"torch"``, PyTorch's
        ``nn.Linear`` default, which also draws the bias from ``U(±1/√in)``. Other initialisers
        start the bias at zero. ``initializers.default_for(activation)`` gives the usual choice.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights. ``None`` draws fresh entropy (not reproducible).
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Math
    ----
    With ``dZ = ∂L/∂Y`` for the batch (rows are examples, δ^l in Nielsen's notation)::

        forward   Z  = X @ W.T + b        z^l = w^l a^(l-1) + b^l
        backward  dW = dZ.T @ X           ∂C/∂w_jk = a_k^(l-1) δ_j   (BP4, summed over the batch)
                  db = dZ.sum(0)          ∂C/∂b_j  = δ_j             (BP3)
                  dX = dZ @ W             (w^l)ᵀ δ^l, first factor of BP2 for layer l-1

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(3, 2, rng=np.random.default_rng(0))
    >>> layer.params["W"].shape, layer.params["b"].shape
    ((2, 3), (2,))
    >>> layer.forward(np.ones((4, 3), dtype=np.float32)).shape
    (4, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "torch",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InputError(f"Dense {name} must be a positive integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.bias = bool(bias)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        rng = as_generator(rng)
        shape = (self.out_features, self.in_features)
        self.params["W"] = initializers.get(init)(shape, rng, dtype=dtype)
        if self.bias:
            if init == "torch":
                self.params["b"] = initializers.torch_linear(shape, rng, dtype=dtype)[:, 0].copy()
            else:
                self.params["b"] = np.zeros(self.out_features, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._X: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ShapeError(
                f"Dense({self.in_features}, {self.out_features}) got input of shape {X.shape}; "
                f"expected (N, {self.in_features})"
            )
        self._X = X
        Z = X @ self.params["W"].T
        if self.bias:
            Z += self.params["b"]
        return Z

    def param_grads(self, dZ: np.ndarray) -> None:
        """Set ``dW`` and ``db`` only: all the first layer needs, since data has no gradient."""
        X = self._cached("_X")
        np.matmul(dZ.T, X, out=self.grads["W"])  # dW = dZ.T @ X      (BP4)
        if self.bias:
            sum_rows(dZ, out=self.grads["b"])  # db = Σ_n dZ    (BP3)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        self.param_grads(dY)
        return dY @ self.params["W"]  # dX = dZ @ W                   (BP2, first factor)

    def input_shape(self) -> tuple[int | None, ...]:
        return (None, self.in_features)

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != 2 or input_shape[-1] not in (None, self.in_features):
            raise ShapeError(
                f"Dense({self.in_features}, {self.out_features}) cannot follow an output of shape "
                f"{_fmt(input_shape)}: it expects (N, {self.in_features}); "
                f"make in_features match the previous layer's output size"
            )
        return (input_shape[0], self.out_features)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "init": self.init,
        }


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
