"""The :class:`Callback` interface: hooks that :func:`~scratchnn.training.fit` calls.

``fit`` runs the loop of :mod:`scratchnn.loop` and, around it, calls the same hooks on
every callback, in order::

    on_train_begin                      before the first epoch (a resumed run: restored first)
      on_epoch_begin(epoch)             1-based epoch number
        on_batch_end(batch)             after every train_step, logs = {"loss", "size"}
      on_epoch_end(epoch, logs)         logs = the epoch's History row
    on_train_end(logs)                  after the last epoch
    on_exception(error)                 instead of on_train_end when training stops on an error

Each callback sees the model as ``self.model`` and the run's
:class:`~scratchnn.training.state.TrainState` as ``self.state`` (epoch, batch, History,
optimizer, ...). It reads them; the loop alone writes the state. Progress bars,
checkpoints, signal handling and divergence detection are callbacks too, each in its own
file in this folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ...registry import CALLBACKS
from ..state import TrainState

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Hooks called by :func:`~scratchnn.training.fit`; override the ones you need.

    ``self.model`` and ``self.state`` are set before ``on_train_begin``; setting
    ``self.model.stop_training = True`` ends training after the current epoch. A callback
    whose behaviour depends on what it has seen (EarlyStopping's best value) returns that in
    :meth:`state_dict`, so that a checkpoint keeps it for an exact resume.
    """

    model: Any
    state: TrainState
    #: Short names this callback is also registered under.
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        CALLBACKS.register(cls, cls.__dict__.get("aliases", ()))

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_state(self, state: TrainState) -> None:
        self.state = state

    def on_train_begin(self, logs: dict[str, float]) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, logs: dict[str, float]) -> None: ...

    def on_exception(self, error: BaseException) -> None:
        """Training is ending with ``error`` (an interrupt, divergence, a full disk, a bug):
        release what the callback holds; it may add to the error's message."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep for an exact resume (numbers, strings, arrays); none here."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output, after ``on_train_begin`` of a resumed run."""


class CallbackList:
    """Calls a hook on every callback in order; ``on_exception`` reaches all of them."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def set_context(self, model: Any, state: TrainState) -> None:
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_state(state)

    def on_train_begin(self, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_exception(self, error: BaseException) -> None:
        """Tell every callback, even if one of them fails; then raise the first failure."""
        failure: BaseException | None = None
        for callback in self.callbacks:
            try:
                callback.on_exception(error)
            except BaseException as exc:  # e.g. a checkpoint that cannot be written
                failure = failure or exc
        if failure is not None:
            raise failure
