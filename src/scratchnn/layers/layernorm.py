"""Per-example normalisation over the last axis: :class:`LayerNorm` and :class:`RMSNorm`.

Unlike BatchNorm, the statistics are taken over the ``D`` features of *one* example (one
token of a sequence), so there are no running statistics, training and evaluation behave
the same, and any leading shape works: ``(N, D)``, ``(N, T, D)``, ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive, reserve
from ..errors import InputError, ShapeError
from .base import Layer, format_shape, sum_rows

__all__ = ["LayerNorm", "RMSNorm"]


def _last_axis_size(value: Any, cls: str, name: str) -> int:
    """An int, or a one-element tuple/list like PyTorch's ``normalized_shape=(D,)``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise InputError(
                f"{cls} normalises over the last axis only; pass {name} as one int, got {value!r}"
            )
        value = value[0]
    check_positive(value, f"{cls} {name}", integer=True)
    return int(value)


class _LastAxisNorm(Layer):
    """What LayerNorm and RMSNorm share: the ``γ``/``β`` parameters, shape checks, ``dγ, dβ``."""

    def __init__(self, size: int, elementwise_affine: bool, bias: bool, dtype: Any) -> None:
        super().__init__()
        self.elementwise_affine = bool(elementwise_affine)
        self.size = size
        if self.elementwise_affine:
            reserve((size,), "a LayerNorm scale")
            self.params["gamma"] = np.ones(size, dtype=dtype)
            if bias:
                self.params["beta"] = np.zeros(size, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._Xhat: np.ndarray | None = None
        self._inv_scale: np.ndarray | None = None

    def _name(self) -> str:
        return f"{type(self).__name__}({self.size})"

    def _check(self, X: np.ndarray) -> None:
        if X.ndim < 1 or X.shape[-1] != self.size:
            raise ShapeError(
                f"{self._name()} got input of shape {X.shape}; expected (..., {self.size})"
            )

    def _affine(self, Xhat: np.ndarray) -> np.ndarray:
        """``Y = γ X̂ + β`` (or ``X̂`` itself without affine parameters)."""
        if not self.elementwise_affine:
            return Xhat.copy()  # a new array: the caller may modify Y, backward needs X̂
        Y = Xhat * self.params["gamma"]
        if "beta" in self.params:
            Y += self.params["beta"]
        return Y

    def _affine_backward(self, dY: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Set ``dγ, dβ``; return ``(X̂, dX̂)`` flattened to rows ``(M, D)``, M = all positions."""
        Xhat = self._cached("_Xhat")
        if dY.shape != Xhat.shape:
            raise ShapeError(
                f"{type(self).__name__}.backward got dY of shape {dY.shape}; expected {Xhat.shape}"
            )
        Xhat, dY = Xhat.reshape(-1, self.size), dY.reshape(-1, self.size)
        if not self.elementwise_affine:
            return Xhat, dY  # dX̂ = dY
        sum_rows(dY * Xhat, out=self.grads["gamma"])  # dγ = Σ dY ⊙ X̂
        if "beta" in self.params:
            sum_rows(dY, out=self.grads["beta"])  # dβ = Σ dY
        return Xhat, dY * self.params["gamma"]  # dX̂ = dY γ

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if not input_shape or input_shape[-1] not in (None, self.size):
            raise ShapeError(
                f"{self._name()} cannot follow an output of shape {format_shape(input_shape)}: it "
                f"expects (..., {self.size}); make the size match the previous layer's features"
            )
        return input_shape


class LayerNorm(_LastAxisNorm):
    r"""Layer normalisation (Ba, Kiros & Hinton, 2016) over the last axis, like ``nn.LayerNorm``.

    Input shape ``(..., D)``; output the same shape.

    Parameters
    ----------
    normalized_shape : int
        ``D``, the size of the last axis (a one-element tuple is accepted, as in PyTorch;
        normalising over several trailing axes is not supported).
    eps : float
        ``ε`` added to the variance (PyTorch's default, 1e-5).
    elementwise_affine : bool
        Learn the per-feature scale ``γ`` (ones) and shift ``β`` (zeros).
    bias : bool
        Learn ``β`` (only with ``elementwise_affine``).
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``gamma`` and ``beta``, shape ``(D,)``, as in BatchNorm (``weight`` and ``bias``
        in PyTorch).

    Math
    ----
    For each example (each row ``x`` of ``D`` features); ``⟨·⟩`` is the mean over the ``D``
    features and ``σ = √(⟨(x - μ)²⟩ + ε)``::

        forward   μ  = ⟨x⟩                σ² = ⟨(x - μ)²⟩           (biased: divides by D)
                  X̂  = (x - μ) / σ
                  Y  = γ X̂ + β
        backward  dγ = Σ dY ⊙ X̂           dβ = Σ dY                 (sums over every position)
                  dX̂ = dY γ
                  dX = (dX̂ - ⟨dX̂⟩ - X̂ ⟨dX̂ ⊙ X̂⟩) / σ                (*)

    (*) Differentiating ``X̂_i = (x_i - μ)/σ`` with ``∂μ/∂x_j = 1/D`` and
    ``∂σ/∂x_j = X̂_j / D`` gives ``∂X̂_i/∂x_j = (δ_ij - 1/D - X̂_i X̂_j / D) / σ``; contracting
    with ``dX̂_i`` over ``i`` gives (*): the same formula as BatchNorm's, over the features
    of one example instead of one feature over the batch.

    Examples
    --------
    >>> import numpy as np
    >>> ln = LayerNorm(3, dtype=np.float64)
    >>> ln.forward(np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]])).round(3)
    array([[-1.225,  0.   ,  1.225],
           [-0.707, -0.707,  1.414]])
    """

    def __init__(
        self,
        normalized_shape: int,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        size = _last_axis_size(normalized_shape, "LayerNorm", "normalized_shape")
        check_positive(eps, "LayerNorm eps")
        super().__init__(size, elementwise_affine, bias, dtype)
        self.eps = float(eps)
        self.bias = bool(bias)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._check(X)
        centred = X - X.mean(axis=-1, keepdims=True)  # x - μ
        var = np.mean(centred * centred, axis=-1, keepdims=True)  # σ² (biased, as in torch)
        self._inv_scale = 1.0 / np.sqrt(var + self.eps)  # 1/σ, shape (..., 1)
        self._Xhat = centred * self._inv_scale  # X̂ = (x - μ) / σ
        return self._affine(self._Xhat)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Xhat, dXhat = self._affine_backward(dY)
        inv_sigma = self._cached("_inv_scale").reshape(-1, 1)
        mean_dXhat = dXhat.mean(axis=1, keepdims=True)  # ⟨dX̂⟩
        mean_dXhat_Xhat = np.mean(dXhat * Xhat, axis=1, keepdims=True)  # ⟨dX̂ ⊙ X̂⟩
        dX = (dXhat - mean_dXhat - Xhat * mean_dXhat_Xhat) * inv_sigma  # (*)
        return dX.reshape(dY.shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": self.size,
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias,
        }


class RMSNorm(_LastAxisNorm):
    r"""Root-mean-square normalisation (Zhang & Sennrich, 2019) over the last axis, like ``nn.RMSNorm``.

    LayerNorm without the centring and the shift: each example is divided by its RMS, so
    only its length, not its mean, is normalised. Input ``(..., D)``; output the same shape.

    Parameters
    ----------
    dim : int
        ``D``, the size of the last axis.
    eps : float or None
        ``ε`` added to the mean square. ``None`` (PyTorch's default) uses the machine epsilon
        of the input's dtype, ``np.finfo(X.dtype).eps``, as ``torch.finfo(x.dtype).eps``.
    elementwise_affine : bool
        Learn the per-feature scale ``γ`` (ones).
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``gamma``, shape ``(D,)`` (``weight`` in PyTorch).

    Math
    ----
    For each example ``x`` of ``D`` features, ``⟨·⟩`` the mean over them::

        forward   r  = √(⟨x²⟩ + ε)
                  X̂  = x / r
                  Y  = γ X̂
        backward  dγ = Σ dY ⊙ X̂                                     (sum over every position)
                  dX̂ = dY γ
                  dX = (dX̂ - X̂ ⟨dX̂ ⊙ X̂⟩) / r                        (*)

    (*) ``∂r/∂x_j = x_j / (D r) = X̂_j / D``, so ``∂X̂_i/∂x_j = (δ_ij - X̂_i X̂_j / D) / r``;
    contracting with ``dX̂_i``: LayerNorm's formula without the ``⟨dX̂⟩`` term, since no
    mean was subtracted.

    Examples
    --------
    >>> import numpy as np
    >>> RMSNorm(2, dtype=np.float64).forward(np.array([[3.0, 4.0]])).round(4)  # RMS = √12.5
    array([[0.8485, 1.1314]])
    """

    def __init__(
        self,
        dim: int,
        eps: float | None = None,
        elementwise_affine: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        size = _last_axis_size(dim, "RMSNorm", "dim")
        if eps is not None:
            check_positive(eps, "RMSNorm eps")
        super().__init__(size, elementwise_affine, False, dtype)
        self.eps = None if eps is None else float(eps)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._check(X)
        eps = float(np.finfo(X.dtype).eps) if self.eps is None else self.eps
        self._inv_scale = 1.0 / np.sqrt(np.mean(X * X, axis=-1, keepdims=True) + eps)  # 1/r
        self._Xhat = X * self._inv_scale  # X̂ = x / r
        return self._affine(self._Xhat)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Xhat, dXhat = self._affine_backward(dY)
        inv_r = self._cached("_inv_scale").reshape(-1, 1)
        mean_dXhat_Xhat = np.mean(dXhat * Xhat, axis=1, keepdims=True)  # ⟨dX̂ ⊙ X̂⟩
        dX = (dXhat - Xhat * mean_dXhat_Xhat) * inv_r  # (*)
        return dX.reshape(dY.shape)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.size, "eps": self.eps, "elementwise_affine": self.elementwise_affine}
