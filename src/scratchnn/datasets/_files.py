"""What every dataset reader shares: where data is looked for, and opening files safely.

Reading a user's file must never hang or fill the memory, whatever the path names:

- :func:`open_regular` looks at ``os.stat`` *before* opening and refuses anything but a
  regular file (a directory, a FIFO, ``/dev/zero`` or another device, a socket); it then
  opens without blocking and checks again with ``fstat``, so a file swapped for a FIFO in
  between cannot block either.
- :func:`read_capped` reads at most a given number of bytes, in chunks, so an endless or
  huge stream (a gzip bomb, a growing file) stops at the limit instead of being read whole.

The search order of :func:`find_data_dir` is the one every dataset uses: the ``data_dir``
argument (``--data-dir``), then ``$SCRATCHNN_DATA/<name>``, ``$SCRATCHNN_DATA``, then the
per-user cache :func:`cache_dir`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

__all__ = [
    "cache_dir",
    "find_data_dir",
    "open_regular",
    "quote_names",
    "read_capped",
    "search_order",
    "short",
    "size_text",
]


def cache_dir(name: str = "mnist") -> Path:
    """The per-user cache directory for a dataset (it may not exist yet)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "scratchnn" / name


def search_order(name: str) -> list[Path]:
    """Where a dataset is looked for without ``data_dir``: ``$SCRATCHNN_DATA/<name>``, ``$SCRATCHNN_DATA``, the cache."""
    searched = []
    env = os.environ.get("SCRATCHNN_DATA")
    if env:
        searched += [Path(env) / name, Path(env)]
    searched.append(cache_dir(name))
    return searched


def find_data_dir(
    data_dir: str | os.PathLike[str] | None,
    name: str,
    holds: Callable[[Path], bool],
    missing: Callable[[Path], str],
    fix: str,
) -> Path:
    """The first directory for which ``holds(directory)`` is true, in the module's search order.

    With ``data_dir`` only it and ``data_dir/<name>`` are tried; if neither holds the data,
    the error is ``missing(data_dir)``. Otherwise the error lists every place searched and
    ends with ``fix`` (e.g. ``", or run 'scratchnn download mnist'"``).
    """
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        for candidate in (directory, directory / name):
            if candidate.is_dir() and holds(candidate):
                return candidate
        if not directory.exists():
            raise InputError(f"{directory}: directory not found; check --data-dir")
        raise InputError(missing(directory))
    searched = search_order(name)
    for candidate in searched:
        if candidate.is_dir() and holds(candidate):
            return candidate
    raise InputError(
        f"{name} not found in {', '.join(map(str, searched))}; pass --data-dir DIR, set "
        f"SCRATCHNN_DATA{fix}"
    )


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


def _refuse_irregular(path: Path, mode: int, what: str) -> None:
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        article = "" if kind.startswith("not ") else "is "
        raise InputError(f"{path}: {article}{kind}, not {what}; pass a regular file")


def open_regular(path: Path, what: str, hint: str = "") -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` for reading in binary if it is a regular file: ``(file, stat)``.

    ``what`` names the expected file in the errors (``"an IDX file"``); ``hint`` is added to
    the "file not found" message (``" or --data-dir"``). Every problem is a one-line
    :class:`~scratchnn.errors.InputError`: not found, a directory, a FIFO or device, no
    permission.
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{path}: file not found; check the path{hint}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path") from None
    _refuse_irregular(path, info.st_mode, what)
    # O_NONBLOCK: if the path became a FIFO since the stat, open() returns at once instead of
    # waiting for a writer; fstat below then refuses it
    nonblock = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{path}: file not found; check the path{hint}") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; make the file readable") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path") from None
    try:
        info = os.fstat(fd)
        _refuse_irregular(path, info.st_mode, what)
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


def size_text(n: int) -> str:
    """A byte count for a message: ``"64 MiB"``, ``"1.5 GiB"``, ``"812 bytes"``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def short(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters: a message quoting data stays short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote_names(names: list[str], most: int = 10) -> str:
    """Names for a message: quoted, at most ``most`` of them (a table may have thousands).

    >>> quote_names(["a", "b", "c"], most=2)
    "'a', 'b', ... (1 more)"
    """
    shown = ", ".join(short(str(n)) for n in names[:most])
    return shown if len(names) <= most else f"{shown}, ... ({len(names) - most} more)"
