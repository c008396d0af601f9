"""Activation functions as layers of their own, so each backward is one line.

Every activation is element-wise except :class:`Softmax`; with ``A = f(Z)`` the backward
is ``dZ = dA ⊙ f'(Z)``, Nielsen's BP2 second factor σ'(z^l). The layers here call their
input ``X`` and output ``Y`` like every other layer (``X`` = Z, ``Y`` = A in the textbook).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError
from .base import Layer

__all__ = [
    "GELU",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "sigmoid",
    "softmax",
]


def sigmoid(X: np.ndarray) -> np.ndarray:
    """Overflow-safe logistic function ``1 / (1 + exp(-X))``.

    Only ``exp(-|X|)`` is ever evaluated, which lies in ``(0, 1]``: no overflow for any input.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    E = np.exp(-np.abs(X))
    return np.where(X >= 0, 1 / (1 + E), E / (1 + E))


def softmax(X: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stabilised by subtracting the row maximum (a no-op mathematically).

    >>> softmax(np.array([[1000.0, 1000.0]]))
    array([[0.5, 0.5]])
    """
    E = np.exp(X - X.max(axis=axis, keepdims=True))
    E /= E.sum(axis=axis, keepdims=True)
    return E


class Identity(Layer):
    """``Y = X``; ``dX = dY``. A placeholder where an activation is optional."""

    aliases = ("identity", "linear")

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        return X

    def backward(self, dY: np.ndarray) -> np.ndarray:
        return dY


class ReLU(Layer):
    """Rectified linear unit.

    Math
    ----
    ::

        forward   Y  = max(X, 0)
        backward  dX = dY ⊙ [X > 0]          σ'(z) = 1 if z > 0 else 0   (BP2, second factor)

    At ``X = 0`` the derivative is taken as 0, as PyTorch does.

    >>> ReLU().forward(np.array([[-1.0, 0.0, 2.0]]))
    array([[0., 0., 2.]])
    """

    aliases = ("relu",)

    def __init__(self) -> None:
        super().__init__()
        self._Y: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        # max(X, 0) against a row of zeros, not the scalar 0: NumPy's vectorised loop for
        # maximum needs two array operands (about 3x faster than with the scalar)
        self._Y = np.maximum(X, np.zeros(X.shape[-1:], dtype=X.dtype))
        return self._Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Y = self._cached("_Y")
        dX = (Y > 0).astype(dY.dtype)  # σ'(X) = [X > 0] = [Y > 0], as 0.0/1.0
        dX *= dY  # dX = dY ⊙ σ'(X)  (float × float: faster than multiplying by booleans)
        return dX


class LeakyReLU(Layer):
    """Leaky ReLU with slope ``negative_slope`` (α) below zero.

    Math
    ----
    ::

        forward   Y  = X        if X > 0 else α X
        backward  dX = dY       if X > 0 else α dY

    >>> LeakyReLU(0.1).forward(np.array([[-1.0, 2.0]]))
    array([[-0.1,  2. ]])
    """

    aliases = ("leaky_relu",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not 0 <= negative_slope < 1:
            raise InputError(f"LeakyReLU negative_slope must be in [0, 1), got {negative_slope!r}")
        self.negative_slope = float(negative_slope)
        self._positive: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._positive = X > 0
        return np.where(self._positive, X, self.negative_slope * X)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        positive = self._cached("_positive")
        return np.where(positive, dY, self.negative_slope * dY)

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Sigmoid(Layer):
    """Logistic sigmoid, overflow-safe for any input (see :func:`sigmoid`).

    Math
    ----
    ::

        forward   Y  = σ(X) = 1 / (1 + e^(-X))
        backward  dX = dY ⊙ Y ⊙ (1 - Y)        σ'(z) = σ(z)(1 - σ(z))

    For classification prefer a linear output with :class:`~scratchnn.losses.bce.BCEWithLogits`,
    which never forms ``log σ`` from a rounded probability.
    """

    aliases = ("sigmoid",)

    def __init__(self) -> None:
        super().__init__()
        self._Y: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._Y = sigmoid(X)
        return self._Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Y = self._cached("_Y")
        return dY * Y * (1 - Y)


class Tanh(Layer):
    """Hyperbolic tangent.

    Math
    ----
    ::

        forward   Y  = tanh(X)
        backward  dX = dY ⊙ (1 - Y²)           tanh'(z) = 1 - tanh²(z)
    """

    aliases = ("tanh",)

    def __init__(self) -> None:
        super().__init__()
        self._Y: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._Y = np.tanh(X)
        return self._Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Y = self._cached("_Y")
        return dY * (1 - Y * Y)


class GELU(Layer):
    r"""Gaussian error linear unit, tanh form (Hendrycks & Gimpel, 2016), as in GPT-2.

    ``x Φ(x)`` with the normal CDF ``Φ`` replaced by its tanh approximation: this is
    ``torch.nn.functional.gelu(x, approximate="tanh")``, not PyTorch's default exact
    (erf) form, from which it differs by less than 1e-3.

    Math
    ----
    With ``k = √(2/π)`` and ``a = 0.044715``::

        forward   u  = k (X + a X³)
                  Y  = ½ X (1 + tanh u)
        backward  dX = dY ⊙ (½ (1 + tanh u) + ½ X (1 - tanh² u) k (1 + 3 a X²))
                       product rule on ½ X (1 + tanh u), with tanh' = 1 - tanh², du/dX = k (1 + 3 a X²)

    >>> GELU().forward(np.array([[-3.0, 0.0, 3.0]])).round(4)
    array([[-0.0036,  0.    ,  2.9964]])
    """

    aliases = ("gelu",)

    _K = math.sqrt(2.0 / math.pi)  # Python floats: they keep float32 arrays float32
    _A = 0.044715

    def __init__(self) -> None:
        super().__init__()
        self._X: np.ndarray | None = None
        self._tanh_u: np.ndarray | None = None

    # Both passes are written in place, one operation per line, the equation in the
    # comments: the nested expressions allocate a temporary per operation, and this in-place
    # form is 1.2× (forward) to 2.5× (backward) faster on the GPT's (512, 256) activations.
    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._X = X
        u = X * X
        u *= self._A
        u += 1
        u *= X
        u *= self._K  # u = k X (1 + a X²) = k (X + a X³)
        self._tanh_u = t = np.tanh(u, out=u)
        Y = t + 1
        Y *= X
        Y *= 0.5  # Y = ½ X (1 + tanh u)
        return Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        X, t = self._cached("_X"), self._cached("_tanh_u")
        s = X * X
        s *= 3 * self._A
        s += 1
        s *= self._K
        s *= X  # s = X k (1 + 3 a X²) = X du/dX
        dX = t * t
        np.subtract(1, dX, out=dX)
        dX *= s  # X (1 - tanh² u) du/dX
        dX += t
        dX += 1
        dX *= 0.5  # ½ (1 + tanh u) + ½ X (1 - tanh² u) du/dX
        dX *= dY
        return dX


class Softmax(Layer):
    """Softmax over the features of each row, with its true vector–Jacobian product.

    Math
    ----
    The Jacobian of one row is ``∂Y_i/∂X_j = Y_i (δ_ij - Y_j)``, so for an upstream ``dY``::

        forward   Y  = exp(X - max X) / Σ_j exp(X_j - max X)
        backward  dX = Y ⊙ (dY - (dY ⊙ Y).sum(1, keepdims=True))

    which costs O(N·C) instead of building the (N, C, C) Jacobian. For training a classifier
    use logits with :class:`~scratchnn.losses.cross_entropy.SoftmaxCrossEntropy`, whose fused
    gradient is ``(Y - onehot) / N`` and never takes the log of a rounded probability.

    >>> Softmax().forward(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """

    aliases = ("softmax",)

    def __init__(self) -> None:
        super().__init__()
        self._Y: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._Y = softmax(X, axis=-1)
        return self._Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Y = self._cached("_Y")
        return Y * (dY - (dY * Y).sum(axis=-1, keepdims=True))
