"""Deprecated location of checkpoints; use :mod:`scratchnn.training.checkpoint`.

Kept so that ``scratchnn.checkpoint.load_checkpoint`` and ``from scratchnn.checkpoint import
resume`` (scratchnn 0.1) keep working.
"""

from .training.checkpoint import (
    CHECKPOINT_FILE,
    HISTORY_FILE,
    Checkpoint,
    data_fingerprint,
    generator_from_state,
    load_checkpoint,
)
from .training.trainer import resume

__all__ = [
    "CHECKPOINT_FILE",
    "HISTORY_FILE",
    "Checkpoint",
    "data_fingerprint",
    "generator_from_state",
    "load_checkpoint",
    "resume",
]
