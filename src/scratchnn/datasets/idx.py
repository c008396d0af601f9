"""Reading the IDX format of MNIST and its relatives (Fashion-MNIST, KMNIST, EMNIST).

An IDX file is a big-endian header followed by raw data::

    bytes 0-1   zero
    byte  2     data type code (0x08 = unsigned byte, 0x09 signed byte, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64)
    byte  3     number of dimensions d
    then        d big-endian uint32 sizes, then the data in C order

So the training images of MNIST start with ``00 00 08 03`` (magic 2051), then 60000, 28, 28.
Files may be gzip-compressed (``.gz``); the reader checks the magic number, the header and
that the data is exactly as long as the header says.

Limits, so that no file can hang the reader or fill the memory:

- only regular files are read (a FIFO or ``/dev/zero`` is refused before it is opened);
- a header declaring more than :data:`MAX_IDX_BYTES` of data is refused before anything is
  allocated;
- a gzip file is decompressed as a stream and never past the size its header declares, so a
  small file that would expand to gigabytes (a "gzip bomb") is refused after reading one
  byte more than the header promised.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import InputError
from ._files import open_regular, size_text

__all__ = ["MAX_IDX_BYTES", "read_idx"]

#: The most data (after decompression, header excluded) :func:`read_idx` accepts: 2 GiB.
#: The largest MNIST-format set in use, EMNIST ByClass, has 0.55 GB of training images.
MAX_IDX_BYTES = 2 << 30

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class _Corrupt(Exception):
    """The gzip stream itself is damaged (raised while reading, turned into an InputError)."""


def _read(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the data)."""
    try:
        return stream.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise _Corrupt(str(exc)) from None


def _read_data(stream: BinaryIO, expected: int, compressed: bool) -> bytearray:
    """The data after the header: ``expected`` bytes, or fewer if the stream ends first."""
    if not compressed:
        # a raw file's size was checked already: one buffer of the final size, filled in place
        buffer = bytearray(expected)
        view, filled = memoryview(buffer), 0
        while filled < expected:
            got = stream.readinto(view[filled:])
            if not got:
                break
            filled += got
        return buffer[:filled] if filled < expected else buffer
    # a gzip stream may end long before its header's size: grow with what arrives instead of
    # allocating the size a (possibly lying) header claims
    buffer = bytearray()
    while len(buffer) < expected:
        part = _read(stream, min(1 << 20, expected - len(buffer)))
        if not part:
            break
        buffer += part
    return buffer


def read_idx(path: str | os.PathLike[str], max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a NumPy array in native byte order.

    Parameters
    ----------
    path : path-like
        A regular file; gzip data is recognised by its magic bytes, whatever the name.
    max_bytes : int
        The largest data size the header may declare (:data:`MAX_IDX_BYTES`, 2 GiB).

    Raises
    ------
    InputError
        A one-line message naming the file: not a regular file, wrong magic number, a header
        declaring more than ``max_bytes``, data shorter or longer than the header says,
        corrupted gzip data.
    """
    path = Path(path)
    fh, info = open_regular(path, "an IDX file", hint=" or --data-dir")
    with fh:
        try:
            return _parse(path, fh, info.st_size, max_bytes)
        except _Corrupt as exc:
            raise InputError(
                f"{path}: corrupted or truncated gzip data ({exc}); download the file again"
            ) from None


def _parse(path: Path, fh: BinaryIO, file_size: int, max_bytes: int) -> np.ndarray:
    compressed = fh.read(2) == b"\x1f\x8b"  # gzip magic, whatever the file is called
    fh.seek(0)
    stream: BinaryIO = gzip.GzipFile(fileobj=fh, mode="rb") if compressed else fh
    magic = _read(stream, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise InputError(
            f"{path}: not an IDX file (wrong magic number {magic.hex() or 'empty'}); "
            "expected an MNIST-format file such as train-images-idx3-ubyte[.gz]"
        )
    dtype, ndim = IDX_DTYPES[magic[2]], magic[3]
    sizes = _read(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise InputError(f"{path}: truncated IDX header; download the file again")
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for any header
    if expected > max_bytes:
        raise InputError(
            f"{path}: IDX header claims shape {shape} ({size_text(expected)} of data), more "
            f"than the {size_text(max_bytes)} limit; the file is damaged, download it again"
        )
    if not compressed and file_size - header != expected:
        # the size of a raw file is known: decide without reading the data
        _wrong_length(path, shape, expected, file_size - header)
    buffer = _read_data(stream, expected, compressed)
    if len(buffer) < expected:
        _wrong_length(path, shape, expected, len(buffer))
    if _read(stream, 1):  # one byte past the header's size is enough to refuse
        _wrong_length(path, shape, expected, None)
    try:
        array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    except ValueError:  # e.g. (0, 2**31, 2**31): no data, yet too big for NumPy's index type
        raise InputError(
            f"{path}: IDX header claims shape {shape}, which NumPy cannot represent; "
            "the file is damaged, download it again"
        ) from None
    # uint8 data stays in its buffer (no copy); big-endian numbers are converted
    return array.astype(dtype.newbyteorder("="), copy=False)


def _wrong_length(path: Path, shape: tuple[int, ...], expected: int, actual: int | None) -> None:
    """Refuse data of the wrong length; ``actual`` is ``None`` when only "too long" is known."""
    if actual is not None and actual < expected:
        problem, found = "truncated", f"{actual} bytes"
    else:
        problem = "longer than its header says"
        found = f"more than {expected} bytes" if actual is None else f"{actual} bytes"
    raise InputError(
        f"{path}: IDX data is {problem} ({found} for shape {shape}, expected {expected}); "
        "download the file again"
    )
