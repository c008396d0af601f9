"""KL warm-up: a callback that raises the VAE's KL weight β from 0 over the first epochs."""

from __future__ import annotations

from ..._validation import check_positive
from ...training.callbacks.base import Callback
from .loss import VAELoss

__all__ = ["KLWarmup"]


class KLWarmup(Callback):
    """Raise the KL weight β linearly from 0 to its target over the first epochs.

    Epoch ``e`` (1-based) trains with ``β = target · min(1, e / warmup_epochs)``, so the
    decoder learns to use the code before the KL term starts pulling q(z|x) to the prior
    (Bowman et al. 2016; Sønderby et al. 2016). The target β is restored when training ends.

    Parameters
    ----------
    loss : VAELoss
        The loss whose ``beta`` is set; its value at construction is the target.
    warmup_epochs : int
        Epochs until β reaches its target.
    """

    def __init__(self, loss: VAELoss, warmup_epochs: int) -> None:
        check_positive(warmup_epochs, "warmup_epochs", integer=True)
        self.loss = loss
        self.warmup_epochs = warmup_epochs
        self.target = loss.beta

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        """Set ``loss.beta = target · min(1, epoch / warmup_epochs)`` before epoch ``epoch``."""
        self.loss.beta = self.target * min(1.0, epoch / self.warmup_epochs)

    def on_train_end(self, logs: dict[str, float]) -> None:
        self.loss.beta = self.target
