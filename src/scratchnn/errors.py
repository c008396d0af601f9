"""Exceptions raised by scratchnn.

Every error a user can cause is a :class:`ScratchnnError`, with a one-line message that
names the problem and the fix. Input problems are also :class:`ValueError` so that code
written against NumPy conventions catches them.
"""

from __future__ import annotations

__all__ = ["DivergenceError", "InputError", "NotFittedError", "ScratchnnError", "ShapeError"]


class ScratchnnError(Exception):
    """Base class of every error scratchnn raises on purpose."""


class InputError(ScratchnnError, ValueError):
    """Bad input data or argument: wrong type, value out of range, NaN, empty, ..."""


class ShapeError(InputError):
    """Arrays whose shapes do not fit together (feature counts, lengths, layer sizes)."""


class NotFittedError(ScratchnnError, RuntimeError):
    """A method that needs earlier state (``backward`` before ``forward``) was called too early."""


class DivergenceError(ScratchnnError, FloatingPointError):
    """Training produced a NaN or infinite loss or gradient."""
