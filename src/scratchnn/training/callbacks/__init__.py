"""Callbacks: what attaches to :func:`~scratchnn.training.fit`'s loop, one idea per file.

- :mod:`~.base`: the :class:`Callback` hooks and the list that calls them;
- :mod:`~.early_stopping`: :class:`EarlyStopping`;
- :mod:`~.progress`: :class:`ProgressBar` (``verbose``);
- :mod:`~.divergence`: :class:`StopOnDivergence`;
- :mod:`~.checkpointing`: :class:`Checkpointing` (``checkpoint=``, ``resume=``);
- :mod:`~.signals`: :class:`StopOnSignal` (SIGINT, SIGTERM);
- :mod:`~.step_schedule`: :class:`PerStepSchedule`, a learning rate set before every step;
- :mod:`~.validation`: :class:`Validate`, validation numbers from a function of the model.
"""

from .base import Callback, CallbackList
from .checkpointing import Checkpointing
from .divergence import StopOnDivergence
from .early_stopping import EarlyStopping
from .progress import ProgressBar
from .signals import StopOnSignal
from .step_schedule import PerStepSchedule
from .validation import Validate

__all__ = [
    "Callback",
    "CallbackList",
    "Checkpointing",
    "EarlyStopping",
    "PerStepSchedule",
    "ProgressBar",
    "StopOnDivergence",
    "StopOnSignal",
    "Validate",
]
