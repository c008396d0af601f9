"""Signals: SIGINT (Ctrl-C) and SIGTERM stop training cleanly, between two steps.

While ``fit`` trains, the two signals only set ``state.stop_signal``; the step in progress
finishes, then this callback raises :class:`~scratchnn.errors.TrainingInterrupted` (the
checkpointing callback, if any, saves first and says where). A second signal stops at
once, even in the middle of a step or a save; the checkpoint on disk is then the previous
one, never a half-written one (writes are atomic).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from ...errors import TrainingInterrupted, extend_message
from .base import Callback

__all__ = ["StopOnSignal"]


class StopOnSignal(Callback):
    """Catch SIGINT and SIGTERM during training and stop after the current step.

    Handlers are installed only in the main thread (Python allows no other), and the
    previous ones are restored when training ends, however it ends.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def on_train_begin(self, logs: dict[str, float]) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # pragma: no cover - e.g. an embedded interpreter
                pass

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.state.stop_signal is not None:
            raise TrainingInterrupted(
                f"training stopped at once by a second {signal.Signals(signum).name}; "
                "the last checkpoint is the one saved before",
                signum,
                history=self.state.history,
            )
        self.state.stop_signal = signum

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self.state.stop_signal is not None and batch < self.state.n_batches:
            raise self._interrupted(f"at epoch {self.state.epoch + 1}, batch {batch}", batch)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.state.stop_signal is not None:
            raise self._interrupted(f"after epoch {epoch}", None)

    def _interrupted(self, where: str, batch: int | None) -> TrainingInterrupted:
        signum = self.state.stop_signal
        assert signum is not None
        error = TrainingInterrupted(
            f"training stopped by {signal.Signals(signum).name} {where}",
            signum,
            history=self.state.history,
        )
        error.epoch = self.state.epoch + (1 if batch is not None else 0)
        error.batch = batch
        return error

    def on_exception(self, error: BaseException) -> None:
        self._restore()
        if (
            isinstance(error, TrainingInterrupted)
            and error.epoch is not None
            and error.checkpoint is None
        ):
            extend_message(error, "; no checkpoint directory was given, so nothing was saved")

    def on_train_end(self, logs: dict[str, float]) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}
