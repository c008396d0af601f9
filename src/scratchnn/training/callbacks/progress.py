"""Progress: a bar per epoch (``verbose=1``) or one line per epoch (``verbose=2``).

The bar shows the mean loss over the epoch so far (the number the epoch ends with, not the
last batch's, which jumps about), and when the epoch ends it becomes one line with the
epoch's metrics, short enough for an 80-column terminal. In a Jupyter notebook it is
tqdm's widget when ipywidgets can draw one, and otherwise the text bar, without a warning.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import sys
import warnings
from typing import Any

from tqdm.std import TqdmExperimentalWarning
from tqdm.std import tqdm as text_tqdm

from .base import Callback

__all__ = ["ProgressBar", "epoch_line", "progress_bar_class"]

#: The columns a bar is laid out for when the terminal's width is unknown (not a tty).
DEFAULT_WIDTH = 80

#: How each metric is shown, in this order: (History column, short name, as a percentage?).
_SHOWN = (
    ("loss", "loss", False),
    ("accuracy", "acc", True),
    ("val_loss", "val_loss", False),
    ("val_accuracy", "val_acc", True),
)

#: The bar while the epoch runs: no rate, so that the running metrics keep their room.
_RUNNING = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"


def _widgets_available() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def _in_notebook() -> bool:
    """True in a Jupyter kernel that draws widgets (not a Qt console or Spyder)."""
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    if any(k == "QT_API" or k.startswith("SPYDER") for k in os.environ):
        return False
    try:
        shell = sys.modules["IPython"].get_ipython().__class__.__name__.lower()
    except (KeyError, AttributeError):
        return False
    return "qt" not in shell and "spyder" not in shell


def progress_bar_class() -> Any:
    """tqdm's notebook bar in a notebook that has ipywidgets, else the text bar.

    Unlike ``tqdm.auto``, a notebook without ipywidgets gets the text bar quietly (no
    ``TqdmWarning``), and nothing is decided at import time.
    """
    if _in_notebook() and _widgets_available():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TqdmExperimentalWarning)
            try:
                from tqdm.notebook import IProgress
                from tqdm.notebook import tqdm as notebook_tqdm
            except ImportError:
                return text_tqdm
        if IProgress is not None:
            return notebook_tqdm
    return text_tqdm


def _format(value: float, percent: bool) -> str:
    return f"{100 * value:.1f}%" if percent else f"{value:.4f}"


def epoch_line(logs: dict[str, float], sep: str = "=") -> list[str]:
    """The metrics of ``logs`` that are numbers, as ``["loss=0.1234", "acc=96.1%", ...]``."""
    parts = []
    for key, short, percent in _SHOWN:
        value = logs.get(key, float("nan"))
        if value is not None and not math.isnan(value):
            parts.append(f"{short}{sep}{_format(value, percent)}")
    return parts


class ProgressBar(Callback):
    """Show training progress, as ``fit(verbose=...)`` asks.

    ``verbose=1``: a tqdm bar per epoch with the mean loss (and accuracy) of the epoch so
    far, left behind as one line with the epoch's metrics; ``verbose=2``: one line per epoch;
    ``verbose=0``: nothing.

    Parameters
    ----------
    verbose : int
        0, 1 or 2, as above.
    width : int, optional
        Columns to lay the bar out in; default the terminal's (80 when it is not a terminal).
    file : file-like, optional
        Where the bar goes (default ``sys.stderr``).
    """

    def __init__(self, verbose: int = 1, width: int | None = None, file: Any = None) -> None:
        self.verbose = verbose
        self.width = width
        self.file = file
        self._bar: Any = None

    def _columns(self) -> int:
        if self.width is not None:
            return self.width
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        if self.verbose != 1:
            return
        bar = progress_bar_class()
        options: dict[str, Any] = {}
        if bar is text_tqdm:
            tty = self.width is None and getattr(self.file or sys.stderr, "isatty", bool)()
            options = {"bar_format": _RUNNING, "file": self.file}
            options.update({"dynamic_ncols": True} if tty else {"ncols": self._columns()})
        self._bar = bar(
            total=self.state.n_batches,
            initial=self.state.batch,
            desc=f"epoch {epoch}/{self.state.epochs}",
            unit="batch",
            leave=True,
            mininterval=0.2,
            **options,
        )

    def _running(self) -> dict[str, float]:
        """The mean loss and accuracy over the batches of this epoch so far."""
        state = self.state
        seen = min(state.batch * state.batch_size, state.n_examples)
        if seen <= 0:
            return {}
        running = {"loss": state.loss_sum / seen}
        if state.loss.is_classification:
            running["accuracy"] = state.correct_sum / seen
        return running

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if (batch - 1) % 20 == 0 or batch == self.state.n_batches:
            self._bar.set_postfix_str(" ".join(epoch_line(self._running())), refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._finish_bar(logs)
        elif self.verbose >= 2:
            metrics = ", ".join(epoch_line(logs, sep=" "))
            print(f"epoch {epoch}/{self.state.epochs}: {metrics} ({logs['seconds']:.2f} s)")

    def _finish_bar(self, logs: dict[str, float]) -> None:
        """Leave one line: the epoch, its batches, its time and its metrics, within the width.

        When all of it does not fit, the batch count goes first, then the time, then the
        training metrics, so that the validation metrics stay visible.
        """
        bar = self._bar
        parts = epoch_line(logs)
        if getattr(bar, "bar_format", None) != _RUNNING:  # the notebook's widget
            bar.set_postfix_str(" ".join(parts), refresh=True)
            self._close()
            return
        width = self._columns()
        layouts = ["{desc} {n_fmt}/{total_fmt} {elapsed} ", "{desc} {elapsed} ", "{desc} "]
        candidates = [(layout, parts) for layout in layouts]
        candidates += [(layouts[-1], [p for p in parts if not p.startswith(("loss", "acc"))])]
        for layout, shown in candidates:
            line = layout + " ".join(shown).replace("{", "{{").replace("}", "}}")
            bar.bar_format = line
            if len(bar.format_meter(**bar.format_dict)) <= width:
                break
        bar.refresh()
        self._close()

    def on_exception(self, error: BaseException) -> None:
        self._close()  # before the error's message is printed under it

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
