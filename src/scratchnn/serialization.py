"""Saving and loading models as one ``.npz`` file: no pickle, atomic writes, versioned.

A model file is a NumPy ``.npz`` archive holding

- ``__scratchnn__``: a JSON string (a 0-d unicode array) with the format name, the format
  version, the architecture (:meth:`Sequential.get_config`) and any extra metadata;
- ``param/<name>``: every parameter, named as in :meth:`Sequential.parameters`
  (``param/0.W``, ``param/0.b``, ...).

It is read with ``numpy.load(..., allow_pickle=False)`` only, so opening a file can never run
code. Writes go to a temporary file in the same directory, are flushed to disk (fsync) and
renamed over the target, so an interrupted save leaves the previous file intact.

>>> import tempfile, pathlib, numpy as np
>>> from scratchnn.models import mlp
>>> model = mlp([4, 8, 3], rng=0)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
>>> save_model(model, path)
>>> clone = load_model(path)
>>> bool(np.array_equal(clone.predict(np.ones((1, 4))), model.predict(np.ones((1, 4)))))
True
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError, ScratchnnError

if TYPE_CHECKING:
    from .model import Sequential
    from .models.vae import VAE

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "atomic_write_bytes",
    "load_model",
    "read_npz",
    "save_model",
    "write_npz",
]

FORMAT_NAME = "scratchnn"
#: Incremented whenever the file layout changes; newer files are refused with a clear error.
FORMAT_VERSION = 1
META_KEY = "__scratchnn__"


class ModelFileError(InputError):
    """A model or checkpoint file that cannot be read: corrupt, truncated, foreign or too new."""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, rename it over ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ScratchnnError(
            f"{path}: cannot write here ({exc.strerror or exc}); choose a writable directory"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ScratchnnError(
                f"{path}: could not be written ({exc.strerror or exc}); the previous file, if "
                "any, is unchanged; free disk space or choose another directory"
            ) from None
        raise
    _fsync_dir(directory)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    _atomic_write(Path(path), lambda fh: fh.write(data))


def write_npz(
    path: str | os.PathLike[str], meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Atomically write ``arrays`` and the JSON ``meta`` (plus format name and version) to ``path``."""
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta}
    payload = {META_KEY: np.array(json.dumps(meta))}
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.dtype == object:
            raise InputError(f"refusing to save object array {key!r}: it would need pickle")
        payload[key] = value
    _atomic_write(Path(path), lambda fh: np.savez(fh, **payload))


def read_npz(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_npz`: ``(meta, arrays)``, never unpickling anything."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory; pass the .npz file inside it")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ModelFileError(
                f"{path}: contains pickled Python objects, which scratchnn never loads "
                "(they can run code); only load files that scratchnn saved"
            ) from None
        raise ModelFileError(f"{path}: not a valid scratchnn file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ModelFileError(
            f"{path}: corrupted or truncated ({type(exc).__name__}: {exc}); "
            "use an earlier checkpoint or save the model again"
        ) from None
    if META_KEY not in arrays:
        raise ModelFileError(f"{path}: not a scratchnn file (no {META_KEY} entry)")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: unreadable metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a scratchnn file")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {version} is newer than this scratchnn reads "
            f"({FORMAT_VERSION}); upgrade scratchnn"
        )
    return meta, arrays


def save_model(model: Sequential | VAE, path: str | os.PathLike[str], **extra: Any) -> None:
    """Save ``model`` (architecture and parameters) and JSON-able ``extra`` metadata atomically."""
    arrays = {f"param/{name}": param for name, param, _ in model.parameters()}
    write_npz(path, {"kind": "model", "architecture": model.get_config(), "extra": extra}, arrays)


def _model_class(architecture: dict[str, Any]) -> Any:
    """The class that rebuilds ``architecture``: ``Sequential`` unless it names another model."""
    from .model import Sequential
    from .models.vae import VAE

    classes = {"Sequential": Sequential, "VAE": VAE}
    name = architecture.get("class", "Sequential") if isinstance(architecture, dict) else None
    if name not in classes:
        raise InputError(f"unknown model class {name!r}; this scratchnn rebuilds {sorted(classes)}")
    return classes[name]


def load_model(path: str | os.PathLike[str]) -> Sequential | VAE:
    """Rebuild a model saved by :func:`save_model` (or inside a checkpoint).

    The architecture is rebuilt from JSON (a :class:`Sequential`, or the model class its
    ``"class"`` entry names, such as ``"VAE"``) and every parameter must be present with the
    right shape: a partial load is an error, never silent.
    """
    meta, arrays = read_npz(path)
    if "architecture" not in meta:
        raise ModelFileError(f"{path}: holds no model architecture")
    try:
        model = _model_class(meta["architecture"]).from_config(meta["architecture"])
    except (ScratchnnError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: the saved architecture cannot be rebuilt ({exc})") from None
    state = {
        key[len("param/") :]: value for key, value in arrays.items() if key.startswith("param/")
    }
    try:
        model.load_state_dict(state, strict=True)
    except ScratchnnError as exc:
        raise ModelFileError(f"{path}: parameters do not match the architecture ({exc})") from None
    model.metadata = meta.get("extra", {})
    return model
