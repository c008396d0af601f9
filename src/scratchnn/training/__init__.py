"""Training: :func:`fit` runs the loop of :mod:`scratchnn.loop`; the harness attaches to it.

Read in this order:

1. :mod:`~scratchnn.training.trainer`: epochs × batches × :func:`~scratchnn.loop.train_step`,
   with hooks;
2. :mod:`~scratchnn.training.history` and :mod:`~scratchnn.training.state`: what a run
   records, and where it is;
3. :mod:`~scratchnn.training.callbacks`: progress, early stopping, divergence, checkpoints,
   signals;
4. :mod:`~scratchnn.training.checkpoint` (the file), :mod:`~.checkpoint_checks` (what is
   checked when it is read) and :func:`resume`.
"""

from ..loop import Evaluation, batches, evaluate
from .callbacks import (
    Callback,
    Checkpointing,
    EarlyStopping,
    PerStepSchedule,
    StopOnDivergence,
    StopOnSignal,
    Validate,
)
from .checkpoint import CHECKPOINT_FILE, HISTORY_FILE, Checkpoint, load_checkpoint
from .history import History
from .state import TrainState
from .trainer import fit, resume

__all__ = [
    "CHECKPOINT_FILE",
    "HISTORY_FILE",
    "Callback",
    "Checkpoint",
    "Checkpointing",
    "EarlyStopping",
    "Evaluation",
    "History",
    "PerStepSchedule",
    "StopOnDivergence",
    "StopOnSignal",
    "TrainState",
    "Validate",
    "batches",
    "evaluate",
    "fit",
    "load_checkpoint",
    "resume",
]
