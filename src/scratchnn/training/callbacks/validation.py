"""Validation measured by a function of your own, at the end of every epoch.

``fit(validation_data=(X_val, y_val))`` evaluates the training loss on validation arrays.
Some numbers do not fit that mould: a language model trained on random windows of text is
compared with others on *whole* names, each read from its first character, in nats per
character, a mean over a varying number of characters per name that the per-example mean
of ``fit`` cannot weight. :class:`Validate` calls a function of the model instead and adds
what it returns to the epoch's row of the History, so that ``history.csv``, the progress
line, early stopping and the checkpoint all see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import Callback

__all__ = ["Validate"]


class Validate(Callback):
    """Add ``measure(model)`` to the History row of every epoch.

    Parameters
    ----------
    measure : callable
        ``measure(model) -> {"val_loss": value, ...}``, called after the epoch's last
        step (the model in evaluation mode is the function's business: call
        ``forward(..., training=False)``). It must be deterministic for an exact resume.

    The row passed to ``on_epoch_end`` is the History's own record, so the values land in
    it. Put this callback first: callbacks run in order, and the ones after it (early
    stopping, a progress bar given as a callback, the checkpoint) then see the values.
    ``fit``'s own progress bar runs before any callback given to it; pass ``verbose=0``
    and a :class:`~scratchnn.training.callbacks.ProgressBar` after this one to show them.

    Examples
    --------
    >>> import scratchnn as snn
    >>> X, y = snn.datasets.circle_regions(64, seed=0)
    >>> model = snn.mlp([2, 8, 2], rng=0)
    >>> check = Validate(lambda m: {"val_loss": m.evaluate(X[:16], y[:16]).loss})
    >>> history = model.fit(X, y, epochs=2, optimizer=snn.Adam(0.03), seed=0, verbose=0,
    ...                     callbacks=[check])
    >>> history["val_loss"][-1] == model.evaluate(X[:16], y[:16]).loss  # after the last epoch
    True
    """

    def __init__(self, measure: Callable[[Any], Mapping[str, float]]) -> None:
        self.measure = measure

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        logs.update({key: float(value) for key, value in self.measure(self.model).items()})
