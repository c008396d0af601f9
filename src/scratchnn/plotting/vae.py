"""Figures of a variational autoencoder: reconstructions, samples, the latent space, the ELBO.

Every function takes arrays (images as rows of pixel intensities in [0, 1]), draws one
:class:`~matplotlib.figure.Figure`, saves it when given a ``path`` and returns it. The model
itself is not needed: call :meth:`~scratchnn.models.VAE.reconstruct`,
:meth:`~scratchnn.models.VAE.sample`, :meth:`~scratchnn.models.VAE.encode` or
:meth:`~scratchnn.models.VAE.decode` first.

>>> import numpy as np
>>> images = np.random.default_rng(0).random((20, 16))
>>> image_grid(images, ncols=5, image_shape=(4, 4)).shape
(19, 24)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..errors import ShapeError
from ._style import COLORS, new_figure, save_figure

__all__ = [
    "elbo_curves",
    "image_grid",
    "latent_scatter",
    "latent_span",
    "manifold",
    "normal_quantiles",
    "reconstructions",
    "samples",
]

PathLike = str | os.PathLike[str] | None
_GAP = 0.35  # grey of the lines between tiles, visible on black and on white


def _as_images(images: Any, image_shape: tuple[int, int], name: str) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    h, w = image_shape
    if images.ndim < 2 or images[0].size != h * w:
        raise ShapeError(
            f"{name} of shape {images.shape} cannot be shown as {h}x{w} images; "
            "pass image_shape matching the pixels per row"
        )
    return images.reshape(len(images), h, w)


def image_grid(
    images: Any, ncols: int, image_shape: tuple[int, int] = (28, 28), pad: int = 1
) -> np.ndarray:
    """Tile images row by row into one array, ``pad`` grey pixels between tiles.

    Missing tiles at the end of the last row stay grey.
    """
    tiles = _as_images(images, image_shape, "images")
    h, w = image_shape
    nrows = -(-len(tiles) // ncols)
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), _GAP)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tile
    return grid


def _show(ax, grid: np.ndarray) -> None:
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def reconstructions(
    originals: Any,
    reconstructed: Any,
    path: PathLike = None,
    image_shape: tuple[int, int] = (28, 28),
    ncols: int = 10,
    title: str = "Inputs and their reconstructions (decoder mean at z = μ)",
) -> Figure:
    """Inputs and their reconstructions in alternating rows, each reconstruction under its input."""
    originals = _as_images(originals, image_shape, "originals")
    reconstructed = _as_images(reconstructed, image_shape, "reconstructed")
    if len(originals) != len(reconstructed):
        raise ShapeError(
            f"{len(originals)} originals but {len(reconstructed)} reconstructions; pass pairs"
        )
    rows = []
    for start in range(0, len(originals), ncols):
        rows += [originals[start : start + ncols], reconstructed[start : start + ncols]]
        if len(rows[-1]) < ncols:  # pad a short last block so each pair stays aligned
            blank = np.full((ncols - len(rows[-1]), *image_shape), _GAP)
            rows[-2], rows[-1] = (
                np.concatenate([rows[-2], blank]),
                np.concatenate([rows[-1], blank]),
            )
    grid = image_grid(np.concatenate(rows), ncols, image_shape)
    n_rows = len(rows)
    fig = new_figure(0.62 * ncols + 1.2, 0.62 * n_rows + 0.5)
    ax = fig.add_subplot()
    _show(ax, grid)
    h = image_shape[0] + 1
    ax.set_yticks([h * r + image_shape[0] / 2 - 0.5 for r in range(n_rows)])
    ax.set_yticklabels(["input", "recon."] * (n_rows // 2), fontsize=8)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def samples(
    images: Any,
    path: PathLike = None,
    image_shape: tuple[int, int] = (28, 28),
    ncols: int = 10,
    title: str = "Samples from the prior: z ~ N(0, I), decoded",
) -> Figure:
    """A grid of generated images (decoder means for codes drawn from the prior)."""
    tiles = _as_images(images, image_shape, "images")
    nrows = -(-len(tiles) // ncols)
    fig = new_figure(0.5 * ncols + 0.4, 0.5 * nrows + 0.6)
    _show(fig.add_subplot(), image_grid(tiles, ncols, image_shape))
    fig.axes[0].set_title(title, fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def latent_scatter(
    Z: Any,
    labels: Any,
    path: PathLike = None,
    title: str = "Test images in the latent space (μ of q(z|x))",
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The 2-D codes of labelled examples, one colour per class."""
    Z = np.asarray(Z, dtype=np.float64)
    labels = np.asarray(labels)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ShapeError(f"latent_scatter needs 2-D codes (N, 2), got shape {Z.shape}")
    if len(labels) != len(Z):
        raise ShapeError(f"{len(Z)} codes but {len(labels)} labels; they must match")
    fig = new_figure(6.4, 5.6)
    ax = fig.add_subplot()
    classes = np.unique(labels)
    order = np.random.default_rng(0).permutation(len(Z))  # no class drawn entirely on top
    colors = np.array([COLORS[int(np.searchsorted(classes, c)) % len(COLORS)] for c in labels])
    ax.scatter(Z[order, 0], Z[order, 1], c=colors[order], s=3, alpha=0.6, linewidths=0)
    names = class_names or [str(c) for c in classes]
    handles = [
        Line2D([], [], marker="o", linestyle="", color=COLORS[i % len(COLORS)], label=names[i])
        for i in range(len(classes))
    ]
    ax.legend(handles=handles, title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if path is not None:
        save_figure(fig, path)
    return fig


def normal_quantiles(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """``n`` values of z evenly spaced in probability under N(0, 1) (Kingma & Welling, Fig. 4).

    >>> normal_quantiles(3).round(3).tolist()
    [-1.645, 0.0, 1.645]
    """
    return np.array([NormalDist().inv_cdf(p) for p in np.linspace(low, high, n)])


def latent_span(codes: Any, n: int, coverage: float = 0.99) -> np.ndarray:
    """``n`` evenly spaced values from ``-s`` to ``s`` that span where the codes are.

    ``s`` is the ``coverage`` quantile of ``|code|`` over both dimensions of the encoded
    means ``codes`` (``(N, 2)``), so the decoded manifold shows the whole region the data
    occupy (a trained VAE's codes often spread over ±4, well beyond the prior's ±1.64).

    >>> latent_span(np.array([[-4.0, 1.0], [3.0, 0.5], [0.0, -2.0]]), 3, coverage=1.0).tolist()
    [-4.0, 0.0, 4.0]
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2 or not len(codes):
        raise ShapeError(f"latent_span needs 2-D codes of shape (N, 2), got {codes.shape}")
    span = float(np.quantile(np.abs(codes), coverage)) or 1.0
    return np.linspace(-span, span, n)


def _spacing(values: np.ndarray) -> str:
    """Say how the grid's values were chosen, for the axis labels."""
    if len(values) > 2:
        p = np.array([NormalDist().cdf(float(v)) for v in values])
        steps, gaps = np.diff(p), np.diff(values)
        if np.allclose(steps, steps[0], rtol=1e-3) and not np.allclose(gaps, gaps[0], rtol=1e-3):
            return (
                f"evenly spaced in probability under the prior N(0, 1), from its "
                f"{p[0]:.0%} to its {p[-1]:.0%} quantile"
            )
        if np.allclose(gaps, gaps[0], rtol=1e-3):
            return f"evenly spaced from {_tick(values[0])} to {_tick(values[-1])}"
    return ""


def _tick(value: float) -> str:
    """``value`` to two decimals, without the "-0.00" of a tiny negative (the middle quantile).

    >>> _tick(-1e-17), _tick(1.6449)
    ('0.00', '1.64')
    """
    return f"{round(float(value), 2) + 0.0:.2f}"


def manifold(
    images: Any,
    values: Any,
    path: PathLike = None,
    image_shape: tuple[int, int] = (28, 28),
    title: str = "Decoded manifold: x̂ = decoder(z₁, z₂)",
) -> Figure:
    """Decoded images of a square grid of 2-D codes.

    ``images`` holds ``len(values)²`` decoded images in row-major order, row ``i`` for
    ``z₂ = values[-1 - i]`` (top row the largest z₂) and column ``j`` for ``z₁ = values[j]``.
    The ticks give z; the axis labels say how the values were spaced: evenly over the codes'
    spread (:func:`latent_span`, the command line's choice) or evenly in probability under
    the prior (:func:`normal_quantiles`, Kingma & Welling's Fig. 4), whose ticks are then
    the prior's quantiles.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    tiles = _as_images(images, image_shape, "images")
    if len(tiles) != n * n:
        raise ShapeError(f"manifold needs {n}² = {n * n} images for {n} values, got {len(tiles)}")
    fig = new_figure(7.0, 7.3)
    ax = fig.add_subplot()
    _show(ax, image_grid(tiles, n, image_shape, pad=0))
    h, w = image_shape
    spacing = _spacing(values)
    if spacing.startswith("evenly spaced from"):  # a linear axis: round values as ticks
        step = (values[-1] - values[0]) / (n - 1)
        nice = MaxNLocator(nbins=8, steps=[1, 2, 5, 10]).tick_values(values[0], values[-1])
        nice = nice[(nice >= values[0] - 1e-9) & (nice <= values[-1] + 1e-9)]
        where = (nice - values[0]) / step  # fractional column of each tick
        ax.set_xticks(w * where + w / 2 - 0.5, [f"{v + 0.0:g}" for v in nice], fontsize=8)
        ax.set_yticks(h * (n - 1 - where) + h / 2 - 0.5, [f"{v + 0.0:g}" for v in nice], fontsize=8)
    else:  # the grid's own values, at five of its columns and rows
        ticks = sorted({int(round(t)) for t in np.linspace(0, n - 1, min(n, 5))})
        ax.set_xticks([w * j + w / 2 - 0.5 for j in ticks])
        ax.set_xticklabels([_tick(values[j]) for j in ticks], fontsize=8)
        ax.set_yticks([h * i + h / 2 - 0.5 for i in ticks])
        ax.set_yticklabels([_tick(values[n - 1 - i]) for i in ticks], fontsize=8)
    ax.set_xlabel("$z_1$" + (f": {spacing}" if spacing else ""), fontsize=9)
    ax.set_ylabel("$z_2$" + (" (the same values)" if spacing else ""), fontsize=9)
    ax.set_title(title, fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def elbo_curves(history: Any, path: PathLike = None) -> Figure:
    """Negative ELBO per epoch (training and validation) and its two terms, from a VAE's History.

    ``history`` is a :class:`~scratchnn.History` or its DataFrame with ``loss``, ``recon``
    and ``kl`` columns (``val_*`` too when the run had validation data).
    """
    df = history.to_dataframe() if hasattr(history, "to_dataframe") else history
    epochs = df["epoch"].to_numpy()
    fig = new_figure(10.0, 3.8)
    left, right = fig.subplots(1, 2)
    series = (("", "training", "-"), ("val_", "test", "--"))
    for prefix, label, style in series:
        if f"{prefix}recon" in df and df[f"{prefix}recon"].notna().any():
            neg_elbo = df[f"{prefix}recon"] + df[f"{prefix}kl"]
            left.plot(epochs, neg_elbo, style, marker="o", ms=3, color=COLORS[0], label=label)
            right.plot(
                epochs, df[f"{prefix}recon"], style, color=COLORS[1], label=f"recon. ({label})"
            )
            right.plot(epochs, df[f"{prefix}kl"], style, color=COLORS[2], label=f"KL ({label})")
    left.set_title("negative ELBO (β = 1), nats per example", fontsize=10)
    right.set_title("reconstruction and KL terms", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
