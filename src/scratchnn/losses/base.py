"""The :class:`Loss` base class, :func:`one_hot`, and the target checks the losses share.

A loss is called as ``value, dY = loss(Y, T)``: ``value`` a batch mean, ``dY = ∂value/∂Y``.
Every subclass joins the loss registry by being defined (under its class name and its
``aliases``), so ``loss="ce"`` and a checkpoint's ``{"class": "MSE"}`` find it.

The helpers below are the shape checks every loss makes before its arithmetic:
:func:`check_same_rows` (one target row per prediction row), :func:`elementwise_targets`
(one target per output, for BCE and MSE), :func:`token_rows` (sequence outputs
``(N, T, C)`` as ``N·T`` rows) and :func:`reduction_scale` (the ``1/count`` of a
``reduction``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_labels
from ..errors import ShapeError
from ..registry import LOSSES

__all__ = [
    "REDUCTIONS",
    "Loss",
    "check_same_rows",
    "elementwise_targets",
    "one_hot",
    "reduction_scale",
    "token_rows",
]

#: The ``reduction`` arguments of :class:`~scratchnn.losses.bce.BCEWithLogits` and :class:`~scratchnn.losses.mse.MSE`.
REDUCTIONS = ("mean", "batchmean", "sum")


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


def check_same_rows(Y: np.ndarray, T: np.ndarray) -> None:
    """Raise a ShapeError unless predictions ``Y`` and targets ``T`` have as many rows."""
    if Y.shape[0] != T.shape[0]:
        raise ShapeError(f"predictions have {Y.shape[0]} rows but targets have {T.shape[0]}")


def token_rows(Z: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def elementwise_targets(Y: np.ndarray, T: np.ndarray, what: str) -> np.ndarray:
    """``T`` in the shape of ``Y`` (one target per output), or a ShapeError naming ``what``."""
    check_same_rows(Y, T)
    T = T.reshape(Y.shape) if T.size == Y.size else T
    if T.shape != Y.shape:
        raise ShapeError(f"targets of shape {T.shape} do not match {what} {Y.shape}")
    return T


def reduction_scale(reduction: str, Y: np.ndarray) -> float:
    """The factor that turns a sum over ``Y``'s elements into the ``reduction`` asked for.

    ``1 / Y.size`` for ``"mean"``, ``1 / N`` for ``"batchmean"``, 1 for ``"sum"``; the
    gradient is multiplied by the same factor.
    """
    if reduction == "mean":
        return 1.0 / Y.size
    if reduction == "batchmean":
        return 1.0 / Y.shape[0]
    return 1.0
