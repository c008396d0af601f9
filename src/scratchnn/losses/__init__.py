"""Losses: ``value, dY = loss(Y, T)`` with ``value`` a batch mean and ``dY = ∂value/∂Y``.

The batch mean puts ``1/N`` inside the gradient, so the optimizers see the gradient of
the average loss, as in PyTorch (``reduction="mean"``) and cs231n. The numerically stable
fused paths take *logits* and say so in their names: :class:`~.cross_entropy.SoftmaxCrossEntropy`
and :class:`~.bce.BCEWithLogits`. :class:`~.cross_entropy.CrossEntropy` on probabilities
exists to show why they are needed.

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

from ..registry import LOSSES
from .base import Loss, one_hot
from .bce import BCEWithLogits
from .cross_entropy import CrossEntropy, SoftmaxCrossEntropy
from .kl import GaussianKL
from .mse import MSE

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


def get(name: str | Loss) -> Loss:
    """A loss from its name (``"ce"``, ``"bce"``, ``"mse"``) or a :class:`~.base.Loss` unchanged."""
    if isinstance(name, Loss):
        return name
    return LOSSES.create(str(name))
