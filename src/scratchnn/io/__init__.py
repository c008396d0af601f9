"""Files: atomic writes, the no-pickle ``.npz`` container, and model files.

- :mod:`scratchnn.io.atomic`: every write is atomic (temporary file, fsync, rename); the
  one JSON writer and the one CSV writer;
- :mod:`scratchnn.io.npz`: the container, parsed by hand so that opening a file never
  runs code;
- :mod:`scratchnn.io.model_file`: a model's architecture and parameters in that container
  (or, for a ``.safetensors`` path, in that one: :mod:`scratchnn.io.safetensors_file`,
  the arrays under PyTorch's names from :mod:`scratchnn.io.torch_names`).
"""

from .atomic import (
    atomic_write,
    atomic_write_bytes,
    json_ready,
    remove_stale_temporaries,
    write_csv,
    write_json,
)
from .model_file import build_model, load_model, load_weights, save_model
from .npz import FORMAT_NAME, FORMAT_VERSION, read_npz, write_npz

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "atomic_write",
    "atomic_write_bytes",
    "build_model",
    "json_ready",
    "load_model",
    "load_weights",
    "read_npz",
    "remove_stale_temporaries",
    "save_model",
    "write_csv",
    "write_json",
    "write_npz",
]
