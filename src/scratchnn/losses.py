"""Losses: ``value, dY = loss(Y, T)`` with ``value`` a batch mean and ``dY = ∂value/∂Y``.

The batch mean puts ``1/N`` inside the gradient, so the optimizers see the gradient of
the average loss, as in PyTorch (``reduction="mean"``) and cs231n. The numerically stable
fused paths take *logits* and say so in their names: :class:`SoftmaxCrossEntropy` and
:class:`BCEWithLogits`. :class:`CrossEntropy` on probabilities exists to show why they
are needed.

==========================  ===================================================  ================================
loss                        value                                                gradient
==========================  ===================================================  ================================
``SoftmaxCrossEntropy``     ``mean_n [ logΣ_c e^{Z_nc} - Z_{n,y_n} ]``           ``(softmax(Z) - onehot(y)) / N``
``BCEWithLogits``           ``mean [ max(Z,0) - Z T + log(1 + e^{-|Z|}) ]``      ``(σ(Z) - T) / count``
``MSE``                     ``mean [ (Y - T)² ]``                                ``2 (Y - T) / count``
``GaussianKL``              ``mean_n ½ Σ_j (e^{lv} + μ² - 1 - lv)``              ``(μ/N, ½(e^{lv} - 1)/N)``
==========================  ===================================================  ================================
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._validation import as_array, as_float_targets, check_labels
from .errors import InputError, ShapeError
from .registry import LOSSES

__all__ = [
    "MSE",
    "BCEWithLogits",
    "CrossEntropy",
    "GaussianKL",
    "Loss",
    "SoftmaxCrossEntropy",
    "get",
    "one_hot",
]

_REDUCTIONS = ("mean", "batchmean", "sum")


def one_hot(labels: np.ndarray, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Rows of the identity: ``one_hot(y, C)[n, c] = 1`` if ``y[n] == c`` else 0.

    >>> one_hot(np.array([0, 2]), 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(labels)
    labels = check_labels(labels, len(labels) if labels.ndim else 0, num_classes, name="labels")
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


class Loss:
    """Base class: ``value, dY = loss(Y, T)``.

    Subclasses implement :meth:`__call__`; :meth:`prepare_target` validates a whole target
    array once at the boundary of ``fit``/``evaluate``, and :meth:`accuracy` says how often
    the predictions are right (``None`` for regression losses).
    """

    #: True if :meth:`accuracy` is meaningful.
    is_classification: bool = False
    #: Short names this loss is also registered under (``"ce"``).
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LOSSES.register(cls, cls.__dict__.get("aliases", ()))

    def __call__(self, Y: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def prepare_target(
        self, T: Any, n_examples: int, n_outputs: int | None, dtype: Any
    ) -> np.ndarray:
        """Validate and convert the targets for ``n_examples`` predictions of ``n_outputs``."""
        raise NotImplementedError

    def accuracy(self, Y: np.ndarray, T: np.ndarray) -> float | None:
        """Fraction of correct predictions, or ``None`` if the loss is not a classifier's."""
        return None

    def terms(self) -> dict[str, float]:
        """Named parts of the last value (batch means), which ``fit`` records in the History.

        Empty for a single-term loss; a VAE's negative ELBO returns ``{"recon", "kl"}``.
        """
        return {}

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_same_rows(Y: np.ndarray, T: np.ndarray) -> None:
    if Y.shape[0] != T.shape[0]:
        raise ShapeError(f"predictions have {Y.shape[0]} rows but targets have {T.shape[0]}")


def _token_rows(Z: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequence outputs ``(N, T, C)`` as ``N·T`` rows ``(N·T, C)``, their targets to match.

    Every token is one example of the 2-D loss, so its mean (and the ``1/N`` in its
    gradient) runs over all ``N·T`` tokens. Targets are labels ``(N, T)`` or probabilities
    ``(N, T, C)``.
    """
    if T.shape not in (Z.shape[:-1], Z.shape):
        raise ShapeError(
            f"targets of shape {T.shape} do not match sequence outputs {Z.shape}; "
            f"pass labels {Z.shape[:-1]} or probabilities {Z.shape}"
        )
    C = Z.shape[-1]
    return Z.reshape(-1, C), T.reshape(-1) if T.ndim < Z.ndim else T.reshape(-1, C)


def _elementwise_targets(Y: np.ndarray, T: np.ndarray, what: str) -> np.ndarray:
    """``T`` in the shape of ``Y`` (one target per output), or a ShapeError naming ``what``."""
    _check_same_rows(Y, T)
    T = T.reshape(Y.shape) if T.size == Y.size else T
    if T.shape != Y.shape:
        raise ShapeError(f"targets of shape {T.shape} do not match {what} {Y.shape}")
    return T


class SoftmaxCrossEntropy(Loss):
    r"""Softmax cross-entropy computed from logits, the stable fused path for classifiers.

    Targets are integer labels ``y`` of shape ``(N,)`` or class probabilities ``T`` of shape
    ``(N, C)`` (one-hot or soft labels whose rows sum to 1).

    Sequence logits ``(N, T, C)`` (a language model's, ``C`` the vocabulary) take integer
    labels ``(N, T)`` or probabilities ``(N, T, C)``: each of the ``N·T`` tokens counts as
    one row, so the value is the mean over all tokens and the gradient
    ``(softmax(Z) - onehot(y)) / (N·T)``. For :meth:`prepare_target`, a 2-D target of
    integer dtype is read as labels ``(N, T)`` and one of float dtype as probabilities
    ``(N, C)``.

    Math
    ----
    With ``m_n = max_c Z_nc`` (subtracting it changes nothing mathematically and keeps
    ``exp`` from overflowing: the log-sum-exp trick)::

        value = (1/N) Σ_n [ m_n + log Σ_c exp(Z_nc - m_n) - Σ_c T_nc Z_nc ]
        dZ    = (softmax(Z) - T) / N          the fused delta of BP1 for softmax + CE

    Examples
    --------
    >>> loss = SoftmaxCrossEntropy()
    >>> value, dZ = loss(np.zeros((2, 10)), np.array([3, 7]))
    >>> round(value, 6) == round(float(np.log(10)), 6)
    True
    >>> dZ.shape
    (2, 10)
    """

    aliases = ("ce", "cross_entropy", "softmax_cross_entropy")

    is_classification = True

    def __call__(self, Z: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        _check_same_rows(Z, T)
        if Z.ndim > 2:  # sequence logits: the same loss over the N·T token rows
            value, dZ = self(*_token_rows(Z, T))
            return value, dZ.reshape(Z.shape)
        N = Z.shape[0]
        shifted = Z - Z.max(axis=1, keepdims=True)
        E = np.exp(shifted)
        sum_E = E.sum(axis=1, keepdims=True)
        log_sum_E = np.log(sum_E)
        S = E
        S /= sum_E  # softmax(Z), reusing the exp buffer
        if T.ndim == 1:
            rows = np.arange(N)
            value = float(np.mean(log_sum_E[:, 0] - shifted[rows, T]))
            dZ = S
            dZ[rows, T] -= 1  # softmax(Z) - onehot(y)
        else:
            if T.shape != Z.shape:
                raise ShapeError(f"targets of shape {T.shape} do not match logits {Z.shape}")
            T = T.astype(Z.dtype, copy=False)  # integer one-hot rows must not promote dZ
            value = float(np.sum(T * (log_sum_E - shifted)) / N)
            dZ = S * T.sum(axis=1, keepdims=True) - T  # = softmax(Z) - T when rows sum to 1
        dZ /= N
        return value, dZ

    def prepare_target(self, T, n_examples, n_outputs, dtype):
        T = as_array(T, "y")
        if T.ndim == 2 and T.dtype.kind in "iu":  # one label per token of a sequence (N, T)
            if T.shape[0] != n_examples:
                raise ShapeError(
                    f"X has {n_examples} sequences but the targets have {T.shape[0]}; they must match"
                )
            return check_labels(T.reshape(-1), T.size, n_outputs).reshape(T.shape)
        if T.ndim == 2:
            if T.shape[0] != n_examples:
                raise ShapeError(
                    f"X has {n_examples} examples but the targets have {T.shape[0]}; they must match"
                )
            if n_outputs is not None and T.shape[1] != n_outputs:
                raise ShapeError(
                    f"targets have {T.shape[1]} columns but the model has {n_outputs} outputs"
                )
            T = as_float_targets(T, dtype, "target probabilities")
            if (T < 0).any():
                raise InputError("target probabilities must be non-negative")
            return T
        return check_labels(T, n_examples, n_outputs)

    def accuracy(self, Z: np.ndarray, T: np.ndarray) -> float:
        """Fraction of rows (tokens, for sequence logits) whose largest logit is the label."""
        labels = T if T.ndim < Z.ndim else T.argmax(axis=-1)
        return float(np.mean(Z.argmax(axis=-1) == labels))


class BCEWithLogits(Loss):
    r"""Binary cross-entropy from logits, stable for any logit (±1000 included).

    For binary classification use one output unit with targets of shape ``(N,)`` or
    ``(N, 1)``; for multi-label problems one unit per label with targets ``(N, K)`` in [0, 1].

    Parameters
    ----------
    reduction : {"mean", "batchmean", "sum"}
        ``"mean"`` averages over every element (PyTorch's default); ``"batchmean"`` sums over
        the features of an example and averages over the batch (what a VAE's likelihood
        needs: nats per example); ``"sum"`` sums everything.

    Math
    ----
    ``-[t log σ(z) + (1-t) log(1-σ(z))]`` rewritten so no ``exp`` can overflow::

        ℓ(z, t) = max(z, 0) - z t + log(1 + exp(-|z|))
        ∂ℓ/∂z   = σ(z) - t,     σ(z) = ½ (1 + tanh(z/2))

    The tanh form of the logistic function is exact, bounded for any z, and one
    transcendental pass over the array (the form with ``exp(-|z|)`` needs a branch per entry).

    >>> value, dZ = BCEWithLogits()(np.array([[1000.0], [-1000.0]]), np.array([1, 0]))
    >>> value, dZ.ravel().tolist()
    (0.0, [0.0, 0.0])
    """

    aliases = ("bce", "bce_with_logits")

    is_classification = True

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise InputError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def __call__(self, Z: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        T = _elementwise_targets(Z, T, "logits")
        # In-place ufuncs: one large VAE batch (128 x 784) is evaluated ~470 times an epoch.
        elementwise = np.abs(Z)
        np.negative(elementwise, out=elementwise)
        np.exp(elementwise, out=elementwise)
        np.log1p(elementwise, out=elementwise)  # log(1 + exp(-|z|))
        elementwise += np.maximum(Z, 0)
        elementwise -= Z * T  # ℓ(z, t)
        dZ = np.multiply(Z, 0.5)
        np.tanh(dZ, out=dZ)
        dZ *= 0.5
        dZ += 0.5  # σ(z) = ½ (1 + tanh(z/2))
        dZ -= T  # ∂ℓ/∂z = σ(z) - t
        scale = _reduction_scale(self.reduction, Z)
        dZ *= scale
        return float(elementwise.sum() * scale), dZ

    def prepare_target(self, T, n_examples, n_outputs, dtype):
        T = as_array(T, "y")
        if T.ndim == 0 or T.shape[0] != n_examples:
            raise ShapeError(
                f"X has {n_examples} examples but the targets have shape {T.shape}; they must match"
            )
        if T.ndim == 1:
            T = T.reshape(-1, 1)
        if T.ndim != 2 or (n_outputs is not None and T.shape[1] != n_outputs):
            raise ShapeError(
                f"targets have shape {T.shape} but the model has {n_outputs} outputs; "
                f"pass (N,) or (N, {n_outputs}) targets"
            )
        T = as_float_targets(T, dtype, "BCE targets")
        if (T < 0).any() or (T > 1).any():
            raise InputError("BCE targets must lie in [0, 1] (binary labels 0/1 or probabilities)")
        return T

    def accuracy(self, Z: np.ndarray, T: np.ndarray) -> float:
        T = T.reshape(Z.shape)
        return float(np.mean((Z > 0) == (T > 0.5)))

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}


def _reduction_scale(reduction: str, Y: np.ndarray) -> float:
    if reduction == "mean":
        return 1.0 / Y.size
    if reduction == "batchmean":
        return 1.0 / Y.shape[0]
    return 1.0


class MSE(Loss):
    r"""Mean squared error for regression.

    Parameters
    ----------
    reduction : {"mean", "batchmean", "sum"}
        As in :class:`BCEWithLogits`; ``"mean"`` matches PyTorch's ``nn.MSELoss``.

    Math
    ----
    ::

        value = mean (Y - T)²        dY = 2 (Y - T) / count

    >>> MSE()(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))[0]
    2.5
    """

    aliases = ("mse",)

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise InputError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def __call__(self, Y: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        T = _elementwise_targets(Y, T, "predictions")
        diff = Y - T
        scale = _reduction_scale(self.reduction, Y)
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


class CrossEntropy(Loss):
    r"""Cross-entropy on *probabilities* (after a Softmax layer): the unstable path, for teaching.

    ``log`` of a probability that rounded to 0 is ``-inf``, so probabilities are clipped to
    ``[eps, 1]``; the clipped region has zero gradient and the loss saturates at ``-log(eps)``.
    Use :class:`SoftmaxCrossEntropy` on logits instead: same mathematics, no clipping.

    Math
    ----
    ::

        value = -(1/N) Σ_n log P_{n, y_n}        dP = -onehot(y) / (N · P)

    >>> round(CrossEntropy()(np.array([[0.5, 0.5]]), np.array([0]))[0], 4)
    0.6931
    """

    aliases = ("prob_cross_entropy",)

    is_classification = True

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = float(eps)

    def __call__(self, P: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        _check_same_rows(P, T)
        if P.ndim > 2:  # sequence probabilities: the same loss over the N·T token rows
            value, dP = self(*_token_rows(P, T))
            return value, dP.reshape(P.shape)
        N, C = P.shape
        if T.ndim == 1:
            T = np.eye(C, dtype=P.dtype)[T]
        clipped = np.clip(P, self.eps, 1.0)
        value = float(-np.sum(T * np.log(clipped)) / N)
        dP = -T / clipped / N
        dP[(P < self.eps) | (P > 1.0)] = 0  # the clip's own derivative
        return value, dP

    prepare_target = SoftmaxCrossEntropy.prepare_target
    accuracy = SoftmaxCrossEntropy.accuracy

    def get_config(self) -> dict[str, Any]:
        return {"eps": self.eps}


class GaussianKL:
    r"""KL divergence of N(μ, diag(exp(logvar))) from the standard normal N(0, I).

    Used by the VAE: ``value, (dmu, dlogvar) = GaussianKL()(mu, logvar)``. The value sums over
    the latent dimensions and averages over the batch (nats per example).

    Math
    ----
    With ``lv = logvar`` (so the variance is ``exp(lv)`` and the standard deviation
    ``exp(lv/2)``)::

        value    = (1/N) Σ_n ½ Σ_j ( exp(lv_nj) + μ_nj² - 1 - lv_nj )
        dμ       = μ / N
        dlogvar  = ½ (exp(lv) - 1) / N

    >>> value, (dmu, dlv) = GaussianKL()(np.zeros((4, 2)), np.zeros((4, 2)))
    >>> value, float(abs(dmu).max()), float(abs(dlv).max())
    (0.0, 0.0, 0.0)
    """

    def __call__(
        self, mu: np.ndarray, logvar: np.ndarray
    ) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        if mu.shape != logvar.shape:
            raise ShapeError(f"mu {mu.shape} and logvar {logvar.shape} must have the same shape")
        N = mu.shape[0]
        var = np.exp(logvar)
        value = float(0.5 * np.sum(var + mu * mu - 1 - logvar) / N)
        return value, (mu / N, 0.5 * (var - 1) / N)

    def __repr__(self) -> str:
        return "GaussianKL()"


def get(name: str | Loss) -> Loss:
    """A loss from its name (``"ce"``, ``"bce"``, ``"mse"``) or a :class:`Loss` unchanged."""
    if isinstance(name, Loss):
        return name
    return LOSSES.create(str(name))
