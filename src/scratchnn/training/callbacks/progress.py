"""Progress: a bar per epoch (``verbose=1``) or one line per epoch (``verbose=2``)."""

from __future__ import annotations

import math
from typing import Any

from tqdm.auto import tqdm

from .base import Callback

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Show training progress, as ``fit(verbose=...)`` asks.

    ``verbose=1``: a tqdm bar per epoch with the loss of the latest batch, closed with the
    epoch's metrics; ``verbose=2``: one line per epoch; ``verbose=0``: nothing.
    """

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = verbose
        self._bar: Any = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        if self.verbose != 1:
            return
        self._bar = tqdm(
            total=self.state.n_batches,
            initial=self.state.batch,
            desc=f"epoch {epoch}/{self.state.epochs}",
            unit="batch",
            leave=True,
            dynamic_ncols=True,
            mininterval=0.2,
        )

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if (batch - 1) % 20 == 0 or batch == self.state.n_batches:
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        shown = {
            k: logs[k]
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            if not math.isnan(logs[k])
        }
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=True)
            self._close()
        elif self.verbose >= 2:
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
            print(f"epoch {epoch}/{self.state.epochs}: {metrics} ({logs['seconds']:.2f} s)")

    def on_exception(self, error: BaseException) -> None:
        self._close()  # before the error's message is printed under it

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
