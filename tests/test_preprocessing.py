"""Splitting and scaling."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import InputError, NotFittedError, ShapeError
from scratchnn.preprocessing import MinMaxScaler, Standardizer, split_indices


def test_stratified_split_keeps_class_proportions():
    y = np.array([0] * 90 + [1] * 10)
    X = np.arange(100.0)[:, None]
    X_tr, X_te, _, y_te = snn.train_test_split(X, y, test_size=0.2, seed=0)
    assert (y_te == 1).sum() == 2 and (y_te == 0).sum() == 18
    assert sorted(np.concatenate([X_tr, X_te]).ravel().tolist()) == list(range(100))


def test_split_is_seeded():
    X, y = snn.datasets.circle_regions(100, seed=0)
    a = snn.train_test_split(X, y, seed=3)
    b = snn.train_test_split(X, y, seed=3)
    c = snn.train_test_split(X, y, seed=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_split_errors():
    with pytest.raises(ShapeError, match="must match"):
        snn.train_test_split(np.zeros((4, 1)), np.zeros(3, dtype=int))
    with pytest.raises(InputError, match="test_size"):
        split_indices(10, 1.0)
    with pytest.raises(ShapeError, match="empty"):
        split_indices(2, 0.1)


def test_standardizer_fits_on_train_only(rng):
    X_train = rng.normal(5, 3, (1000, 2))
    s = Standardizer().fit(X_train)
    Z = s.transform(X_train)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(s.inverse_transform(Z), X_train)
    restored = Standardizer.from_config(s.get_config())
    np.testing.assert_allclose(restored.transform(X_train), Z)
    with pytest.raises(ShapeError):
        s.transform(np.zeros((3, 3)))
    with pytest.raises(NotFittedError):
        Standardizer().transform(X_train)


def test_standardizer_keeps_float32_and_handles_constant_columns():
    X = np.array([[1.0, 2.0], [1.0, 4.0]], dtype=np.float32)
    Z = Standardizer().fit_transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, 0], 0)


def test_minmax():
    s = MinMaxScaler(-1, 1).fit(np.array([[0.0], [10.0]]))
    np.testing.assert_allclose(s.transform(np.array([[5.0], [10.0]])).ravel(), [0.0, 1.0])


def test_train_val_test_indices_are_stratified_disjoint_and_seeded():
    from scratchnn.preprocessing import train_val_test_indices

    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    train, val, test = train_val_test_indices(100, 0.1, 0.2, y, rng=0)
    assert len(train) == 70 and len(val) == 10 and len(test) == 20
    assert np.bincount(y[test]).tolist() == [12, 6, 2]
    assert np.bincount(y[val]).tolist() == [6, 3, 1]
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    again = train_val_test_indices(100, 0.1, 0.2, y, rng=0)
    for a, b in zip((train, val, test), again):
        np.testing.assert_array_equal(a, b)
    train, val, test = train_val_test_indices(10, 0.0, 0.3, rng=1)
    assert len(val) == 0 and len(test) == 3 and len(train) == 7
    with pytest.raises(InputError, match="leaves nothing to train on"):
        train_val_test_indices(10, 0.5, 0.5)
