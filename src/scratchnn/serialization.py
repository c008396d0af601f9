"""Saving and loading models as one ``.npz`` file: no pickle, atomic writes, versioned.

A model file is a NumPy ``.npz`` archive holding

- ``__scratchnn__``: a JSON string (a 0-d unicode array) with the format name, the format
  version, the architecture (:meth:`Sequential.get_config`) and any extra metadata;
- ``param/<name>``: every entry of :meth:`Sequential.state_dict`, named as there: the
  parameters (``param/0.W``, ``param/0.b``, ...) and the buffers, non-trainable state such
  as BatchNorm's running statistics (``param/1.running_mean``).

It is read by :func:`read_npz`, which parses the archive itself instead of calling
``numpy.load``: only plain numeric arrays (and the one JSON string) are accepted, an entry
holding Python objects is refused before any of its bytes are interpreted, so opening a file
can never run code, and every entry is read to its end so that the archive's CRC-32 checksum
catches a corrupted or truncated file. Writes go to a temporary file in the same directory,
are flushed to disk (fsync) and renamed over the target, so an interrupted save leaves the
previous file intact.

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
import math
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError, OutputError, ScratchnnError

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
    "remove_stale_temporaries",
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


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def _current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:  # Linux >= 4.7 reports it; os.umask() can only be read by setting it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode(path: Path) -> int:
    """The permissions the written file should get.

    ``mkstemp`` creates its file with mode 0600, which would make every saved model private
    to its owner; instead, a replaced file keeps its permission bits and a new one gets what
    ``open(path, "w")`` would give it, ``0666 & ~umask``.
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, rename it over ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=_temporary_prefix(path), suffix=".tmp", dir=directory
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        blocker = next((p for p in (directory, *directory.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():  # mkdir says "File exists"
            reason = f"{blocker} is a file, not a directory"
        error = OutputError(f"{path}: cannot write here ({reason}); choose a writable directory")
        error.reason = reason
        raise error from None
    if hasattr(os, "fchmod"):  # not on Windows, where mkstemp's mode does not matter
        try:
            os.fchmod(fd, _new_file_mode(path))
        except OSError:  # e.g. a file system without Unix permissions: keep mkstemp's
            pass
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
        if isinstance(exc, OSError) and not isinstance(exc, ScratchnnError):
            error = OutputError(
                f"{path}: could not be written ({exc.strerror or exc}); the previous file, if "
                "any, is unchanged; free disk space or choose another directory"
            )
            error.reason = exc.strerror or str(exc)
            raise error from None
        raise
    _fsync_dir(directory)


def remove_stale_temporaries(path: str | os.PathLike[str]) -> int:
    """Delete temporary files an interrupted write of ``path`` left behind; returns how many.

    A write killed between creating its temporary file and renaming it (``kill -9``, power
    loss) leaves ``.<name>.XXXX.tmp`` next to ``path``; ``path`` itself is never touched.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    removed = 0
    try:
        candidates = list(directory.glob(f"{_temporary_prefix(path)}*.tmp"))
    except OSError:
        return 0
    for candidate in candidates:
        try:
            candidate.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    _atomic_write(Path(path), lambda fh: fh.write(data))


def write_npz(
    path: str | os.PathLike[str], meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Atomically write ``arrays`` and the JSON ``meta`` (plus format name and version) to ``path``."""
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta}
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{path}: metadata must be JSON values (numbers, strings, lists, dicts): {exc}; "
            "check model.metadata"
        ) from None
    payload = {META_KEY: np.array(text)}
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.dtype == object:
            raise InputError(f"refusing to save object array {key!r}: it would need pickle")
        payload[key] = value
    _atomic_write(Path(path), lambda fh: np.savez(fh, **payload))


#: dtype kinds a scratchnn file may hold: bool, integers, floats and the JSON string.
_ALLOWED_KINDS = "biufU"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` entry as an array, checked before any data is interpreted."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelFileError(
            f"{path}: entry {info.filename!r} is compressed, which scratchnn files never are; "
            "only load files that scratchnn saved"
        )
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ModelFileError(f"{path}: entry {info.filename!r} has .npy version {version}")
        if dtype.hasobject:
            raise ModelFileError(
                f"{path}: contains pickled Python objects, which scratchnn never loads "
                "(they can run code); only load files that scratchnn saved"
            )
        if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype:
            raise ModelFileError(
                f"{path}: entry {info.filename!r} has dtype {dtype}, which scratchnn files "
                "never hold; only load files that scratchnn saved"
            )
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > info.file_size:  # never allocate more than the archive can hold
            raise ModelFileError(
                f"{path}: entry {info.filename!r} is truncated ({info.file_size} bytes for "
                f"shape {shape}); use an earlier checkpoint or save the model again"
            )
        data = fh.read(nbytes + 1)  # reading to the end makes zipfile verify the CRC-32
    if len(data) != nbytes:
        raise ModelFileError(
            f"{path}: entry {info.filename!r} holds {len(data)} bytes where its header says "
            f"{nbytes}; the file is corrupted"
        )
    array = np.frombuffer(data, dtype=dtype, count=count)
    if fortran_order:
        return array.reshape(shape[::-1]).T.copy()
    return array.reshape(shape).copy()


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise ModelFileError(f"{path}: file is empty (an interrupted copy?); use another file")
    if head == b"\x93NUM":
        raise ModelFileError(
            f"{path}: is a single .npy array, not a scratchnn .npz file; load it with numpy"
        )
    if head not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        raise ModelFileError(
            f"{path}: not a scratchnn file (not an .npz archive); pass a file that "
            "model.save() or a checkpoint wrote"
        )
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ModelFileError(
                    f"{path}: unexpected entry {info.filename!r} (not an array); "
                    "only load files that scratchnn saved"
                )
            arrays[info.filename[: -len(".npy")]] = _read_entry(archive, info, path)
    return arrays


def read_npz(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_npz`: ``(meta, arrays)``, never unpickling anything.

    Raises :class:`ModelFileError` for a missing, foreign, corrupted, truncated or too new
    file, and for any entry that would need pickle.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory; pass the .npz file inside it")
    try:
        arrays = _read_archive(path)
    except ModelFileError:
        raise
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied; make the file readable") from None
    except Exception as exc:  # any other failure to parse untrusted bytes means a damaged file
        raise ModelFileError(
            f"{path}: corrupted or truncated ({type(exc).__name__}: {exc}); "
            "use an earlier checkpoint or save the model again"
        ) from None
    meta_array = arrays.pop(META_KEY, None)
    if meta_array is None:
        raise ModelFileError(f"{path}: not a scratchnn file (no {META_KEY} entry)")
    if meta_array.dtype.kind != "U" or meta_array.ndim != 0:
        raise ModelFileError(f"{path}: unreadable metadata (not a JSON string)")
    try:
        meta = json.loads(str(meta_array))
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: unreadable metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a scratchnn file")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}; the file is damaged")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {version} is newer than this scratchnn reads "
            f"({FORMAT_VERSION}); upgrade scratchnn"
        )
    return meta, arrays


def save_model(model: Sequential | VAE, path: str | os.PathLike[str], /, **extra: Any) -> None:
    """Save ``model`` (architecture, parameters, buffers) and JSON-able ``extra`` metadata atomically.

    ``model`` and ``path`` are positional-only, so that metadata may use any key, ``"model"``
    and ``"path"`` included.
    """
    arrays = {f"param/{name}": value for name, value in model.state_dict().items()}
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

    The architecture is rebuilt from JSON and every parameter and buffer must be present
    with the right shape: a partial load is an error, never silent.
    """
    meta, arrays = read_npz(path)
    return _build_model(meta, arrays, path)


def _build_model(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str | os.PathLike[str]
) -> Sequential | VAE:
    """The model held by what :func:`read_npz` returned (``path`` only names the file in errors)."""
    if not isinstance(meta.get("architecture"), dict):
        raise ModelFileError(f"{path}: holds no model architecture")
    try:
        model = _model_class(meta["architecture"]).from_config(meta["architecture"])
    except (ScratchnnError, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the saved architecture cannot be rebuilt ({exc})") from None
    state = {
        key[len("param/") :]: value for key, value in arrays.items() if key.startswith("param/")
    }
    try:
        model.load_state_dict(state, strict=True)
    except (ScratchnnError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: parameters do not match the architecture ({exc})") from None
    extra = meta.get("extra", {})
    model.metadata = extra if isinstance(extra, dict) else {}
    return model
