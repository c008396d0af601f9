"""Seeded generators of small 2-D classification problems, returning ``(X, y)``.

``X`` is float64 of shape ``(n, 2)``, ``y`` int64 labels of shape ``(n,)``; classes are
balanced (``n // 2`` of class 0 and the rest of class 1, shuffled).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_generator, check_positive

__all__ = ["circle_regions", "square_regions"]


def _balanced_labels(n: int, rng: np.random.Generator, classes: int = 2) -> np.ndarray:
    y = np.arange(n) % classes
    return rng.permutation(y).astype(np.int64)


def circle_regions(
    n: int = 1000, seed: int | None = None, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two rings: direction uniform on the circle, radius N(0.5, 0.2²) (class 0) or N(1.0, 0.2²).

    The classes overlap, so no classifier beats about 89.5 % (the Bayes rate).

    >>> X, y = circle_regions(100, seed=0)
    >>> X.shape, y.shape, int(y.sum())
    ((100, 2), (100,), 50)
    """
    check_positive(n, "n", integer=True)
    rng = as_generator(rng if rng is not None else seed)
    y = _balanced_labels(n, rng)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = rng.normal(np.where(y == 0, 0.5, 1.0), 0.2)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, y


def square_regions(
    n: int = 1000, seed: int | None = None, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """An XOR of four Gaussian blobs (covariance 0.25·I): class 0 at (−1, −1) and (1, 1), class 1 at (−1, 1) and (1, −1).

    Best possible accuracy ≈ 95.5 %.

    >>> X, y = square_regions(100, seed=0)
    >>> X.shape, int(y.sum())
    ((100, 2), 50)
    """
    check_positive(n, "n", integer=True)
    rng = as_generator(rng if rng is not None else seed)
    y = _balanced_labels(n, rng)
    first = rng.integers(0, 2, n) * 2 - 1  # ±1: which blob of the class's two
    centres = np.column_stack([first, np.where(y == 0, first, -first)]).astype(np.float64)
    X = centres + 0.5 * rng.standard_normal((n, 2))
    return X, y
