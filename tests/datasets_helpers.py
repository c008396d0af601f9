"""Helpers for the dataset reliability tests: hang guards, gzip bombs, peak memory."""

from __future__ import annotations

import gzip
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def finishes(call: Callable[[], Any], seconds: float = 30.0) -> Any:
    """``call()``'s result or exception, failing the test if it runs for ``seconds``.

    A reader that blocks (a FIFO opened for reading waits for a writer) would otherwise hang
    the whole test run; here the test fails, naming the call, and the blocked thread is left
    behind as a daemon.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(
            f"{call!r} still running after {seconds} s: it blocks or reads forever"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def unblock_fifo(path: Path) -> None:
    """Open a FIFO for writing without blocking (if a reader is stuck on it, this frees it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader is waiting, nothing to free
        return
    os.close(fd)


def gzip_bomb(head: bytes, zeros: int, member: int = 1 << 20) -> bytes:
    """``head`` then ``zeros`` zero bytes, gzip-compressed, built in milliseconds.

    One member holding ``member`` zeros is compressed once and repeated: gzip readers take
    concatenated members as one stream, so 6 GiB of zeros is about 6 MB of file, as in the
    report that prompted the limits.
    """
    one = gzip.compress(bytes(member), compresslevel=9)
    count, rest = divmod(zeros, member)
    return gzip.compress(head) + one * count + (gzip.compress(bytes(rest)) if rest else b"")


def peak_memory(call: Callable[[], Any]) -> tuple[Any, int]:
    """``(result or exception, peak bytes allocated by Python and NumPy while calling)``."""
    tracemalloc.start()
    try:
        try:
            result: Any = call()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + np.array(shape, dtype=">u4").tobytes()
