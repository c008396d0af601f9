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
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["read_idx"]

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; check the path or --data-dir") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an IDX file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; make the file readable") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(
                f"{path}: corrupted or truncated gzip data ({exc}); download the file again"
            ) from None
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a NumPy array in native byte order.

    Raises :class:`~scratchnn.errors.InputError` naming the file for a wrong magic number, a
    truncated file or trailing data.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise InputError(
            f"{path}: not an IDX file (wrong magic number {data[:4].hex() or 'empty'}); "
            "expected an MNIST-format file such as train-images-idx3-ubyte[.gz]"
        )
    dtype, ndim = _DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"{path}: truncated IDX header; download the file again")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for any header
    actual = len(data) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise InputError(
            f"{path}: IDX data is {problem} ({actual} bytes for shape {shape}, expected "
            f"{expected}); download the file again"
        )
    try:
        array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    except ValueError:  # e.g. (0, 2**31, 2**31): no data, yet too big for NumPy's index type
        raise InputError(
            f"{path}: IDX header claims shape {shape}, which NumPy cannot represent; "
            "the file is damaged, download it again"
        ) from None
    return array.astype(dtype.newbyteorder("="), copy=True)
