"""CSV files: any table with a target column, read with pandas; generated sets saved as CSV.

:func:`load_csv` takes every column except the target as a feature; each must be numeric
(booleans count as 0/1). Problems a user can cause each get a one-line
:class:`~scratchnn.errors.InputError` naming the file and the fix: a missing file, an empty
file, a missing target column, missing values, a non-numeric feature column, a classifier
target with only one class.

Class labels of any kind (``0/1``, ``-1/1``, ``"cat"/"dog"``) are mapped to ``0 .. C-1`` in
sorted order; the original values are kept in :attr:`CSVData.classes` so that predictions can
be written back in the user's own labels (the CLI saves them in the model's metadata).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pets.csv"
>>> _ = path.write_text("weight,height,label\\n4.0,25,cat\\n30.5,60,dog\\n3.5,23,cat\\n")
>>> data = load_csv(path)
>>> data.X.shape, data.y.tolist(), data.classes, data.feature_names
((3, 2), [0, 1, 0], ['cat', 'dog'], ['weight', 'height'])
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ShapeError
from ..io.atomic import atomic_write_bytes
from ._files import open_regular, read_capped, short, size_text

__all__ = [
    "MAX_ABS_LABEL",
    "MAX_CSV_BYTES",
    "MAX_FIELD_CHARS",
    "MAX_LINE_BYTES",
    "CSVData",
    "load_csv",
    "load_features",
    "read_table",
    "save_csv",
]

TASKS = ("auto", "classification", "regression")

#: The most CSV text read from one file (after gzip decompression): 1 GiB.
MAX_CSV_BYTES = 1 << 30
#: The longest line of a CSV file, in bytes: 1 MiB (about 50,000 numeric columns).
MAX_LINE_BYTES = 1 << 20
#: The longest column name or class label, in characters.
MAX_FIELD_CHARS = 256
#: The largest magnitude of a whole-number class label: float64 holds every integer up to it.
MAX_ABS_LABEL = 2**53

# magic bytes of the compressed formats pandas would guess from a file name
_OTHER_COMPRESSION = {
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


@dataclass
class CSVData:
    """What :func:`load_csv` read.

    Attributes
    ----------
    X : ndarray of float64, shape (N, D)
        The feature columns, in file order.
    y : ndarray or None
        Class indices ``0 .. C-1`` (int64) for classification, float64 values for regression;
        ``None`` if the file has no target column and none was required.
    feature_names : list of str
        The feature columns' names.
    target : str
        The target column's name.
    task : {"classification", "regression"}
    classes : list or None
        The original label of each class index (``classes[y[n]]`` is row n's label), as plain
        JSON values; ``None`` for regression.
    path : Path
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target: str
    task: str
    classes: list[Any] | None = None
    path: Path = field(default_factory=Path)


def _plain(value: Any) -> Any:
    """A NumPy/pandas scalar as a plain JSON-able Python value."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _quote(names: list[str], most: int = 10) -> str:
    """Names for a message: quoted, at most ``most`` of them (a table may have thousands)."""
    shown = ", ".join(short(str(n)) for n in names[:most])
    return shown if len(names) <= most else f"{shown}, ... ({len(names) - most} more)"


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
        problem = f"repeated {_quote(duplicated)}" if duplicated else "an empty name"
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


def _check_missing(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = frame[columns].isna()
    if missing.to_numpy().any():
        counts = missing.sum()
        bad = [c for c in columns if counts[c] > 0]
        first_row = int(np.flatnonzero(missing.any(axis=1).to_numpy())[0])
        raise InputError(
            f"{path}: {int(counts.sum())} missing value(s) in column(s) {_quote(bad)} "
            f"(first on line {first_row + 2}); fill them in or drop those rows"
        )


def _numeric_features(path: Path, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    bad = [
        c
        for c in columns
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]
    if bad:
        column = bad[0]
        values = frame[column]
        numeric = pd.to_numeric(values, errors="coerce")
        where = int(np.flatnonzero(numeric.isna().to_numpy())[0])
        raise InputError(
            f"{path}: feature column(s) {_quote(bad)} are not numeric (e.g. {short(values.iloc[where])} "
            f"on line {where + 2}); remove them or encode them as numbers, or choose the target "
            "with --target"
        )
    X = frame[columns].to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError(
            f"{path}: infinite value on line {row + 2}; replace it with a finite number"
        )
    return X


def load_features(
    path: str | os.PathLike[str],
    features: list[str] | None = None,
    exclude: tuple[str, ...] = ("label",),
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """Only the feature columns of a CSV (e.g. new points to predict): ``(X, names, table)``.

    ``features`` picks columns by name (each must exist); by default every column not in
    ``exclude``. The other columns are not checked, and ``table`` returns them all.
    """
    path = Path(path)
    frame = read_table(path)
    columns = list(frame.columns)
    if features is None:
        features = [c for c in columns if c not in exclude]
    absent = [c for c in features if c not in columns]
    if absent:
        raise ShapeError(
            f"{path}: missing feature column(s) {_quote(absent)} that the model was trained "
            f"on (columns here: {_quote(columns)}); use a file with the same columns"
        )
    if not features:
        raise InputError(f"{path}: no feature columns; add some")
    _check_missing(path, frame, list(features))
    return _numeric_features(path, frame, list(features)), list(features), frame


def _infer_task(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    array = values.to_numpy(dtype=np.float64)
    return "classification" if np.array_equal(array, np.round(array)) else "regression"


def load_csv(
    path: str | os.PathLike[str],
    target: str = "label",
    task: str = "auto",
    features: list[str] | None = None,
    require_target: bool = True,
    classes: list[Any] | None = None,
) -> CSVData:
    """Read a CSV file: ``target`` is the label column, every other column a numeric feature.

    Parameters
    ----------
    path : path-like
        The file; the first line names the columns.
    target : str
        The target column (``--target`` on the command line), ``"label"`` by default.
    task : {"auto", "classification", "regression"}
        ``"auto"`` treats a target of whole numbers, booleans or strings as class labels and
        any other numeric target as a regression value.
    features : list of str, optional
        Use exactly these feature columns (e.g. those a model was trained on); other columns
        are ignored. By default every column except the target.
    require_target : bool
        If False, a file without the target column is fine (``y`` is then ``None``), as for
        new points to predict.
    classes : list, optional
        A known label mapping (from a trained model): labels are mapped to their index in it,
        and a label outside it is an error. By default the sorted distinct labels of the file.

    Raises
    ------
    InputError
        With the file name and the fix, for each problem listed in the module docstring.
    """
    path = Path(path)
    if task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    frame = read_table(path)
    columns = list(frame.columns)
    has_target = target in columns
    if not has_target and require_target:
        raise InputError(
            f"{path}: no target column {target!r} (columns: {_quote(columns)}); "
            "name the label column with --target COLUMN"
        )
    if features is None:
        features = [c for c in columns if c != target]
    else:
        absent = [c for c in features if c not in columns]
        if absent:
            raise ShapeError(
                f"{path}: missing feature column(s) {_quote(absent)} that the model was trained "
                f"on (columns here: {_quote(columns)}); use a file with the same columns"
            )
    if not features:
        raise InputError(f"{path}: no feature columns besides the target {target!r}; add some")
    _check_missing(path, frame, features + ([target] if has_target else []))
    X = _numeric_features(path, frame, features)

    y = None
    kind = task
    if has_target:
        values = frame[target]
        kind = _infer_task(values) if task == "auto" else task
        if classes is not None and task == "auto":
            kind = "classification"
        if kind == "regression":
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                raise InputError(
                    f"{path}: target column {target!r} is not numeric, so it cannot be a "
                    "regression target; use --task classification"
                )
            y = values.to_numpy(dtype=np.float64)
            if not np.isfinite(y).all():
                raise InputError(f"{path}: target column {target!r} has infinite values")
            classes = None
        else:
            y, classes = _encode_labels(path, target, values, classes)
    elif kind == "auto":
        kind = "classification" if classes is not None else "auto"
    return CSVData(X, y, list(features), target, kind, classes, path)


def _encode_labels(
    path: Path, target: str, values: pd.Series, classes: list[Any] | None
) -> tuple[np.ndarray, list[Any]]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        raw = values.to_numpy()
        if raw.dtype.kind in "iu":  # compare the integers themselves: float64 would round them
            outside = (raw > MAX_ABS_LABEL) | (raw < -MAX_ABS_LABEL)
        else:
            outside = ~(np.abs(raw.astype(np.float64)) <= MAX_ABS_LABEL)  # inf and NaN too
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise InputError(
                f"{path}: label {short(raw[row].item())} on line {row + 2} of target column "
                f"{target!r} is too large for a class label (beyond ±2**53); use smaller whole "
                "numbers or names, or --task regression"
            )
        numbers = raw.astype(np.float64)
        if not np.array_equal(numbers, np.round(numbers)):
            raise InputError(
                f"{path}: target column {target!r} has fractional values; class labels must be "
                "whole numbers or names (use --task regression for a numeric target)"
            )
        values = pd.Series(raw.astype(np.int64))
    elif not pd.api.types.is_bool_dtype(values):
        values = values.astype(str).str.strip()
        lengths = values.str.len().to_numpy()
        if lengths.size and lengths.max() > MAX_FIELD_CHARS:
            row = int(np.flatnonzero(lengths > MAX_FIELD_CHARS)[0])
            raise InputError(
                f"{path}: label on line {row + 2} of target column {target!r} is "
                f"{lengths[row]:,} characters long, more than {MAX_FIELD_CHARS} for a class "
                "name; is this the right target column?"
            )
    if classes is None:
        classes = [_plain(v) for v in sorted(pd.unique(values))]
        if len(classes) < 2:
            raise InputError(
                f"{path}: target column {target!r} has only one class ({classes[0]!r}); "
                "a classifier needs examples of at least two classes"
            )
    index = {c: i for i, c in enumerate(classes)}
    # labels saved with a model went through JSON: match them by their text as well
    index.update({str(c): i for i, c in enumerate(classes)})
    codes = np.empty(len(values), dtype=np.int64)
    for n, v in enumerate(values.tolist()):
        code = index.get(v, index.get(str(v)))
        if code is None:
            raise InputError(
                f"{path}: label {short(v)} on line {n + 2} is not one of the model's classes "
                f"({_quote(classes)}); use data with the same labels"
            )
        codes[n] = code
    return codes, list(classes)


def save_csv(
    path: str | os.PathLike[str],
    X: np.ndarray,
    y: np.ndarray,
    columns: list[str] | None = None,
    target: str = "label",
) -> Path:
    """Write ``(X, y)`` as CSV, atomically: columns ``x, y, label`` for 2-D data.

    Other widths get ``x`` (one feature) or ``x0, x1, ...``; pass ``columns`` to name the
    features yourself. Values are written with full precision, so :func:`load_csv` reads back
    exactly the same numbers.

    >>> import tempfile, pathlib
    >>> from scratchnn.datasets import circle_regions
    >>> X, y = circle_regions(10, seed=0)
    >>> path = save_csv(pathlib.Path(tempfile.mkdtemp()) / "circle.csv", X, y)
    >>> path.read_text().splitlines()[0]
    'x,y,label'
    >>> bool(np.array_equal(load_csv(path).X, X))
    True
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ShapeError(
            f"save_csv needs X of shape (N, D) and y of shape (N,), got {X.shape} and {y.shape}"
        )
    if columns is None:
        d = X.shape[1]
        columns = ["x", "y"] if d == 2 else ["x"] if d == 1 else [f"x{i}" for i in range(d)]
    if len(columns) != X.shape[1] or target in columns:
        raise InputError(
            f"save_csv needs {X.shape[1]} feature names different from {target!r}, got {columns}"
        )
    frame = pd.DataFrame(X, columns=columns)
    frame[target] = y
    path = Path(path)
    atomic_write_bytes(path, frame.to_csv(index=False).encode())
    return path
