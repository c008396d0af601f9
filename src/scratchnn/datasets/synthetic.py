"""Seeded generators of small 2-D problems (and one 1-D regression), returning ``(X, y)``.

Classification sets: ``X`` is float64 of shape ``(n, 2)``, ``y`` int64 labels of shape
``(n,)``; classes are balanced (``n // k`` of each class, the remainder going to the first
classes, shuffled). The regression set :func:`sine` returns ``X`` of shape ``(n, 1)`` and
float64 targets ``y`` of shape ``(n,)``.

Every generator takes ``seed`` (an int) or ``rng`` (a :class:`numpy.random.Generator`); the
same seed gives the same data, and nothing is drawn from the global ``np.random``.

============== ======= ============================================ ======================
generator      classes what it looks like                           best possible accuracy
============== ======= ============================================ ======================
circle_regions 2       two noisy rings, radius 0.5 and 1.0          ≈ 89.5 %
square_regions 2       XOR of four Gaussian blobs                   ≈ 95.5 %
moons          2       two interleaving half circles                ≈ 100 % (noise 0.1)
spirals        k       k interleaved spiral arms                    ≈ 100 % (noise 0.2 rad)
xor            2       uniform points, label = signs of x, y differ 100 % (no noise)
sine           –       y = sin(x) + N(0, 0.1²), x in [−π, π]         (regression, MSE ≈ 0.01)
============== ======= ============================================ ======================
"""

from __future__ import annotations

import numpy as np

from .._validation import as_generator, check_positive
from ..errors import InputError

__all__ = ["circle_regions", "moons", "sine", "spirals", "square_regions", "xor"]


def _generator(seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    if seed is not None and rng is not None:
        raise InputError("pass either seed or rng, not both")
    return as_generator(rng if rng is not None else seed)


def _check_noise(noise: float) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise InputError(f"noise must be a non-negative number, got {noise!r}")
    return float(noise)


def _balanced_labels(n: int, rng: np.random.Generator, classes: int = 2) -> np.ndarray:
    y = np.arange(n) % classes
    return rng.permutation(y).astype(np.int64)


def circle_regions(
    n: int = 1000, seed: int | None = None, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two rings: direction uniform on the circle, radius N(0.5, 0.2²) (class 0) or N(1.0, 0.2²).

    The classes overlap, so no classifier beats about 89.5 % (the Bayes rate, see
    :func:`circle_bayes_predict`).

    >>> X, y = circle_regions(100, seed=0)
    >>> X.shape, y.shape, int(y.sum())
    ((100, 2), (100,), 50)
    """
    check_positive(n, "n", integer=True)
    rng = _generator(seed, rng)
    y = _balanced_labels(n, rng)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = rng.normal(np.where(y == 0, 0.5, 1.0), 0.2)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, y


def square_regions(
    n: int = 1000, seed: int | None = None, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """An XOR of four Gaussian blobs (covariance 0.25·I): class 0 at (−1, −1) and (1, 1), class 1 at (−1, 1) and (1, −1).

    Each class is a 50/50 mixture of its two blobs. Best possible accuracy ≈ 95.5 % (see
    :func:`square_bayes_predict`).

    >>> X, y = square_regions(100, seed=0)
    >>> X.shape, int(y.sum())
    ((100, 2), 50)
    """
    check_positive(n, "n", integer=True)
    rng = _generator(seed, rng)
    y = _balanced_labels(n, rng)
    first = rng.integers(0, 2, n) * 2 - 1  # ±1: which blob of the class's two
    centres = np.column_stack([first, np.where(y == 0, first, -first)]).astype(np.float64)
    X = centres + 0.5 * rng.standard_normal((n, 2))
    return X, y


def moons(
    n: int = 1000,
    noise: float = 0.1,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles of radius 1, plus Gaussian noise of std ``noise``.

    Class 0 lies on ``(cos t, sin t)``, class 1 on ``(1 − cos t, 0.5 − sin t)``, with
    ``t`` uniform in ``[0, π]``.

    >>> X, y = moons(100, seed=0)
    >>> X.shape, int(y.sum())
    ((100, 2), 50)
    """
    check_positive(n, "n", integer=True)
    noise = _check_noise(noise)
    rng = _generator(seed, rng)
    y = _balanced_labels(n, rng)
    t = rng.uniform(0, np.pi, n)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    lower = np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)])
    X = np.where((y == 0)[:, None], upper, lower)
    X += noise * rng.standard_normal((n, 2))
    return X, y


def spirals(
    n: int = 1000,
    classes: int = 3,
    noise: float = 0.2,
    turns: float = 1.0,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` spiral arms around the origin, one per class.

    A point of class k at distance r (uniform in ``[0.05, 1]``) from the origin has angle
    ``2πk/classes + 2π·turns·r + noise·N(0, 1)`` (noise in radians), so the arms wind
    ``turns`` times and their angular width is set by ``noise``.

    >>> X, y = spirals(99, classes=3, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((99, 2), [33, 33, 33])
    """
    check_positive(n, "n", integer=True)
    check_positive(classes, "classes", integer=True)
    if classes < 2:
        raise InputError(f"spirals needs at least 2 classes, got {classes}")
    check_positive(turns, "turns")
    noise = _check_noise(noise)
    rng = _generator(seed, rng)
    y = _balanced_labels(n, rng, classes)
    r = rng.uniform(0.05, 1.0, n)
    angle = 2 * np.pi * y / classes + 2 * np.pi * turns * r + noise * rng.standard_normal(n)
    X = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    return X, y


def xor(
    n: int = 1000,
    noise: float = 0.0,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: points uniform in ``[−1, 1]²``, label 1 where x and y have opposite signs.

    The label is decided first (balanced), then a quadrant of that label, then a uniform
    point in it; ``noise`` adds Gaussian jitter of that std afterwards, which may carry
    points across the axes (with ``noise=0`` the classes are separable).

    >>> X, y = xor(100, seed=0)
    >>> bool(np.all((X[:, 0] * X[:, 1] < 0) == (y == 1)))
    True
    """
    check_positive(n, "n", integer=True)
    noise = _check_noise(noise)
    rng = _generator(seed, rng)
    y = _balanced_labels(n, rng)
    sx = rng.integers(0, 2, n) * 2 - 1
    sy = np.where(y == 0, sx, -sx)
    X = rng.uniform(0, 1, (n, 2)) * np.column_stack([sx, sy])
    X += noise * rng.standard_normal((n, 2))
    return X, y


def sine(
    n: int = 1000,
    noise: float = 0.1,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A regression set: ``x`` uniform in ``[−π, π]``, ``y = sin(x) + N(0, noise²)``.

    ``X`` has shape ``(n, 1)`` and ``y`` shape ``(n,)`` (float64). The best possible mean
    squared error is ``noise²`` (0.01 by default).

    >>> X, y = sine(50, seed=0)
    >>> X.shape, y.shape, y.dtype.name
    ((50, 1), (50,), 'float64')
    """
    check_positive(n, "n", integer=True)
    noise = _check_noise(noise)
    rng = _generator(seed, rng)
    X = rng.uniform(-np.pi, np.pi, (n, 1))
    y = np.sin(X[:, 0]) + noise * rng.standard_normal(n)
    return X, y


# -- the best possible classifiers, to say how close a model gets --------------------------
def _normal_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2)


def circle_bayes_predict(X: np.ndarray) -> np.ndarray:
    """The Bayes-optimal label for :func:`circle_regions` points.

    The direction is uniform for both classes, so only the distance d = |r| from the origin
    carries information; d follows a folded normal, ``p(d | k) ∝ φ((d − μ_k)/σ) + φ((d + μ_k)/σ)``
    with μ₀ = 0.5, μ₁ = 1.0 and σ = 0.2, and the classes are equally likely.

    >>> circle_bayes_predict(np.array([[0.5, 0.0], [0.0, -1.1]])).tolist()
    [0, 1]
    """
    d = np.hypot(X[:, 0], X[:, 1])
    p0 = _normal_pdf(d, 0.5, 0.2) + _normal_pdf(d, -0.5, 0.2)
    p1 = _normal_pdf(d, 1.0, 0.2) + _normal_pdf(d, -1.0, 0.2)
    return (p1 > p0).astype(np.int64)


def square_bayes_predict(X: np.ndarray) -> np.ndarray:
    """The Bayes-optimal label for :func:`square_regions` points: 1 where ``x·y < 0``.

    With equal isotropic blobs, ``p(x | 0) ∝ cosh((x₁ + x₂)/σ²)`` and ``p(x | 1) ∝
    cosh((x₁ − x₂)/σ²)``, and ``|x₁ + x₂| > |x₁ − x₂|`` exactly when ``x₁x₂ > 0``.

    >>> square_bayes_predict(np.array([[1.0, 2.0], [-1.0, 0.5]])).tolist()
    [0, 1]
    """
    return (X[:, 0] * X[:, 1] < 0).astype(np.int64)
