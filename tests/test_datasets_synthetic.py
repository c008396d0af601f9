"""The two toy generators of the original project."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.datasets import circle_regions, square_regions


@pytest.mark.parametrize("make", [circle_regions, square_regions])
def test_shapes_balance_and_seed(make):
    X, y = make(1001, seed=0)
    assert X.shape == (1001, 2) and y.shape == (1001,)
    assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1
    X2, y2 = make(1001, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(1001, seed=1)[0])


def test_circle_radii_follow_their_class():
    X, y = circle_regions(40_000, seed=0)
    # |r| for N(μ, 0.2²): the sign of r only flips the direction, so compare signed radii via μ
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.median(r[y == 0]) == pytest.approx(0.5, abs=0.01)
    assert np.median(r[y == 1]) == pytest.approx(1.0, abs=0.01)
    bayes = np.mean((r > 0.75) == (y == 1))
    assert bayes == pytest.approx(0.895, abs=0.01)


def test_square_is_an_xor_of_four_blobs():
    X, y = square_regions(40_000, seed=0)
    same_sign = np.sign(X[:, 0]) == np.sign(X[:, 1])
    assert np.mean(same_sign == (y == 0)) == pytest.approx(0.955, abs=0.005)
    assert X[y == 0].std(axis=0) == pytest.approx([np.sqrt(1 + 0.25)] * 2, abs=0.02)
