"""Opening untrusted input files safely: regular files only, never blocking, never unbounded.

Reading a user's file must never hang or fill the memory, whatever the path names (a model
file, a checkpoint, a run's ``config.json``, a dataset):

- :func:`open_regular` looks at ``os.stat`` *before* opening and refuses anything but a
  regular file (a directory, a FIFO, ``/dev/zero`` or another device, a socket); it then
  opens without blocking and checks again with ``fstat``, so a file swapped for a FIFO in
  between cannot block either.
- :func:`read_capped` reads at most a given number of bytes, in chunks, so an endless or
  huge stream (a gzip bomb, a growing file) stops at the limit instead of being read whole.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from ..errors import InputError

__all__ = ["open_regular", "read_capped"]


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_irregular(
    path: os.PathLike[str] | str, mode: int, what: str, error: type[InputError] = InputError
) -> None:
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        article = "" if kind.startswith("not ") else "is "
        raise error(f"{path}: {article}{kind}, not {what}; pass a regular file")


def open_regular(
    path: os.PathLike[str] | str,
    what: str,
    hint: str = "",
    error: type[InputError] = InputError,
) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` for reading in binary if it is a regular file: ``(file, stat)``.

    ``what`` names the expected file in the errors (``"an IDX file"``); ``hint`` is added to
    the "file not found" message (``" or --data-dir"``). Every problem is a one-line
    ``error`` (an :class:`~scratchnn.errors.InputError` or a subclass): not found, a
    directory, a FIFO or device, no permission.
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{path}: file not found; check the path{hint}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}); check the path") from None
    _refuse_irregular(path, info.st_mode, what, error)
    # O_NONBLOCK: if the path became a FIFO since the stat, open() returns at once instead of
    # waiting for a writer; fstat below then refuses it
    nonblock = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{path}: file not found; check the path{hint}") from None
    except PermissionError:
        raise error(f"{path}: permission denied; make the file readable") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}); check the path") from None
    try:
        info = os.fstat(fd)
        _refuse_irregular(path, info.st_mode, what, error)
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def read_capped(stream: BinaryIO, limit: int, chunk: int = 1 << 20) -> tuple[bytes, bool]:
    """``(data, too_long)``: at most ``limit`` bytes of ``stream``, and whether it holds more.

    Reads in chunks of ``chunk`` bytes and stops one byte past ``limit``, so neither an
    endless stream nor a decompression bomb is ever read (or allocated) beyond the limit.
    """
    parts, total = [], 0
    while total <= limit:
        part = stream.read(min(chunk, limit + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    data = b"".join(parts)
    return (data[:limit], True) if total > limit else (data, False)
