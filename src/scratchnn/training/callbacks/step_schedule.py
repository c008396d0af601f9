"""A learning-rate schedule applied before every step, not every epoch.

``fit(lr_schedule=...)`` sets the rate once per epoch. A transformer's warm-up lasts a
hundred steps, far less than an epoch, so its schedule must move with the step:
:class:`PerStepSchedule` sets ``optimizer.lr`` before each step from the number of steps
taken so far.

That number is not kept anywhere: it is ``epoch × n_batches + batch``, read from the run's
:class:`~scratchnn.training.state.TrainState`, which a checkpoint saves (the epoch, and in
the middle of an epoch the next batch). A resumed run therefore continues with exactly the
rates of a run that was never stopped, and the callback has no state of its own to save.
"""

from __future__ import annotations

from typing import Any

from ...schedules import Schedule
from .base import Callback

__all__ = ["PerStepSchedule"]


class PerStepSchedule(Callback):
    """Set ``optimizer.lr = schedule.lr_at(step, initial_lr)`` before every training step.

    Parameters
    ----------
    schedule : Schedule
        Called with the 0-based index of the step about to be taken, such as
        :class:`~scratchnn.schedules.WarmupCosineLR` over the run's total steps. Give
        ``fit`` no ``lr_schedule`` (a constant one), whose per-epoch rate this overrides.

    The epoch's row of the History gets, as its ``lr``, the rate of the epoch's last step.

    Examples
    --------
    >>> import scratchnn as snn
    >>> from scratchnn.schedules import WarmupCosineLR
    >>> X, y = snn.datasets.circle_regions(64, seed=0)
    >>> model = snn.mlp([2, 4, 2], rng=0)
    >>> callback = PerStepSchedule(WarmupCosineLR(warmup=2, total=8))  # 2 epochs of 4 steps
    >>> history = model.fit(X, y, optimizer=snn.Adam(lr=0.1), epochs=2, batch_size=16,
    ...                     seed=0, verbose=0, callbacks=[callback])
    >>> [round(lr, 4) for lr in history["lr"]]  # the rates of steps 4 and 8 (indices 3, 7)
    [0.094, 0.016]
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._last = float("nan")

    def _set(self) -> None:
        state = self.state
        step = state.epoch * state.n_batches + state.batch  # steps already taken
        self._last = self.schedule.lr_at(step, state.optimizer.initial_lr)
        state.optimizer.lr = self._last

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._set()  # after fit's per-epoch rate, before the epoch's first (or next) step

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if batch < self.state.n_batches:  # the rate of the epoch's next step
            self._set()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        logs["lr"] = self._last
