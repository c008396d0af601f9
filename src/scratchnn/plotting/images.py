"""Plots for image classifiers: test images with their predictions, first-layer weights as images.

>>> import tempfile, pathlib
>>> rng = np.random.default_rng(0)
>>> images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> fig = prediction_grid(images, rng.integers(0, 10, 12), rng.integers(0, 10, 12),
...                       path=out / "grid.png")
>>> fig = weight_images(rng.standard_normal((16, 784)), (28, 28), path=out / "w.png")
>>> (out / "grid.png").stat().st_size > 0 and (out / "w.png").stat().st_size > 0
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import ShapeError
from ._style import new_figure, save_figure

__all__ = ["choose_examples", "prediction_grid", "weight_images"]

RIGHT = "#1a7f37"
WRONG = "#cf222e"


def _as_2d_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ShapeError(
            f"expected grey images of shape (N, H, W) or (N, 1, H, W), got {images.shape}"
        )
    return images


def choose_examples(y_true: np.ndarray, y_pred: np.ndarray, n: int = 40) -> np.ndarray:
    """Indices to show: the first test images, plus up to ``n // 3`` misclassified ones.

    The result is sorted, at most ``n`` long, and always includes misclassified examples when
    there are any, so that a 98 %-accurate model still shows where it goes wrong.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)[: n // 3]
    others = np.setdiff1d(np.arange(min(len(y_true), n + len(wrong))), wrong)
    return np.sort(np.concatenate([others[: n - len(wrong)], wrong]))


def prediction_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    columns: int = 10,
) -> Figure:
    """A grid of images, each titled with its predicted label; misclassified ones in red.

    A wrong prediction is titled with the predicted label and, below it, the true one, and
    framed in red; right ones are titled with the label in green. Pass the images to show (e.g. ``images[choose_examples(...)]``).
    """
    images = _as_2d_images(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(images)
    if not (len(y_true) == len(y_pred) == n):
        raise ShapeError(f"{n} images but {len(y_true)} true and {len(y_pred)} predicted labels")
    names = [str(c) for c in classes] if classes is not None else None
    label = (lambda i: names[int(i)]) if names else (lambda i: str(int(i)))
    longest = max((len(label(v)) for v in np.concatenate([y_true, y_pred])), default=1)
    if longest > 4:  # names such as "Ankle boot": fewer, wider cells
        columns = min(columns, 8)
    width = 1.05 if longest <= 4 else 1.45
    fontsize = 8 if longest <= 8 else 7
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    fig = new_figure(width * columns + 0.2, 1.45 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    wrong_count = 0
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        right = y_true[i] == y_pred[i]
        wrong_count += not right
        color = RIGHT if right else WRONG
        # two lines for a mistake: what the model said, then the truth
        text = label(y_pred[i]) if right else f"{label(y_pred[i])}\n(true: {label(y_true[i])})"
        ax.set_title(
            text, fontsize=fontsize, color=color, pad=2, fontweight="normal" if right else "bold"
        )
        for spine in ax.spines.values():
            spine.set_edgecolor(color if not right else "#bbbbbb")
            spine.set_linewidth(2.2 if not right else 0.6)
    fig.suptitle(
        title
        or f"predicted labels (green: right; red: wrong, with the true label; {wrong_count} of {n})",
        fontsize=10,
    )
    if path is not None:
        save_figure(fig, path)
    return fig


def weight_images(
    W: np.ndarray,
    image_shape: Sequence[int],
    path: str | os.PathLike[str] | None = None,
    n: int = 64,
    title: str | None = None,
) -> Figure:
    """The first layer's weights, one image per hidden unit (row ``W[j]`` reshaped).

    ``W`` has shape ``(units, pixels)`` (scratchnn's ``(out, in)`` layout). Each image is
    divided by its unit's largest ``|weight|``, so the pattern a unit responds to is visible
    whatever its overall size; the colour bar gives that relative scale (blue negative, red
    positive, white zero), and the title the range of the units' largest weights.
    """
    W = np.asarray(W, dtype=np.float64)
    shape = tuple(int(s) for s in image_shape if int(s) != 1) or (1,)
    if W.ndim != 2 or W.shape[1] != int(np.prod(shape)):
        raise ShapeError(
            f"weights of shape {W.shape} cannot be shown as images of {tuple(image_shape)}"
        )
    count = min(n, W.shape[0])
    columns = min(8, count) if count <= 16 else math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    fig = new_figure(0.95 * columns + 1.0, 0.95 * rows + 0.6)  # + the colour bar
    grid = fig.subplots(rows, columns, squeeze=False)
    axes = np.atleast_1d(grid).ravel()
    limits = np.abs(W[:count]).max(axis=1)
    limits[limits == 0] = 1.0
    drawn = None
    for j, ax in enumerate(axes):
        ax.set_axis_off()
        if j >= count:
            continue
        w = W[j].reshape(shape) / limits[j]
        drawn = ax.imshow(w, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(
        drawn,
        ax=grid,
        shrink=min(0.6, 2.5 / rows),
        aspect=25,
        label="weight / the unit's max |weight|",
    )
    fig.suptitle(
        title
        or f"first-layer weights ({count} of {W.shape[0]} units; red +, blue −; largest "
        f"|weight| per unit {limits.min():.2g} to {limits.max():.2g})",
        fontsize=10,
    )
    if path is not None:
        save_figure(fig, path)
    return fig
