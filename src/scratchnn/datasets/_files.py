"""What every dataset reader shares: where data is looked for, and opening files safely.

Reading a user's file must never hang or fill the memory, whatever the path names:

- :func:`open_regular` refuses anything but a regular file (a directory, a FIFO,
  ``/dev/zero``, a socket) without blocking, and :func:`read_capped` reads at most a given
  number of bytes; both live in :mod:`scratchnn.io.regular`, shared with the readers of
  model files, checkpoints and run configurations.

The search order of :func:`find_data_dir` is the one every dataset uses: the ``data_dir``
argument (``--data-dir``), then ``$SCRATCHNN_DATA/<name>``, ``$SCRATCHNN_DATA``, then the
per-user cache :func:`cache_dir`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..io.regular import open_regular, read_capped

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
