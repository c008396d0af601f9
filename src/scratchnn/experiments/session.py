"""One training session in a run folder: the ``fit`` call, and what a stop leaves behind.

Every training command (``train`` on features, images or text) ends the same way: ``fit``
runs with a checkpoint kept in the run folder, then the results are written. What happens
when it does not end well is the same too, and lives here, once:
:func:`~scratchnn.experiments.session.train_then_finish` runs the two steps and, when
training stops early, leaves the folder with what there is and lets the exception go on
with ``run_dir`` set on it (see :func:`~scratchnn.experiments.run_training`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DivergenceError, OutputError, TrainingInterrupted
from ..io.atomic import write_json
from ..training import Callback
from ..training.checkpoint import Checkpoint
from .run_dir import release_run_dir

__all__ = [
    "RunResult",
    "WriteOnTrainBegin",
    "quiet",
    "seconds_before",
    "sigterm_interrupts",
    "train_then_finish",
]


@dataclass
class RunResult:
    """What :func:`~scratchnn.experiments.run_training` returns."""

    run_dir: Path
    model: Any
    history: Any
    metrics: dict[str, Any]
    #: the data trained on: a :class:`~scratchnn.experiments.Data`, or for a language model
    #: a :class:`~scratchnn.experiments.text.TextData`
    data: Any
    files: list[Path]


#: ``finish(history, train_seconds, plots=..., status=..., log=...)``: writes the results.
Finish = Callable[..., Any]


def seconds_before(checkpoint: Checkpoint) -> float:
    """Training time spent before a checkpoint: its epochs and any part of the next one."""
    seconds = (
        sum(float(s) for s in checkpoint.history["seconds"]) if len(checkpoint.history) else 0.0
    )
    position = checkpoint.state.get("position")
    return seconds + (float(position["seconds"]) if position else 0.0)


def quiet(line: str) -> None:
    """A ``log`` that prints nothing."""


class WriteOnTrainBegin(Callback):
    """Write a JSON file when training starts, i.e. after ``fit`` has checked a resumption.

    Last in the list of callbacks, so that the others keep their place in the checkpoint.
    """

    def __init__(self, path: Path, obj: Any) -> None:
        self.path, self.obj = path, obj

    def on_train_begin(self, logs: dict[str, float]) -> None:
        write_json(self.path, self.obj)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the results are written, SIGTERM stops like Ctrl-C: a ``KeyboardInterrupt``.

    ``fit`` handles both signals while it trains; after it, SIGTERM would kill the process
    in the middle of the plots without a word. The exception's ``signum`` says which signal
    it was, so that the command line can say so and exit with 143. Only the main thread
    can set a handler; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        error = KeyboardInterrupt()
        error.signum = signum  # type: ignore[attr-defined]
        raise error

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train_then_finish(
    run_dir: Path,
    train: Callable[[], Any],
    finish: Finish,
    *,
    before: float = 0.0,
    plots: bool = True,
    log: Callable[[str], None] = print,
) -> Any:
    """``history = train()``, then ``finish(history, seconds, plots=plots, log=log)``.

    ``before`` is the training time of earlier sessions (a resumed run). When training
    stops early:

    - :class:`~scratchnn.errors.TrainingInterrupted` (SIGINT, SIGTERM) between two steps:
      ``finish`` writes the results so far with ``status`` ``"interrupted"`` (who stopped
      it, and where) and no plots;
    - :class:`~scratchnn.errors.DivergenceError`, :class:`~scratchnn.errors.OutputError`:
      nothing more is written (``fit`` kept the last good checkpoint and the History).

    In every case the exception goes on, with ``run_dir`` set on it; so does an
    :class:`~scratchnn.errors.OutputError` or ``KeyboardInterrupt`` while the results are
    written (the checkpoint holds the trained model). The folder's lock is released.
    """
    try:
        return _train_then_finish(run_dir, train, finish, before, plots, log)
    finally:  # the folder was locked by make_run_dir (or for a resumption): free it
        release_run_dir(run_dir)


def _train_then_finish(
    run_dir: Path,
    train: Callable[[], Any],
    finish: Finish,
    before: float,
    plots: bool,
    log: Callable[[str], None],
) -> Any:
    start = time.perf_counter()
    try:
        history = train()
    except TrainingInterrupted as exc:
        exc.run_dir = run_dir
        if exc.epoch is not None:  # stopped cleanly between two steps: keep what there is
            status: Mapping[str, Any] = {
                "status": "interrupted",
                "stopped_by": exc.signal_name,
                "stopped_at": {"epoch": exc.epoch, "batch": exc.batch},
            }
            seconds = before + time.perf_counter() - start
            try:
                finish(exc.history, seconds, plots=False, status=status, log=quiet)
            except OutputError as error:  # e.g. a full disk: the checkpoint was still saved
                error.run_dir = run_dir
                raise error from None
        raise
    except (DivergenceError, OutputError) as exc:
        exc.run_dir = run_dir
        raise
    train_seconds = before + time.perf_counter() - start
    try:
        with sigterm_interrupts():
            return finish(history, train_seconds, plots=plots, log=log)
    except (OutputError, KeyboardInterrupt) as exc:  # the checkpoint holds the trained model
        exc.run_dir = run_dir
        raise
