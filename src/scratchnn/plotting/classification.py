"""Plots for classifiers and small regressions: data scatter, decision regions, confusion matrix.

The functions take a ``predict`` callable (raw features in, labels or values out) rather than
a model, so the same plot works with any feature scaling in between and in the original
coordinates of the data.

>>> import tempfile, pathlib
>>> from scratchnn.datasets import square_regions, square_bayes_predict
>>> X, y = square_regions(300, seed=0)
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> fig = decision_regions(square_bayes_predict, X, y, path=out / "regions.png")
>>> (out / "regions.png").stat().st_size > 0
True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, PowerNorm, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..errors import ShapeError
from ._style import COLORS, new_figure, save_figure

__all__ = [
    "confusion_matrix",
    "confusion_matrix_plot",
    "dataset_scatter",
    "decision_regions",
    "regression_fit",
]

Predict = Callable[[np.ndarray], np.ndarray]


def _names(classes: Sequence[Any] | None, k: int) -> list[str]:
    return [str(c) for c in classes] if classes is not None else [str(i) for i in range(k)]


def _subsample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def _check_2d(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ShapeError(f"this plot needs 2-D points of shape (N, 2), got {X.shape}")
    return X


def _scatter(ax: Axes, X: np.ndarray, y: np.ndarray, names: list[str], size: float) -> None:
    for k, name in enumerate(names):
        members = y == k
        if members.any():
            ax.scatter(
                X[members, 0],
                X[members, 1],
                s=size,
                color=COLORS[k % len(COLORS)],
                edgecolors="white",
                linewidths=0.3,
                label=f"class {name}",
            )


def _point_size(n: int) -> float:
    return float(np.clip(8000 / max(n, 1), 5, 30))


def dataset_scatter(
    X: np.ndarray,
    y: np.ndarray,
    classes: Sequence[Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    max_points: int = 5000,
    axis_labels: Sequence[str] = ("x", "y"),
) -> Figure:
    """The 2-D points coloured by class (a random subset of ``max_points`` for large sets)."""
    X = _check_2d(X)
    y = np.asarray(y).astype(np.int64)
    k = int(y.max()) + 1 if classes is None else len(classes)
    idx = _subsample(len(X), max_points)
    fig = new_figure(5.6, 5.0)
    ax = fig.subplots()
    _scatter(ax, X[idx], y[idx], _names(classes, k), _point_size(len(idx)))
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    shown = f"{len(idx):,} of {len(X):,} points" if len(idx) < len(X) else f"{len(X):,} points"
    ax.set_title(title or f"the data ({shown})", fontsize=11)
    ax.legend(frameon=True, framealpha=0.85, markerscale=1.5, loc="best")
    ax.grid(True, alpha=0.2)
    if path is not None:
        save_figure(fig, path)
    return fig


def decision_regions(
    predict: Predict,
    X: np.ndarray,
    y: np.ndarray,
    classes: Sequence[Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    resolution: int = 300,
    max_points: int = 2000,
    best: Predict | None = None,
    axis_labels: Sequence[str] = ("x", "y"),
) -> Figure:
    """The class ``predict`` assigns to every point of the plane, with the data on top.

    Parameters
    ----------
    predict : callable
        Maps raw points ``(M, 2)`` to class labels ``(M,)``.
    X, y : arrays
        Points ``(N, 2)`` and their true labels, drawn over the regions; misclassified points
        are drawn as crosses.
    classes : sequence, optional
        Class names for the legend.
    resolution : int
        Grid points per axis.
    max_points : int
        At most this many points are drawn (a random subset).
    best : callable, optional
        The Bayes-optimal classifier, whose boundary is drawn as a dashed line for comparison.
    axis_labels : pair of str
        Names of the two features.
    """
    X = _check_2d(X)
    y = np.asarray(y).astype(np.int64)
    k = int(max(y.max(), 1)) + 1 if classes is None else len(classes)
    names = _names(classes, k)
    low, high = np.percentile(X, [0.5, 99.5], axis=0)
    pad = 0.08 * (high - low)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    regions = np.asarray(predict(grid)).reshape(gx.shape)

    light = [tuple(0.72 + 0.28 * np.array(to_rgb(COLORS[i % len(COLORS)]))) for i in range(k)]
    fig = new_figure(5.8, 5.2)
    ax = fig.subplots()
    ax.pcolormesh(
        gx, gy, regions, cmap=ListedColormap(light), vmin=-0.5, vmax=k - 0.5, shading="auto"
    )
    if k > 1:
        ax.contour(gx, gy, regions, levels=np.arange(k - 1) + 0.5, colors="k", linewidths=1.0)
    handles = []
    if best is not None:
        truth = np.asarray(best(grid)).reshape(gx.shape)
        ax.contour(
            gx,
            gy,
            truth,
            levels=np.arange(k - 1) + 0.5,
            colors="k",
            linewidths=1.0,
            linestyles="--",
            alpha=0.6,
        )
        handles.append(Line2D([], [], color="k", ls="--", alpha=0.6, label="best possible"))

    idx = _subsample(len(X), max_points)
    Xs, ys_ = X[idx], y[idx]
    wrong = np.asarray(predict(Xs)) != ys_
    size = _point_size(len(idx))
    _scatter(ax, Xs[~wrong], ys_[~wrong], names, size)
    for c in range(k):
        members = wrong & (ys_ == c)
        if members.any():
            ax.scatter(
                Xs[members, 0],
                Xs[members, 1],
                marker="x",
                s=size * 1.6,
                color=COLORS[c % len(COLORS)],
                linewidths=1.2,
            )
    handles = (
        [
            Line2D(
                [], [], ls="", marker="o", color=COLORS[c % len(COLORS)], label=f"class {names[c]}"
            )
            for c in range(k)
        ]
        + [Line2D([], [], ls="", marker="x", color="0.3", label="misclassified")]
        + handles
    )
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    accuracy = 1 - wrong.mean()
    ax.set_title(
        title or f"decision regions ({accuracy:.1%} of the points shown right)", fontsize=11
    )
    ax.legend(handles=handles, frameon=True, framealpha=0.85, loc="upper right", fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig


#: The colour scale of :func:`confusion_matrix_plot`: colour ~ fraction ** GAMMA.
GAMMA = 0.4
FRACTION_TICKS = (0.0, 0.01, 0.05, 0.2, 0.5, 1.0)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j``.

    >>> confusion_matrix(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2).tolist()
    [[1, 1], [0, 2]]
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def confusion_matrix_plot(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """A heat map of the confusion matrix: rows true classes, columns predictions.

    Colour is the fraction of each true class (so rare classes stand out as much as common
    ones) on a power scale, fraction^0.4, which the colour bar says and marks at 1 %, 5 %,
    20 %, 50 % and 100 %: so a 2 % confusion is visible next to a 98 % diagonal. The
    numbers are counts.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(classes) if classes is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = _names(classes, k)
    counts = confusion_matrix(y_true, y_pred, k)
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = float(np.clip(0.55 * k + 2.2, 3.6, 8.0))
    fig = new_figure(size + 1.3, size)  # the matrix, its labels and the colour bar
    ax = fig.subplots()
    image = ax.imshow(fractions, cmap="Blues", norm=PowerNorm(gamma=GAMMA, vmin=0, vmax=1))
    fontsize = 9 if k <= 10 else 7
    for i in range(k):
        for j in range(k):
            if counts[i, j] or i == j:
                dark = fractions[i, j] > 0.25
                ax.text(
                    j,
                    i,
                    f"{counts[i, j]:,}",
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color="white" if dark else "black",
                )
    long_names = max(map(len, names)) > 3
    ax.set_xticks(
        range(k), names, rotation=45 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title or 'confusion matrix'} ({accuracy:.2%} correct)", fontsize=11)
    bar = fig.colorbar(
        image,
        ax=ax,
        fraction=0.046,
        pad=0.04,
        label=f"fraction of the true class (colour ∝ fraction^{GAMMA})",
    )
    bar.set_ticks(FRACTION_TICKS, labels=[f"{v:.0%}" for v in FRACTION_TICKS])
    if path is not None:
        save_figure(fig, path)
    return fig


def regression_fit(
    predict: Predict,
    X: np.ndarray,
    y: np.ndarray,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    truth: Callable[[np.ndarray], np.ndarray] | None = None,
    max_points: int = 2000,
) -> Figure:
    """For one input feature: the data and the model's curve (and the true function, if known)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 1:
        raise ShapeError(f"regression_fit needs one input feature, shape (N, 1), got {X.shape}")
    y = np.asarray(y, dtype=np.float64).ravel()
    idx = _subsample(len(X), max_points)
    line = np.linspace(X[:, 0].min(), X[:, 0].max(), 400)[:, None]
    fig = new_figure(6.4, 4.3)
    ax = fig.subplots()
    ax.scatter(X[idx, 0], y[idx], s=_point_size(len(idx)), color=COLORS[8], alpha=0.6, label="data")
    if truth is not None:
        ax.plot(line[:, 0], truth(line[:, 0]), "--", color=COLORS[2], lw=1.5, label="true function")
    ax.plot(line[:, 0], np.asarray(predict(line)).ravel(), color=COLORS[0], lw=2.2, label="model")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title(title or "model fit", fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig
