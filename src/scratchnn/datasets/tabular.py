"""CSV files: any table with a target column, read with pandas; generated sets saved as CSV.

:func:`load_csv` takes every column except the target as a feature; each must be numeric
(booleans count as 0/1). Problems a user can cause each get a one-line
:class:`~scratchnn.errors.InputError` naming the file and the fix: a missing file, an empty
file, a missing target column, missing values, a non-numeric feature column, a classifier
target with only one class.

Class labels of any kind (``0/1``, ``-1/1``, ``"cat"/"dog"``) are mapped to ``0 .. C-1`` in
sorted order; the original values are kept in :attr:`CSVData.classes` so that predictions can
be written back in the user's own labels (the CLI saves them in the model's metadata).

The file itself is read by :func:`~scratchnn.datasets.csv_file.read_table`, which enforces
the size, line and field limits of :mod:`scratchnn.datasets.csv_file`; the labels are
mapped by :mod:`scratchnn.datasets.labels`. Both are re-exported here.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pets.csv"
>>> _ = path.write_text("weight,height,label\\n4.0,25,cat\\n30.5,60,dog\\n3.5,23,cat\\n")
>>> data = load_csv(path)
>>> data.X.shape, data.y.tolist(), data.classes, data.feature_names
((3, 2), [0, 1, 0], ['cat', 'dog'], ['weight', 'height'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ShapeError, warn
from ..io.atomic import atomic_write_bytes
from ._files import quote_names, short
from .csv_file import MAX_CSV_BYTES, MAX_FIELD_CHARS, MAX_LINE_BYTES, read_table
from .labels import MAX_ABS_LABEL, TASKS, encode_labels, infer_task

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


def _check_missing(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = frame[columns].isna()
    if missing.to_numpy().any():
        counts = missing.sum()
        bad = [c for c in columns if counts[c] > 0]
        first_row = int(np.flatnonzero(missing.any(axis=1).to_numpy())[0])
        raise InputError(
            f"{path}: {int(counts.sum())} missing value(s) in column(s) {quote_names(bad)} "
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
            f"{path}: feature column(s) {quote_names(bad)} are not numeric (e.g. {short(values.iloc[where])} "
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
            f"{path}: missing feature column(s) {quote_names(absent)} that the model was trained "
            f"on (columns here: {quote_names(columns)}); use a file with the same columns"
        )
    if not features:
        raise InputError(f"{path}: no feature columns; add some")
    _check_missing(path, frame, list(features))
    return _numeric_features(path, frame, list(features)), list(features), frame


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
            f"{path}: no target column {target!r} (columns: {quote_names(columns)}); "
            "name the label column with --target COLUMN"
        )
    if features is None:
        features = [c for c in columns if c != target]
    else:
        absent = [c for c in features if c not in columns]
        if absent:
            raise ShapeError(
                f"{path}: missing feature column(s) {quote_names(absent)} that the model was trained "
                f"on (columns here: {quote_names(columns)}); use a file with the same columns"
            )
    if not features:
        raise InputError(f"{path}: no feature columns besides the target {target!r}; add some")
    _check_missing(path, frame, features + ([target] if has_target else []))
    X = _numeric_features(path, frame, features)

    y = None
    kind = task
    if has_target:
        values = frame[target]
        kind = infer_task(values) if task == "auto" else task
        if classes is not None and task == "auto":
            kind = "classification"
        if task == "auto" and kind == "regression":
            _warn_if_classes_look_fractional(path, target, values)
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
            y, classes = encode_labels(path, target, values, classes)
    elif kind == "auto":
        kind = "classification" if classes is not None else "auto"
    return CSVData(X, y, list(features), target, kind, classes, path)


#: An automatic switch to regression is worth a warning when the target has this few distinct
#: values: then they were probably meant as classes.
FEW_VALUES = 20


def _warn_if_classes_look_fractional(path: Path, target: str, values: pd.Series) -> None:
    """Say why a target of a few distinct values is treated as regression, not as classes."""
    array = values.to_numpy(dtype=np.float64)
    distinct = np.unique(array)
    if distinct.size > FEW_VALUES:
        return
    row = int(np.flatnonzero(array != np.round(array))[0])
    warn(
        f"{path}: target column {target!r} is treated as a regression target (MSE, one "
        f"output), not as class labels, because its values are not all whole numbers "
        f"({array[row]:g} on line {row + 2}); if its {distinct.size} distinct values are "
        "classes, write them as whole numbers (0, 1, 2, ...) or as names"
    )


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
