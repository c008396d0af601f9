"""The seeded generators: shapes, class balance, determinism, and what each one looks like."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.datasets import (
    circle_bayes_predict,
    circle_regions,
    moons,
    sine,
    spirals,
    square_bayes_predict,
    square_regions,
    xor,
)
from scratchnn.errors import InputError

CLASSIFIERS = [circle_regions, square_regions, moons, spirals, xor]


@pytest.mark.parametrize("make", CLASSIFIERS, ids=lambda f: f.__name__)
def test_shapes_balance_and_seed(make):
    X, y = make(1001, seed=0)
    assert X.shape == (1001, 2) and X.dtype == np.float64
    assert y.shape == (1001,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    X2, y2 = make(1001, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(1001, seed=1)[0])
    # a Generator works as well as a seed, and the two spellings agree
    X3, _ = make(1001, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X3)


@pytest.mark.parametrize("make", [*CLASSIFIERS, sine], ids=lambda f: f.__name__)
def test_bad_arguments(make):
    with pytest.raises(InputError, match="n must be a positive integer"):
        make(0)
    with pytest.raises(InputError, match="either seed or rng"):
        make(10, seed=0, rng=np.random.default_rng(0))


def test_circle_radii_follow_their_class():
    X, y = circle_regions(40_000, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.median(r[y == 0]) == pytest.approx(0.5, abs=0.01)
    assert np.median(r[y == 1]) == pytest.approx(1.0, abs=0.01)
    # the directions are uniform: the mean of the unit vectors is near zero
    assert np.abs((X / r[:, None]).mean(axis=0)).max() < 0.02
    assert np.mean(circle_bayes_predict(X) == y) == pytest.approx(0.895, abs=0.006)


def test_square_is_an_xor_of_four_blobs():
    X, y = square_regions(40_000, seed=0)
    assert np.mean(square_bayes_predict(X) == y) == pytest.approx(0.955, abs=0.005)
    assert X[y == 0].std(axis=0) == pytest.approx([np.sqrt(1 + 0.25)] * 2, abs=0.02)
    # each class is an equal mixture of its two blobs, each with std 0.5 around its centre
    for label, centres in ((0, [(1, 1), (-1, -1)]), (1, [(1, -1), (-1, 1)])):
        points = X[y == label]
        nearest = np.array(
            [np.argmin([np.sum((p - c) ** 2) for c in centres]) for p in points[:4000]]
        )
        assert np.mean(nearest) == pytest.approx(0.5, abs=0.03)


def test_moons_lie_on_their_half_circles():
    X, y = moons(4000, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert (upper[:, 1] >= 0).all() and (lower[:, 1] <= 0.5).all()


def test_spirals_have_k_balanced_arms():
    X, y = spirals(3000, classes=4, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [750] * 4
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.05 - 1e-12 and r.max() <= 1.0
    # without noise the angle is a function of class and radius
    expected = 2 * np.pi * y / 4 + 2 * np.pi * r
    np.testing.assert_allclose(np.cos(np.arctan2(X[:, 1], X[:, 0]) - expected), 1.0, atol=1e-9)
    with pytest.raises(InputError, match="at least 2 classes"):
        spirals(10, classes=1)


def test_xor_labels_are_the_sign_rule():
    X, y = xor(2000, seed=0)
    assert np.all((X[:, 0] * X[:, 1] < 0) == (y == 1))
    assert np.abs(X).max() <= 1
    X_noisy, y_noisy = xor(2000, noise=0.3, seed=0)
    assert 0.6 < np.mean((X_noisy[:, 0] * X_noisy[:, 1] < 0) == (y_noisy == 1)) < 1
    with pytest.raises(InputError, match="noise"):
        xor(10, noise=-1)


def test_sine_is_a_noisy_sine():
    X, y = sine(20_000, noise=0.1, seed=0)
    assert X.shape == (20_000, 1) and y.shape == (20_000,) and y.dtype == np.float64
    assert np.abs(X).max() <= np.pi
    residual = y - np.sin(X[:, 0])
    assert residual.mean() == pytest.approx(0, abs=0.005)
    assert residual.std() == pytest.approx(0.1, abs=0.005)
