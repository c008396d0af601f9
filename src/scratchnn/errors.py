"""Exceptions raised by scratchnn.

Every error a user can cause is a :class:`ScratchnnError`, with a one-line message that
names the problem and the fix. Input problems are also :class:`ValueError` so that code
written against NumPy conventions catches them; files that cannot be written are also
:class:`OSError`.

:class:`TrainingInterrupted` is not an error: it is how :func:`~scratchnn.fit` reports that
SIGINT (Ctrl-C) or SIGTERM stopped it cleanly after saving, and it is a
:class:`KeyboardInterrupt` so that ``except Exception`` does not swallow it.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Any

__all__ = [
    "DivergenceError",
    "InputError",
    "ModelFileError",
    "NotFittedError",
    "OutputError",
    "ScratchnnError",
    "ScratchnnWarning",
    "ShapeError",
    "TrainingInterrupted",
    "extend_message",
    "warn",
]


class ScratchnnError(Exception):
    """Base class of every error scratchnn raises on purpose."""


class InputError(ScratchnnError, ValueError):
    """Bad input data or argument: wrong type, value out of range, NaN, empty, ..."""


class ShapeError(InputError):
    """Arrays whose shapes do not fit together (feature counts, lengths, layer sizes)."""


class ModelFileError(InputError):
    """A model or checkpoint file that cannot be read: corrupt, truncated, foreign or too new."""


class NotFittedError(ScratchnnError, RuntimeError):
    """A method that needs earlier state (``backward`` before ``forward``) was called too early."""


class OutputError(ScratchnnError, OSError):
    """A file or directory scratchnn must write cannot be written (permissions, disk full).

    ``reason`` is the operating system's explanation (``"No space left on device"``); when
    ``fit`` fails to write a checkpoint, ``history`` holds the epochs completed.
    """

    reason: str = ""
    history: Any = None


class DivergenceError(ScratchnnError, FloatingPointError):
    """Training produced a NaN or infinite loss, gradient or parameter.

    ``history`` holds the epochs completed before it happened and ``checkpoint`` the last
    good checkpoint file (``None`` without checkpointing or before the first one).
    """

    history: Any = None
    checkpoint: Any = None


class ScratchnnWarning(UserWarning):
    """A classic mistake that is not an error: unscaled pixels, a double softmax, a run that
    learned nothing. The message says what was seen and what to do.

    ``cli`` is the same advice in command-line terms (``--lr`` rather than ``lr=``), which
    ``scratchnn`` prints as one line, ``scratchnn: warning: ...``. Python shows a warning
    once per place in your code; ``warnings.simplefilter("ignore", ScratchnnWarning)``
    silences them.
    """

    def __init__(self, message: str, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = message if cli is None else cli


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, cli: str | None = None) -> None:
    """Issue a :class:`ScratchnnWarning` attributed to the first caller outside scratchnn.

    So the warning names the user's line (``model.fit(...)``), and Python's default filter
    shows it once for that line, however many times a loop calls it.
    """
    level, frame = 2, sys._getframe(1)  # stacklevel 2: the caller of warn()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(ScratchnnWarning(message, cli), stacklevel=level)


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped :func:`~scratchnn.fit` after the current step.

    Attributes
    ----------
    signum : int
        The signal received (``signal.SIGINT`` or ``signal.SIGTERM``).
    exit_code : int
        ``128 + signum``, the conventional exit status: 130 for SIGINT, 143 for SIGTERM.
    history : History or None
        The epochs completed so far.
    checkpoint : pathlib.Path or None
        The checkpoint written on the way out (``None`` without checkpointing).
    epoch, batch : int or None
        Where training stopped: in epoch ``epoch`` (1-based) after ``batch`` of its batches,
        or after the whole of epoch ``epoch`` if ``batch`` is ``None``. Both are ``None``
        when a second signal stopped training at once, in the middle of a step.
    """

    epoch: int | None = None
    batch: int | None = None

    def __init__(
        self, message: str, signum: int, history: Any = None, checkpoint: Any = None
    ) -> None:
        super().__init__(message)
        self.signum = int(signum)
        self.history = history
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


def extend_message(error: BaseException, text: str) -> None:
    """Append ``text`` to ``error``'s one-line message, in place.

    The training harness builds some messages in two steps: the piece that notices a
    problem says what happened, and the checkpointing piece adds what was saved or kept.
    """
    first = str(error.args[0]) if error.args else ""
    error.args = (first + text, *error.args[1:])
