"""The state of a training run: what ``fit`` updates after every batch and epoch.

:func:`~scratchnn.training.fit` keeps everything the pieces around its loop may need to read
in one :class:`TrainState`: where the run is (epoch, batch, the epoch's order of examples,
the running sums of the epoch), the History, the shuffling generator, and the model,
optimizer and loss it trains. Callbacks read it as ``self.state``; a checkpoint saves it and
a resumed run starts from it. Nothing is handed back and forth: the loop writes the state,
the callbacks read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..loop import epoch_order
from ..losses import Loss
from ..optimizers import Optimizer
from .history import History

__all__ = ["TrainState"]


@dataclass
class TrainState:
    """Where a training run is, and what it trains.

    Attributes
    ----------
    model, optimizer, loss
        What is trained, and how.
    epochs : int
        The epoch count the run trains to (in total, counting those of a resumed run).
    batch_size, n_examples, n_batches : int
        The shape of an epoch.
    shuffle : bool
        Whether each epoch draws a new random order.
    rng : numpy.random.Generator
        The generator the orders are drawn from.
    history : History
        One row per completed epoch.
    epoch : int
        Epochs completed; during an epoch, its 0-based index.
    batch : int
        Batches of the current epoch already done (the index of the next one).
    order : numpy.ndarray or None
        The current epoch's order of examples (a permutation of ``range(n_examples)``).
    loss_sum, correct_sum, term_sums, seconds
        The current epoch so far: the sums of batch loss × batch size, of correct
        predictions and of the loss's named parts, and the wall time of its steps before
        the current stretch (see :meth:`elapsed`).
    lr : float
        The learning rate of the current epoch.
    stop_signal : int or None
        SIGINT or SIGTERM received; training stops after the current step.
    stopped : bool
        A callback ended the run early (saved, so a resumed run trains no further).
    resumed : bool
        The run continues one restored from a checkpoint.
    split_state : dict
        The generator state the validation split is drawn from.
    settings, data
        What a checkpoint compares on resume: fit's settings, and the data it was given.
    verbose : int
        fit's verbosity.
    """

    model: Any
    optimizer: Optimizer
    loss: Loss
    epochs: int
    batch_size: int
    n_examples: int
    n_batches: int
    shuffle: bool
    rng: np.random.Generator
    history: History = field(default_factory=History)
    epoch: int = 0
    batch: int = 0
    order: np.ndarray | None = None
    loss_sum: float = 0.0
    correct_sum: float = 0.0
    term_sums: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    lr: float = float("nan")
    stop_signal: int | None = None
    stopped: bool = False
    resumed: bool = False
    split_state: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    data: tuple[np.ndarray | None, ...] = ()
    verbose: int = 0
    _clock: float = field(default=0.0, repr=False)

    def begin_epoch(self) -> None:
        """Start epoch ``self.epoch``: draw its order, unless a resumed run is in its middle."""
        if self.batch == 0:
            self.order = epoch_order(self.n_examples, self.shuffle, self.rng)
            self.loss_sum, self.correct_sum, self.term_sums, self.seconds = 0.0, 0.0, {}, 0.0
        self._clock = time.perf_counter()

    def record_batch(self, value: float, Y: Any, Tb: np.ndarray, size: int) -> None:
        """Add one batch's loss, correct predictions and loss terms to the epoch's sums."""
        self.batch += 1
        self.loss_sum += value * size
        if self.loss.is_classification:
            self.correct_sum += self.loss.accuracy(Y, Tb) * size
        for key, term in self.loss.terms().items():
            self.term_sums[key] = self.term_sums.get(key, 0.0) + term * size

    def elapsed(self) -> float:
        """Seconds of training steps in the current epoch so far (a resumed epoch included)."""
        return self.seconds + time.perf_counter() - self._clock

    def epoch_row(self) -> dict[str, float]:
        """The History row of the epoch whose batches are all done (without validation)."""
        n = self.n_examples
        accuracy = self.correct_sum / n if self.loss.is_classification else float("nan")
        return {
            "epoch": self.epoch + 1,
            "loss": self.loss_sum / n,
            "accuracy": accuracy,
            "lr": self.lr,
            "seconds": self.elapsed(),
            **{key: total / n for key, total in self.term_sums.items()},
        }

    def end_epoch(self) -> None:
        """Count the epoch as completed; the next one starts from its first batch."""
        self.epoch += 1
        self.batch = 0
        self.order = None

    @property
    def in_epoch(self) -> bool:
        """True between the first and the last batch of an epoch (a resumable position)."""
        return 0 < self.batch < self.n_batches
