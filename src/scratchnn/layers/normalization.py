"""Batch normalisation (Ioffe & Szegedy, 2015): :class:`BatchNorm1D` and :class:`BatchNorm2D`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import reserve
from ..errors import InputError, ShapeError
from .base import Layer, format_shape

__all__ = ["BatchNorm1D", "BatchNorm2D"]


class _BatchNorm(Layer):
    r"""Normalise each feature over the batch, then scale and shift it by learned ``γ, β``.

    Parameters
    ----------
    num_features : int
        ``D`` features (BatchNorm1D) or ``C`` channels (BatchNorm2D).
    eps : float
        ``ε`` added to the variance for stability (PyTorch's default, 1e-5).
    momentum : float
        Weight of the current batch in the running statistics (PyTorch's convention and
        default, 0.1): ``running = (1 - momentum)·running + momentum·batch``.
    dtype : numpy dtype
        Dtype of ``γ``, ``β`` and the running statistics, float32 by default.

    Attributes
    ----------
    params : ``gamma`` (``γ``, ones) and ``beta`` (``β``, zeros), shape ``(num_features,)``.
    buffers : ``running_mean`` (zeros) and ``running_var`` (ones): not trained, but saved
        and loaded with the model; and ``num_batches_tracked``, an int64 count of the
        training-mode forward passes, as PyTorch keeps it (PyTorch uses it only with
        ``momentum=None``, a cumulative average scratchnn does not offer; it is kept so that
        a state dict carries the same entries in both). Files written before the count
        existed load with it at 0.

    Math
    ----
    Statistics per feature over the ``m`` values it takes in the batch (``m = N`` for
    BatchNorm1D, ``m = N·H·W`` for BatchNorm2D); ``⟨·⟩`` is the mean over those ``m``::

        training  μ  = ⟨X⟩                σ² = ⟨(X - μ)²⟩           (biased: divides by m)
                  running_mean ← (1 - momentum)·running_mean + momentum·μ
                  running_var  ← (1 - momentum)·running_var  + momentum·σ²·m/(m - 1)  (unbiased)
                  num_batches_tracked ← num_batches_tracked + 1
        eval      μ, σ² = running_mean, running_var
        forward   X̂  = (X - μ) / √(σ² + ε)
                  Y  = γ X̂ + β
        backward  dγ = Σ dY ⊙ X̂           dβ = Σ dY                 (sums over the m values)
                  dX̂ = dY γ
        training  dX = (dX̂ - ⟨dX̂⟩ - X̂ ⟨dX̂ ⊙ X̂⟩) / √(σ² + ε)      (μ and σ² depend on X)
        eval      dX = dX̂ / √(σ² + ε)                               (constants in eval mode)

    The training-mode ``dX`` is the chain rule through ``μ`` and ``σ²``: subtracting
    ``⟨dX̂⟩`` removes the part of the gradient that would move the whole batch, and the
    ``X̂⟨dX̂ ⊙ X̂⟩`` term the part that would stretch it; both are undone by normalising.
    This is PyTorch's formula, and with its momentum convention and the unbiased running
    variance the running statistics match ``nn.BatchNorm1d``/``nn.BatchNorm2d`` exactly.
    """

    has_training_mode = True
    optional_buffers = ("num_batches_tracked",)
    #: axes the statistics are taken over; every other axis is a feature axis
    _axes: tuple[int, ...] = (0,)
    _ndim = 2

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if (
            isinstance(num_features, bool)
            or not isinstance(num_features, (int, np.integer))
            or num_features <= 0
        ):
            raise InputError(
                f"{name} num_features must be a positive integer, got {num_features!r}"
            )
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise InputError(f"{name} eps must be a positive number, got {eps!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise InputError(f"{name} momentum must be a number in [0, 1], got {momentum!r}")
        if not 0 <= momentum <= 1:
            raise InputError(f"{name} momentum must be in [0, 1], got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
        reserve((4, self.num_features), "BatchNorm parameters and statistics")
        self.params["gamma"] = np.ones(self.num_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers["running_mean"] = np.zeros(self.num_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(self.num_features, dtype=dtype)
        self.buffers["num_batches_tracked"] = np.zeros((), dtype=np.int64)
        self._Xhat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._training = True

    def _feature_shape(self) -> tuple[int, ...]:
        """Shape that broadcasts a ``(num_features,)`` vector against ``X``."""
        shape = [1] * self._ndim
        shape[1] = self.num_features
        return tuple(shape)

    def _check(self, X: np.ndarray) -> None:
        if X.ndim != self._ndim or X.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}) got input of shape {X.shape}; "
                f"expected {self._expected()}"
            )

    def _expected(self) -> str:
        return f"(N, {self.num_features})"

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._check(X)
        shape = self._feature_shape()
        if training:
            m = X.size // self.num_features
            if m < 2:
                raise ShapeError(
                    f"{type(self).__name__} needs more than one value per feature to normalise "
                    f"in training, got input of shape {X.shape}; use a batch of at least 2"
                )
            mu = X.mean(axis=self._axes)
            centred = X - mu.reshape(shape)
            var = np.mean(centred * centred, axis=self._axes)  # biased, as in the paper
            mom = self.momentum
            running_mean, running_var = self.buffers["running_mean"], self.buffers["running_var"]
            running_mean *= 1 - mom  # in place: the buffers stay the arrays state_dict shares
            running_mean += mom * mu
            running_var *= 1 - mom
            running_var += mom * var * (m / (m - 1))  # unbiased, as PyTorch keeps it
            self.buffers["num_batches_tracked"] += 1
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
            centred = X - mu.reshape(shape)
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(X.dtype, copy=False)
        Xhat = centred * inv_std.reshape(shape)  # X̂ = (X - μ) / √(σ² + ε)
        self._Xhat, self._inv_std, self._training = Xhat, inv_std, training
        return Xhat * self.params["gamma"].reshape(shape) + self.params["beta"].reshape(shape)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        Xhat = self._cached("_Xhat")
        inv_std = self._cached("_inv_std")
        shape = self._feature_shape()
        if dY.shape != Xhat.shape:
            raise ShapeError(
                f"{type(self).__name__}.backward got dY of shape {dY.shape}; expected {Xhat.shape}"
            )
        np.sum(dY * Xhat, axis=self._axes, out=self.grads["gamma"])  # dγ = Σ dY ⊙ X̂
        np.sum(dY, axis=self._axes, out=self.grads["beta"])  # dβ = Σ dY
        dXhat = dY * self.params["gamma"].reshape(shape)  # dX̂ = dY γ
        if not self._training:
            return dXhat * inv_std.reshape(shape)  # dX = dX̂ / √(σ² + ε)
        mean_dXhat = dXhat.mean(axis=self._axes).reshape(shape)  # ⟨dX̂⟩
        mean_dXhat_Xhat = np.mean(dXhat * Xhat, axis=self._axes).reshape(shape)  # ⟨dX̂ ⊙ X̂⟩
        return (dXhat - mean_dXhat - Xhat * mean_dXhat_Xhat) * inv_std.reshape(shape)

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != self._ndim or input_shape[1] not in (None, self.num_features):
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}) cannot follow an output of shape "
                f"{format_shape(input_shape)}: it expects {self._expected()}; make num_features match "
                "the previous layer's features or channels"
            )
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}


class BatchNorm1D(_BatchNorm):
    __doc__ = (
        """Batch normalisation of features ``(N, D)``, statistics per feature over the batch.

    Put it between a Dense layer and its activation (PyTorch's ``nn.BatchNorm1d`` on 2-D input).
    In training (``forward(X, training=True)``, as ``fit`` does) it normalises with the
    batch's statistics and updates the running ones; in evaluation (``predict``,
    ``evaluate``) it uses the running statistics, so an example's output does not depend on
    the rest of its batch.
    """
        + (_BatchNorm.__doc__ or "").split("\n", 1)[1]
        + """
    Examples
    --------
    >>> import numpy as np
    >>> bn = BatchNorm1D(2, dtype=np.float64)
    >>> Y = bn.forward(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> Y.round(3)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.buffers["running_mean"], bn.buffers["running_var"]
    (array([0.2, 2. ]), array([ 1.1, 20.9]))
    """
    )


class BatchNorm2D(_BatchNorm):
    __doc__ = (
        """Batch normalisation of images ``(N, C, H, W)``, statistics per channel over ``N, H, W``.

    Each channel is one feature, normalised over the batch and every pixel position, so a
    filter's response is treated the same wherever it occurs (PyTorch's ``nn.BatchNorm2d``).
    Put it between a Conv2D and its activation. Training and evaluation modes as in
    :class:`BatchNorm1D`.
    """
        + (_BatchNorm.__doc__ or "").split("\n", 1)[1]
        + """
    Examples
    --------
    >>> import numpy as np
    >>> bn = BatchNorm2D(3)
    >>> Y = bn.forward(np.random.default_rng(0).normal(5.0, 2.0, (4, 3, 8, 8)).astype(np.float32))
    >>> bool(np.allclose(Y.mean(axis=(0, 2, 3)), 0, atol=1e-5)), Y.dtype
    (True, dtype('float32'))
    """
    )
    _axes = (0, 2, 3)
    _ndim = 4

    def _expected(self) -> str:
        return f"(N, {self.num_features}, H, W)"
