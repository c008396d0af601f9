"""Class labels and the task: :func:`infer_task` and :func:`encode_labels`.

A target column of whole numbers, booleans or strings is read as class labels
(``"auto"``); any other numeric one as regression values. Labels of any kind (``0/1``,
``-1/1``, ``"cat"/"dog"``) become the indices ``0 .. C-1`` of their sorted distinct values,
and the values themselves are kept, as plain JSON values, so that predictions can be
written back in the user's own labels.

>>> encode_labels(Path("pets.csv"), "label", pd.Series(["dog", "cat", "dog"]), None)
(array([1, 0, 1]), ['cat', 'dog'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._files import quote_names, short
from .csv_file import MAX_FIELD_CHARS

__all__ = ["MAX_ABS_LABEL", "TASKS", "encode_labels", "infer_task"]

#: The values of ``task``: ``"auto"`` chooses from the target column with :func:`infer_task`.
TASKS = ("auto", "classification", "regression")

#: The largest magnitude of a whole-number class label: float64 holds every integer up to it.
MAX_ABS_LABEL = 2**53


def _plain(value: Any) -> Any:
    """A NumPy/pandas scalar as a plain JSON-able Python value."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def infer_task(values: pd.Series) -> str:
    """``"classification"`` for whole numbers, booleans or strings, else ``"regression"``."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    array = values.to_numpy(dtype=np.float64)
    return "classification" if np.array_equal(array, np.round(array)) else "regression"


def encode_labels(
    path: Path, target: str, values: pd.Series, classes: list[Any] | None
) -> tuple[np.ndarray, list[Any]]:
    """The class index of each label in ``values`` and the label of each index: ``(codes, classes)``.

    ``classes`` is a known mapping (from a trained model; a label outside it is an error) or
    ``None`` for the sorted distinct labels, of which there must be at least two. Whole
    numbers beyond :data:`MAX_ABS_LABEL`, fractional numbers and names longer than
    :data:`~scratchnn.datasets.csv_file.MAX_FIELD_CHARS` are refused with one
    :class:`~scratchnn.errors.InputError` line naming ``path``, the ``target`` column and the
    fix.
    """
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
                f"({quote_names(classes)}); use data with the same labels"
            )
        codes[n] = code
    return codes, list(classes)
