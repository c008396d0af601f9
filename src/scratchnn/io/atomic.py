"""Atomic writes: a file is either the old version or the new one, never half of each.

Every file scratchnn writes (models, checkpoints, histories, run results) goes through
:func:`atomic_write`: the bytes go to a temporary file in the same directory, are flushed
to disk (fsync) and the temporary file is renamed over the target. A crash, a ``kill -9``
or a full disk at any moment leaves the previous file intact; a killed write leaves only a
``.<name>.XXXX.tmp`` file behind, which :func:`remove_stale_temporaries` deletes.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.json"
>>> _ = write_json(path, {"loss": 0.25, "accuracy": float("nan")})
>>> print(path.read_text())
{
  "loss": 0.25,
  "accuracy": null
}
<BLANKLINE>
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import OutputError, ScratchnnError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "json_ready",
    "remove_stale_temporaries",
    "write_csv",
    "write_json",
]


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


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, rename it over ``path``.

    Only a regular file or a path that does not exist yet is replaced by the rename. A
    symbolic link is written through: its target is replaced atomically and the link stays.
    A FIFO or a device (``/dev/null``, a terminal) is written to directly, as ``open(path,
    "wb")`` would, since renaming over it would silently replace it with a regular file; a
    FIFO without a reader is refused rather than waited on. A directory is refused.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # replace the target, keep the link
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # absent (or unreadable: the temporary file will say why)
    if mode is not None and stat.S_ISDIR(mode):
        error = OutputError(f"{path}: is a directory; pass a file name")
        error.reason = "is a directory"
        raise error
    if mode is not None and not stat.S_ISREG(mode):
        _write_through(path, mode, write)
        return
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


def _write_through(path: Path, mode: int, write: Callable[[BinaryIO], Any]) -> None:
    """Write straight into a FIFO or a device (no temporary file, nothing to rename)."""
    flags = os.O_WRONLY
    if stat.S_ISFIFO(mode):
        flags |= os.O_NONBLOCK  # fail at once (ENXIO) when nobody reads, instead of hanging
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if stat.S_ISFIFO(mode) and exc.errno == errno.ENXIO:
            reason = "a FIFO with no reader"
        error = OutputError(
            f"{path}: cannot be written ({reason}); start its reader or pass a file"
        )
        error.reason = reason
        raise error from None
    if stat.S_ISFIFO(mode):
        os.set_blocking(fd, True)  # a reader is there: let large writes wait for it
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
    except OSError as exc:  # /dev/full: ENOSPC; a reader that went away: EPIPE
        error = OutputError(f"{path}: could not be written ({exc.strerror or exc})")
        error.reason = exc.strerror or str(exc)
        raise error from None


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
    atomic_write(path, lambda fh: fh.write(data))


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON values: arrays and NumPy scalars become lists and numbers,
    paths strings, and NaN or infinities ``None`` (JSON has no NaN; ``null`` reads back)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; NaN and infinities become ``null``.

    The one JSON writer of the package: run configs, metrics and reports all use it.
    """
    path = Path(path)
    text = json.dumps(json_ready(obj), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode())
    return path


def write_csv(path: str | os.PathLike[str], frame: Any) -> Path:
    """Write a table (a DataFrame, or anything with ``to_dataframe()`` such as a History)
    as CSV without the index, atomically. The one CSV writer of the package."""
    if hasattr(frame, "to_dataframe"):
        frame = frame.to_dataframe()
    path = Path(path)
    atomic_write_bytes(path, frame.to_csv(index=False).encode())
    return path
