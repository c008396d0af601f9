"""Callbacks: what attaches to :func:`~scratchnn.training.fit`'s loop, one idea per file.

- :mod:`~.base`: the :class:`Callback` hooks and the list that calls them;
- :mod:`~.early_stopping`: :class:`EarlyStopping`;
- :mod:`~.progress`: :class:`ProgressBar` (``verbose``);
- :mod:`~.divergence`: :class:`StopOnDivergence`;
- :mod:`~.checkpointing`: :class:`Checkpointing` (``checkpoint=``, ``resume=``);
- :mod:`~.signals`: :class:`StopOnSignal` (SIGINT, SIGTERM).
"""

from .base import Callback, CallbackList
from .checkpointing import Checkpointing
from .divergence import StopOnDivergence
from .early_stopping import EarlyStopping
from .progress import ProgressBar
from .signals import StopOnSignal

__all__ = [
    "Callback",
    "CallbackList",
    "Checkpointing",
    "EarlyStopping",
    "ProgressBar",
    "StopOnDivergence",
    "StopOnSignal",
]
