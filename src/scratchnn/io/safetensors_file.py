"""The ``.safetensors`` container: PyTorch-named tensors, and our architecture as metadata.

`safetensors <https://huggingface.co/docs/safetensors>`_ is the format PyTorch models are
shared in: an 8-byte header length, a JSON header naming every tensor with its dtype, shape
and byte range, then the raw bytes. Like our ``.npz`` files it holds no code, so reading
an untrusted file cannot run any. A model file written here holds

- every entry of ``model.state_dict()`` under **PyTorch's name**
  (:mod:`scratchnn.io.torch_names`: ``"0.weight"``, ``"1.running_mean"``), so that
  ``torch_model.load_state_dict(safetensors.torch.load_file(path))`` works with
  ``strict=True`` on the equivalent torch model;
- in the header's ``__metadata__`` (string keys and values only): ``"format": "pt"`` (what
  PyTorch tooling expects) and ``"scratchnn"``, the JSON of the same description an ``.npz``
  model file has (format name and version, the architecture ``{"class", "config"}`` and the
  model's ``metadata``), so that ``scratchnn.load`` rebuilds the model without pickle.

A file without the ``"scratchnn"`` entry (a real PyTorch export) has weights but no
architecture: load them into a model you build with :func:`scratchnn.load_weights`.

The ``safetensors`` package is an optional extra (``pip install "scratchnn[interop]"``),
imported only when such a file is read or written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ModelFileError, ScratchnnError
from .atomic import atomic_write_bytes
from .npz import FORMAT_NAME, FORMAT_VERSION, parse_meta
from .regular import open_regular

__all__ = ["METADATA_KEY", "SUFFIX", "import_safetensors", "read_safetensors", "write_safetensors"]

SUFFIX = ".safetensors"
#: The ``__metadata__`` entry holding scratchnn's description of the model, as JSON.
METADATA_KEY = "scratchnn"


def import_safetensors() -> Any:
    """The ``safetensors`` package, or a one-line error saying how to install it."""
    try:
        import safetensors.numpy  # optional: only .safetensors files need it
    except ImportError:
        raise ScratchnnError(
            '.safetensors files need the safetensors package: pip install "scratchnn[interop]"'
        ) from None
    return safetensors


def write_safetensors(
    path: str | os.PathLike[str], meta: dict[str, Any], tensors: dict[str, np.ndarray]
) -> None:
    """Atomically write ``tensors`` with the JSON ``meta`` (plus format name and version)."""
    safetensors = import_safetensors()
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta}
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{path}: metadata must be JSON values (numbers, strings, lists, dicts): {exc}; "
            "check model.metadata"
        ) from None
    data = safetensors.numpy.save(
        {name: np.asarray(value, order="C") for name, value in tensors.items()},  # keeps 0-d
        metadata={"format": "pt", METADATA_KEY: text},
    )
    atomic_write_bytes(path, data)


def read_safetensors(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """``(meta, tensors)`` of a ``.safetensors`` file; ``meta`` is ``None`` without ours.

    Raises :class:`~scratchnn.errors.ModelFileError` with one line for a missing file, a
    file that is not safetensors (or is truncated), a dtype NumPy has no type for
    (bfloat16), and metadata that is not scratchnn's JSON or is too new.
    """
    safetensors = import_safetensors()
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory; pass the .safetensors file inside it")
    # a FIFO or a device would block or never end: only a regular file is handed to the parser
    open_regular(path, "a safetensors file", error=ModelFileError)[0].close()
    try:
        with safetensors.safe_open(str(path), framework="np") as fh:
            header = fh.metadata() or {}
            tensors = {name: np.array(fh.get_tensor(name)) for name in fh.keys()}
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied; make the file readable") from None
    except Exception as exc:  # the parser's errors on untrusted bytes: one line, no traceback
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        if "bfloat16" in reason:
            reason += "; NumPy has no bfloat16: convert the tensors to float32 first"
        raise ModelFileError(f"{path}: not a readable safetensors file ({reason})") from None
    text = header.get(METADATA_KEY)
    if text is None:
        return None, tensors
    return parse_meta(text, path), tensors
