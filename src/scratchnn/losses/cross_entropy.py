"""Cross-entropy for classifiers: :class:`SoftmaxCrossEntropy` on logits, :class:`CrossEntropy` on probabilities.

Both compute the same mathematics. The fused path takes logits, so the log-sum-exp trick
keeps it finite for any logit and its gradient is the famous ``(softmax(Z) - onehot(y)) / N``;
the path on probabilities (after a Softmax layer) has to clip them, and exists to show why
the fused one is needed. Both treat sequence outputs ``(N, T, C)`` as ``N·T`` rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_array, as_float_targets, check_labels
from ..errors import InputError, ShapeError
from .base import Loss, check_same_rows, token_rows

__all__ = ["CrossEntropy", "SoftmaxCrossEntropy"]


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
        check_same_rows(Z, T)
        if Z.ndim > 2:  # sequence logits: the same loss over the N·T token rows
            value, dZ = self(*token_rows(Z, T))
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
                if T.shape == (N, 1):  # labels as a column: the classic y[:, None] mistake
                    raise ShapeError(
                        f"y has one column (targets of shape {T.shape} for logits {Z.shape}) "
                        "but class labels must be 1-D, one per example: pass y.ravel()"
                    )
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
                fix = (
                    ": for class labels pass y.ravel(), one per example" if T.shape[1] == 1 else ""
                )
                raise ShapeError(
                    f"targets have {T.shape[1]} columns but the model has {n_outputs} outputs{fix}"
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
        check_same_rows(P, T)
        if P.ndim > 2:  # sequence probabilities: the same loss over the N·T token rows
            value, dP = self(*token_rows(P, T))
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
