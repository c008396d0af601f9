"""Input checks at the package boundary (``fit``, ``evaluate``, ``predict``, losses).

Each check raises an :class:`~scratchnn.errors.InputError` whose message names the
problem and the fix. They run once per call on whole arrays, never per batch.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from .errors import InputError, ShapeError, warn


def as_array(X, name: str = "X") -> np.ndarray:
    """``np.asarray(X)``, with a ragged nested list reported as an :class:`InputError`."""
    try:
        return np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{name} is ragged or not array-like ({str(exc).split('.')[0]}); pass a rectangular "
            "array with the same number of values in every row"
        ) from None


def _check_numeric(arr: np.ndarray, name: str, what: str = "a numeric array") -> None:
    if arr.dtype.kind == "c":
        raise InputError(f"{name} is complex; pass a real-valued array")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} has dtype {arr.dtype}; pass {what}")


def _all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()`` without its boolean copy of the data (37 MiB for MNIST).

    ``min`` and ``max`` propagate NaN and are ±inf if any entry is, so two reductions decide.
    """
    return arr.size == 0 or bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def _to_float(arr: np.ndarray, dtype, name: str) -> np.ndarray:
    """Cast to ``dtype``; values that overflow it are an error, not a silent ``inf``."""
    if arr.dtype.kind == "f" and not _all_finite(arr):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise InputError(
            f"{name} contains {bad} NaN or infinite value(s); clean or impute them before training"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if not _all_finite(out):
        dtype = np.dtype(dtype)
        raise InputError(
            f"{name} has values too large for {dtype.name} (|x| > {np.finfo(dtype).max:.3g}); "
            "rescale the data (e.g. with Standardizer) or use a float64 model"
        )
    return out


def as_float_array(X, dtype, name: str = "X") -> np.ndarray:
    """Return ``X`` as a C-contiguous array of ``dtype``, rejecting non-numeric, empty or non-finite data."""
    arr = as_array(X, name)
    _check_numeric(arr, name)
    if arr.ndim == 0:
        raise ShapeError(f"{name} is a scalar; pass an array with one row per example")
    if arr.shape[0] == 0:
        raise ShapeError(f"{name} is empty (0 examples); pass at least one example")
    if arr.size == 0:
        raise ShapeError(f"{name} has shape {arr.shape}: no features; pass at least one column")
    return _to_float(arr, dtype, name)


#: Rows looked at to decide whether an input holds unscaled pixels: cheap, and enough.
_PIXEL_SAMPLE = 256


def warn_if_unscaled_pixels(X: np.ndarray, name: str = "X") -> None:
    """Warn when ``X`` looks like raw image bytes: whole numbers in ``[0, 255]`` above 1.5.

    Images (3-D or 4-D arrays) and wide rows (64 features or more, e.g. flattened 28×28
    digits) are checked, on their first rows only; narrow feature rows are left alone.
    """
    if not (X.ndim in (3, 4) or (X.ndim == 2 and X.shape[1] >= 64)):
        return
    sample = X[:_PIXEL_SAMPLE]
    top = float(sample.max())
    if not (1.5 < top <= 255 and float(sample.min()) >= 0):
        return
    if not np.array_equal(sample, np.round(sample)):
        return
    scale = 255 if top > 16 else top  # bytes, or e.g. scikit-learn's 4-bit digits (0..16)
    warn(
        f"{name} looks like unscaled image pixels (whole numbers from 0 to {top:g}): a network "
        f"trains badly on them; scale them to [0, 1] first, e.g. {name} = {name} / {scale:g}, "
        "and the test data the same way"
    )


def as_float_targets(T, dtype, name: str = "targets") -> np.ndarray:
    """Numeric targets (one-hot rows, probabilities, regression values) as finite ``dtype``."""
    arr = as_array(T, name)
    _check_numeric(arr, name, "numbers")
    return _to_float(arr, dtype, name)


def _label_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_labels(y, n_examples: int, num_classes: int | None = None, name: str = "y") -> np.ndarray:
    """Check integer class labels: one per example, whole numbers in ``[0, num_classes)``."""
    y = as_array(y, name)
    if y.ndim != 1:
        fix = f": use {name}.ravel()" if y.ndim == 2 and y.shape[1] == 1 else ""
        raise ShapeError(
            f"{name} has shape {y.shape}; integer labels must be 1-D (one per example){fix}"
        )
    if y.shape[0] != n_examples:
        raise ShapeError(
            f"X has {n_examples} examples but {name} has {y.shape[0]} labels; they must match"
        )
    if y.dtype.kind not in "iu":
        if y.dtype.kind != "f":
            raise InputError(f"{name} has dtype {y.dtype}; labels must be integers 0..C-1")
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise InputError(f"{name} has non-integer values; labels must be integers 0..C-1")
    if y.size:
        low, high = y.min().item(), y.max().item()  # compared before any cast can wrap them
        if low < 0:
            raise InputError(
                f"{name} has negative label {_label_text(low)}; labels must be in [0, C)"
            )
        if num_classes is not None and high >= num_classes:
            raise InputError(
                f"{name} has label {_label_text(high)} but the model has {num_classes} outputs; "
                f"labels must be in [0, {num_classes})"
            )
        if high > np.iinfo(np.intp).max:
            raise InputError(f"{name} has label {_label_text(high)}, too large for a class index")
    return y.astype(np.intp, copy=False)


def check_positive(value, name: str, integer: bool = False) -> None:
    """Reject non-positive (or, with ``integer``, non-integral) hyper-parameters."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise InputError(f"{name} must be a positive number, got {value!r}")
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value!r}")


def check_fraction(value, name: str, *, allow_zero: bool = True) -> None:
    """Reject values outside ``[0, 1)`` (or ``(0, 1)``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and (0 <= value < 1 if allow_zero else 0 < value < 1)
    if not ok:
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise InputError(f"{name} must be in {interval}, got {value!r}")


def as_generator(rng) -> np.random.Generator:
    """A Generator from a Generator, an int seed, or ``None`` (fresh OS entropy: not reproducible).

    scratchnn never draws from or seeds the global ``np.random`` state.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(None if rng is None else int(rng))
    raise InputError(f"rng must be a numpy.random.Generator, an int seed or None, got {rng!r}")


# -- a ceiling on what rebuilding a saved architecture may allocate ------------------------
_BUDGET: ContextVar[list[int] | None] = ContextVar("scratchnn_allocation_budget", default=None)


class BudgetExceeded(InputError):
    """A layer being rebuilt from a file declares more values than the file holds."""


@contextmanager
def allocation_budget(values: int) -> Iterator[None]:
    """While active, :func:`reserve` refuses parameters beyond about ``values`` numbers.

    ``values`` is what the file being loaded holds; twice as much plus a few thousand may
    be allocated, since some layers draw a bias from a weight-shaped sample.

    Loading a file rebuilds its architecture before the saved arrays are copied in; a
    3 KB file declaring ``Dense(15000, 15000)`` would otherwise draw 225 million random
    weights (2.6 GB) only to find them missing. The loader sets the budget from what the
    file holds, so the layers stop at the first weight the file cannot contain.
    """
    token = _BUDGET.set([int(values), 2 * int(values) + 4096])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def reserve(shape, what: str = "a parameter") -> None:
    """Count a parameter of ``shape`` against the active :func:`allocation_budget`, if any.

    Layers call it just before they allocate a parameter or buffer; outside a budget (a
    model built in code) it does nothing.
    """
    budget = _BUDGET.get()
    if budget is None:
        return
    dims = tuple(int(n) for n in shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    size = 1
    for n in dims:
        size *= max(n, 0)
    budget[1] -= size
    if budget[1] < 0:
        raise BudgetExceeded(
            f"it declares {what} of shape {dims} ({size:,} values), more than the "
            f"{budget[0]:,} values the file holds"
        )
