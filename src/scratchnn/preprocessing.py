"""Splitting and scaling data: fitted on the training set only, seeded, stratified.

>>> import numpy as np
>>> X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 5 + [1] * 5)
>>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0)
>>> X_tr.shape, X_te.shape, sorted(y_te.tolist())
((8, 2), (2, 2), [0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import as_generator, check_fraction
from .errors import InputError, NotFittedError, ShapeError
from .losses import one_hot

__all__ = [
    "MinMaxScaler",
    "Standardizer",
    "one_hot",
    "split_indices",
    "train_test_split",
    "train_val_test_indices",
]


def split_indices(
    n: int,
    test_size: float,
    y: np.ndarray | None = None,
    stratify: bool = True,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(train_idx, test_idx)`` for ``n`` examples, stratified by class labels ``y``.

    With stratification each class contributes ``round(test_size · its count)`` examples to
    the test part, so small classes are represented in both parts.
    """
    check_fraction(test_size, "test_size", allow_zero=False)
    rng = as_generator(rng)
    if y is None or not stratify:
        order = rng.permutation(n)
        n_test = int(round(n * test_size))
        if not 0 < n_test < n:
            raise ShapeError(f"test_size={test_size} of {n} examples leaves an empty part")
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    y = np.asarray(y)
    if y.shape[0] != n:
        raise ShapeError(f"X has {n} examples but y has {y.shape[0]}; they must match")
    test_parts = []
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        members = members[rng.permutation(members.size)]
        test_parts.append(members[: int(round(members.size * test_size))])
    test = np.sort(np.concatenate(test_parts))
    if test.size == 0 or test.size == n:
        raise ShapeError(f"test_size={test_size} of {n} examples leaves an empty part")
    train = np.setdiff1d(np.arange(n), test, assume_unique=True)
    return train, test


def train_test_split(
    X: Any,
    y: Any,
    test_size: float = 0.2,
    stratify: bool = True,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into ``X_train, X_test, y_train, y_test``, stratified by the labels by default.

    Stratification applies to integer (or string) labels; pass ``stratify=False`` for
    regression targets.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ShapeError(f"X has {X.shape[0]} examples but y has {y.shape[0]}; they must match")
    strat = stratify and y.ndim == 1 and not np.issubdtype(y.dtype, np.floating)
    train, test = split_indices(
        X.shape[0], test_size, y if strat else None, strat, rng if rng is not None else seed
    )
    return X[train], X[test], y[train], y[test]


def train_val_test_indices(
    n: int,
    val_size: float,
    test_size: float,
    y: np.ndarray | None = None,
    stratify: bool = True,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random ``(train_idx, val_idx, test_idx)``, each a fraction of all ``n`` examples.

    ``test_size`` and ``val_size`` are fractions of the whole set (``val_size`` may be 0,
    giving an empty validation part). With labels ``y`` both splits are stratified, so each
    class keeps its proportion in all three parts.

    >>> y = np.array([0] * 50 + [1] * 50)
    >>> tr, va, te = train_val_test_indices(100, 0.1, 0.2, y, rng=0)
    >>> len(tr), len(va), len(te), int(y[te].sum()), int(y[va].sum())
    (70, 10, 20, 10, 5)
    """
    check_fraction(val_size, "val_size")
    check_fraction(test_size, "test_size", allow_zero=False)
    if val_size + test_size >= 1:
        raise InputError(
            f"val_size + test_size = {val_size + test_size:g} leaves nothing to train on; "
            "make them smaller"
        )
    rng = as_generator(rng)
    rest, test = split_indices(n, test_size, y, stratify, rng)
    if val_size == 0:
        return rest, np.empty(0, dtype=rest.dtype), test
    # val_size is a fraction of the whole set, so of the remainder it is val / (1 - test)
    sub_y = None if y is None else np.asarray(y)[rest]
    train_pos, val_pos = split_indices(rest.size, val_size / (1 - test_size), sub_y, stratify, rng)
    return rest[train_pos], rest[val_pos], test


class Standardizer:
    """Scale each feature to zero mean and unit variance, with statistics from the training set.

    Constant features (σ = 0) are only centred.

    >>> s = Standardizer().fit(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> s.transform(np.array([[1.0, 1.0], [3.0, 2.0]]))
    array([[0., 0.],
           [2., 1.]])
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: Any) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ShapeError(f"Standardizer.fit needs a non-empty 2-D array, got shape {X.shape}")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def _check(self, X: Any) -> np.ndarray:
        if self.mean_ is None:
            raise NotFittedError("Standardizer is not fitted; call fit(X_train) first")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ShapeError(
                f"expected {self.mean_.shape[0]} features, got data of shape {X.shape}"
            )
        return X

    def transform(self, X: Any) -> np.ndarray:
        X = self._check(X)
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        return ((X - self.mean_) / self.scale_).astype(dtype, copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        X = self._check(X)
        return X * self.scale_ + self.mean_

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def get_config(self) -> dict[str, Any]:
        if self.mean_ is None:
            raise NotFittedError("Standardizer is not fitted; call fit(X_train) first")
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Standardizer:
        s = cls()
        s.mean_ = np.asarray(config["mean"], dtype=np.float64)
        s.scale_ = np.asarray(config["scale"], dtype=np.float64)
        return s


class MinMaxScaler:
    """Scale each feature linearly to ``[low, high]`` using the training set's min and max.

    >>> MinMaxScaler().fit_transform(np.array([[0.0], [5.0], [10.0]])).ravel().tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        if not low < high:
            raise InputError(f"MinMaxScaler needs low < high, got {low} and {high}")
        self.low, self.high = float(low), float(high)
        self.min_: np.ndarray | None = None
        self.range_: np.ndarray | None = None

    def fit(self, X: Any) -> MinMaxScaler:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ShapeError(f"MinMaxScaler.fit needs a non-empty 2-D array, got shape {X.shape}")
        self.min_ = X.min(axis=0)
        rng = X.max(axis=0) - self.min_
        self.range_ = np.where(rng > 0, rng, 1.0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if self.min_ is None:
            raise NotFittedError("MinMaxScaler is not fitted; call fit(X_train) first")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.min_.shape[0]:
            raise ShapeError(f"expected {self.min_.shape[0]} features, got data of shape {X.shape}")
        return self.low + (X - self.min_) / self.range_ * (self.high - self.low)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)
