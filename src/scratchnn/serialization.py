"""Deprecated location of the model-file functions; use :mod:`scratchnn.io`.

Kept so that code written against scratchnn 0.1 (``from scratchnn.serialization import
load_model``) keeps working. New code imports from :mod:`scratchnn.io`.
"""

from .errors import ModelFileError
from .io.atomic import atomic_write_bytes, remove_stale_temporaries
from .io.model_file import load_model, save_model
from .io.npz import FORMAT_NAME, FORMAT_VERSION, read_npz, write_npz

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "atomic_write_bytes",
    "load_model",
    "read_npz",
    "remove_stale_temporaries",
    "save_model",
    "write_npz",
]
