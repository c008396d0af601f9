"""Reading a CSV file safely: :func:`read_table`, within limits, with one-line errors.

A CSV file named on the command line may be anything; reading it must neither hang, nor
fill the memory, nor print a page of parser traceback. :func:`read_table` therefore

- opens only a regular file (no FIFO, device or directory), plain or gzip-compressed
  (recognised by its magic bytes, not its name); a zip, bzip2, xz or zstd file is refused
  with the fix;
- reads at most :data:`MAX_CSV_BYTES` of CSV text (after decompression, so a gzip bomb
  stops at the limit), and refuses a line longer than :data:`MAX_LINE_BYTES` before pandas
  parses it;
- checks the header: names unique, non-empty, at most :data:`MAX_FIELD_CHARS` characters,
  without line breaks or control characters;
- turns each problem (not found, empty, ragged rows, unreadable bytes, no data rows) into one
  :class:`~scratchnn.errors.InputError` line naming the file and the fix.

What the columns *mean* (features, a target, class labels) is the business of
:mod:`scratchnn.datasets.tabular`.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ._files import open_regular, quote_names, read_capped, short, size_text

__all__ = ["MAX_CSV_BYTES", "MAX_FIELD_CHARS", "MAX_LINE_BYTES", "read_table"]

#: The most CSV text read from one file (after gzip decompression): 1 GiB.
MAX_CSV_BYTES = 1 << 30
#: The longest line of a CSV file, in bytes: 1 MiB (about 50,000 numeric columns).
MAX_LINE_BYTES = 1 << 20
#: The longest column name or class label, in characters.
MAX_FIELD_CHARS = 256

# magic bytes of the compressed formats pandas would guess from a file name
_OTHER_COMPRESSION = {
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def _read_text(path: Path) -> bytes:
    """The file's CSV bytes (gzip decompressed), within :data:`MAX_CSV_BYTES`."""
    fh, info = open_regular(path, "a CSV file")
    with fh:
        magic = fh.read(6)
        fh.seek(0)
        for prefix, kind in _OTHER_COMPRESSION.items():
            if magic.startswith(prefix):
                raise InputError(
                    f"{path}: is {kind}-compressed; only plain or gzip-compressed CSV is read, "
                    "decompress it first"
                )
        if magic[:2] == b"\x1f\x8b":
            try:
                text, too_long = read_capped(gzip.GzipFile(fileobj=fh, mode="rb"), MAX_CSV_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(
                    f"{path}: corrupted or truncated gzip data ({exc}); compress the CSV again"
                ) from None
            if too_long:
                raise InputError(
                    f"{path}: decompresses to more than {size_text(MAX_CSV_BYTES)}, the limit "
                    "for a CSV file (MAX_CSV_BYTES); use a smaller file"
                )
            return text
        if info.st_size > MAX_CSV_BYTES:
            raise InputError(
                f"{path}: is {info.st_size:,} bytes, more than {size_text(MAX_CSV_BYTES)}, the "
                "limit for a CSV file (MAX_CSV_BYTES); use a smaller file"
            )
        # one read of the size on disk (plus one byte, to notice a file that grew meanwhile):
        # no chunks to join, so the text is in memory once
        text, too_long = fh.read(info.st_size + 1), False
        if len(text) > info.st_size:  # it grew, or is a /proc-like file that reports size 0
            more, too_long = read_capped(fh, max(MAX_CSV_BYTES - len(text), 0))
            text += more
        if too_long or len(text) > MAX_CSV_BYTES:
            raise InputError(
                f"{path}: holds more than {size_text(MAX_CSV_BYTES)}, the limit for a CSV file "
                "(MAX_CSV_BYTES); use a smaller file"
            )
        return text


def _line_number(text: bytes, position: int) -> int:
    """The 1-based line of byte ``position`` (lines end with \\n; or \\r if there is no \\n)."""
    end = b"\n" if b"\n" in text else b"\r"
    return text.count(end, 0, position) + 1


def _check_line_lengths(path: Path, text: bytes, limit: int = MAX_LINE_BYTES) -> None:
    """Refuse a line longer than ``limit`` bytes, naming it; vectorised, 4 MiB at a time."""
    data = np.frombuffer(text, dtype=np.uint8)
    previous_end, step = -1, 1 << 22  # index of the last line end seen
    for start in range(0, len(data), step):
        chunk = data[start : start + step]
        ends = np.flatnonzero((chunk == 10) | (chunk == 13)) + start
        bounds = np.concatenate(([previous_end], ends, [start + len(chunk)]))
        lengths = np.diff(bounds) - 1
        lengths[-1] += 1  # the last piece runs to the chunk's end, not to a line end
        long = np.flatnonzero(lengths > limit)
        if long.size:
            first = int(bounds[long[0]]) + 1
            raise InputError(
                f"{path}: line {_line_number(text, first)} is longer than "
                f"{size_text(limit)}, the limit for a CSV line (MAX_LINE_BYTES); is this a "
                "CSV file with one row per line?"
            )
        if ends.size:
            previous_end = int(ends[-1])


def _header_names(path: Path, text: bytes) -> list[str]:
    """The header line's column names, stripped, as written (pandas renames repeated ones)."""
    row = pd.read_csv(
        io.BytesIO(text),
        header=None,
        nrows=1,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
    )
    # str.strip() would also remove line breaks (and NEL, U+2028): look before stripping
    names = [str(name).strip(" \t") for name in row.iloc[0].tolist()]
    for name in names:
        if len(name) > MAX_FIELD_CHARS:
            raise InputError(
                f"{path}: column name {short(name)} is longer than {MAX_FIELD_CHARS} "
                "characters; fix the header line"
            )
        if not name.isprintable():
            raise InputError(
                f"{path}: column name {short(name)} holds a line break or control character "
                "(a quoted newline in the header?); write each name on the header line"
            )
    names = [name.strip() for name in names]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated or "" in names:
        problem = f"repeated {quote_names(duplicated)}" if duplicated else "an empty name"
        raise InputError(
            f"{path}: column names must be unique and non-empty ({problem}); fix the header line"
        )
    return names


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV into a DataFrame with file-naming one-line errors (not found, empty, ragged).

    Plain or gzip-compressed CSV, within the limits listed in the module docstring. Missing
    values are left as NaN for the caller to report; the DataFrame has at least one row.
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; expected a header line and rows of values")
    _check_line_lengths(path, text)
    try:
        frame = pd.read_csv(io.BytesIO(text), skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: the file is empty; expected a header line and rows of values"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().splitlines()[-1]
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        raise InputError(
            f"{path}: not a readable CSV ({detail}); every line needs as many commas as the header"
        ) from None
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # pandas took a column as index
        raise InputError(
            f"{path}: the data rows have more fields than the header line; "
            "give every column a name in the header"
        )
    if frame.shape[0] == 0:
        raise InputError(f"{path}: has a header but no rows of data; add rows")
    header = _header_names(path, text)
    if len(header) != frame.shape[1]:
        raise InputError(
            f"{path}: the header line has {len(header)} names but pandas read "
            f"{frame.shape[1]} columns; fix the header line"
        )
    frame.columns = header
    return frame
