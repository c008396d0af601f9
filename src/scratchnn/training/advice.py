"""Warnings for the classic mistakes of a training run, each issued once per line of code.

Not errors: the run goes on (or has finished), and the warning says what was seen and what
to do. :func:`~scratchnn.training.fit` calls :func:`check_before` once its data are checked,
and :func:`check_after` when the last epoch is done.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import warn
from ..layers.activations import Softmax
from ..losses import Loss, SoftmaxCrossEntropy
from .history import History

__all__ = ["chance_accuracy", "check_after", "check_before"]

#: A run whose final training accuracy is within this of the majority class learned nothing.
CHANCE_MARGIN = 0.01


def _last_layer(model: Any) -> Any:
    layers = getattr(model, "layers", None)
    return layers[-1] if layers else None


def check_before(model: Any, loss: Loss) -> None:
    """Before training: a ``Softmax`` layer in front of ``"ce"`` is a double softmax."""
    if isinstance(loss, SoftmaxCrossEntropy) and isinstance(_last_layer(model), Softmax):
        warn(
            'the model ends with a Softmax layer, and loss "ce" (SoftmaxCrossEntropy) applies '
            "the softmax itself: a double softmax, which squashes the gradients and learns "
            'slowly; remove the last Softmax layer ("ce" takes logits), or use '
            "loss=CrossEntropy() if you want probabilities out of the model"
        )


def chance_accuracy(T: np.ndarray) -> float | None:
    """The accuracy of always answering the most frequent class of the targets ``T``.

    ``T`` as :meth:`Loss.prepare_target` returns it: class labels ``(N,)``, one-hot or
    probability rows ``(N, C)``, or one binary column ``(N, 1)``; ``None`` for anything else
    (sequences, regression).
    """
    if T.ndim == 1 and T.dtype.kind in "iu" and T.size:
        return float(np.bincount(T).max() / T.size)
    if T.ndim == 2 and T.shape[0] and T.dtype.kind == "f":
        if T.shape[1] == 1:
            positive = float(np.mean(T[:, 0] > 0.5))
            return max(positive, 1.0 - positive)
        return float(np.bincount(T.argmax(axis=1)).max() / T.shape[0])
    return None


def check_after(history: History, T: np.ndarray, loss: Loss, lr: float) -> None:
    """After the last epoch: warn when the training accuracy is no better than chance."""
    if not loss.is_classification or not len(history):
        return
    accuracy = history.records[-1].get("accuracy", float("nan"))
    chance = chance_accuracy(T)
    if chance is None or not np.isfinite(accuracy) or chance > 0.99:
        return
    if accuracy <= chance + CHANCE_MARGIN:
        seen = (
            "training ended at chance accuracy, no better than always answering the most "
            f"frequent class ({chance:.1%} of the training data): the network learned nothing"
        )
        warn(
            f"{seen}; try a smaller learning rate (lr={lr:g} now), or check that the inputs "
            "are scaled and the labels match them",
            cli=f"{seen}; try a smaller --lr (now {lr:g})",
        )
