"""What a convolutional network learned: its filters and the feature maps of one image.

>>> import numpy as np
>>> from scratchnn.models import cnn
>>> model = cnn(rng=0)
>>> fig = plot_filters(model)
>>> len(fig.axes)  # 16 filters and a colour bar
17
>>> fig = plot_feature_maps(model, np.zeros((1, 28, 28), dtype=np.float32))
>>> fig.get_suptitle()
'Feature maps of one image'
>>> [sub.get_suptitle() for sub in fig.subfigs[1:]]  # numbered like plot_filters' title
['layer 0 (Conv2D 1→16, 5×5), after its ReLU: 16 maps 24×24', 'layer 3 (Conv2D 16→32, 5×5), after its ReLU: 32 maps 8×8']
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError, ShapeError
from ..layers import Conv2D
from ..model import Sequential
from ._style import new_figure, save_figure

__all__ = ["plot_feature_maps", "plot_filters"]


def _conv_indices(model: Sequential) -> list[int]:
    indices = [i for i, layer in enumerate(model) if isinstance(layer, Conv2D)]
    if not indices:
        raise InputError("the model has no Conv2D layer; filters and feature maps need one")
    return indices


def _grid(count: int, max_cols: int) -> tuple[int, int]:
    cols = min(count, max_cols)
    return math.ceil(count / cols), cols


def _maps_title(model: Sequential, i: int, conv: int | None, fmaps: np.ndarray, shown: int) -> str:
    """``layer 0 (Conv2D 1→16, 5×5), after its ReLU: 16 maps 24×24``: numbered like
    :func:`plot_filters`, by the convolution's index in the model."""
    size = f"{len(fmaps)} maps {fmaps.shape[1]}×{fmaps.shape[2]}"
    if shown < len(fmaps):
        size += f", first {shown} shown"
    if conv is None:
        return f"layer {i} ({type(model[i]).__name__}): {size}"
    layer = model[conv]
    KH, KW = layer.params["W"].shape[2:]
    what = f"layer {conv} (Conv2D {layer.in_channels}→{layer.out_channels}, {KH}×{KW})"
    after = "" if i == conv else f", after its {type(model[i]).__name__}"
    return f"{what}{after}: {size}"


def plot_filters(
    model: Sequential,
    layer: int | None = None,
    path: str | os.PathLike[str] | None = None,
    max_filters: int = 64,
) -> Figure:
    """Draw the filters ``W[f]`` of one Conv2D layer as small images.

    Each filter is shown per input channel averaged over channels (exactly the filter for
    a first layer on grey images), on one shared diverging colour scale centred on 0:
    red pixels excite the filter, blue ones inhibit it. First-layer filters of a trained
    MNIST network look like stroke and edge detectors.

    Parameters
    ----------
    model : Sequential
        A model with at least one :class:`~scratchnn.layers.Conv2D`.
    layer : int, optional
        Index of the Conv2D layer in ``model``; the first one by default.
    path : str or Path, optional
        Where to write the PNG.
    max_filters : int
        Draw at most this many filters (the first ones).
    """
    indices = _conv_indices(model)
    index = indices[0] if layer is None else layer
    if not 0 <= index < len(model) or not isinstance(model[index], Conv2D):
        raise InputError(f"layer {index} is not a Conv2D; Conv2D layers are at {indices}")
    W = np.asarray(model[index].params["W"], dtype=np.float64)
    F, C, KH, KW = W.shape
    shown = W[:max_filters].mean(axis=1)  # (F', KH, KW): the channel average
    limit = float(np.abs(shown).max()) or 1.0
    rows, cols = _grid(shown.shape[0], 8)
    fig = new_figure(1.1 * cols + 0.9, 1.1 * rows + 0.7)
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for f, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if f < shown.shape[0]:
            image = ax.imshow(shown[f], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"filter {f}", fontsize=7)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    channels = "" if C == 1 else f", mean over {C} input channels"
    # "layer i" is the index in the model, as in plot_feature_maps and model.summary()
    fig.suptitle(f"layer {index} (Conv2D): {F} filters {KH}×{KW}{channels}")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_feature_maps(
    model: Sequential,
    image: np.ndarray,
    path: str | os.PathLike[str] | None = None,
    layers: Sequence[int] | None = None,
    max_maps: int = 32,
    title: str | None = None,
) -> Figure:
    """Draw one image and the feature maps it produces in a model, layer by layer.

    The image goes through the model in evaluation mode; for every Conv2D the maps shown
    are those after the layers that follow it up to the next Conv2D, pooling or Flatten
    (typically the ReLU), i.e. what the next stage actually receives.

    Parameters
    ----------
    model : Sequential
        A model with Conv2D layers (such as :func:`scratchnn.models.cnn`).
    image : numpy.ndarray
        One image, ``(C, H, W)`` or ``(H, W)`` for grey.
    path : str or Path, optional
        Where to write the PNG.
    layers : sequence of int, optional
        Indices of the layers whose *output* to show; by default the activation after each
        Conv2D as described above.
    max_maps : int
        Show at most this many channels per layer.
    title : str, optional
        The figure's one title (e.g. naming the image, its label and the prediction);
        "Feature maps of one image" by default.
    """
    image = np.asarray(image, dtype=model.dtype)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise ShapeError(f"image has shape {image.shape}; pass one image (C, H, W) or (H, W)")
    convs: dict[int, int] = {}  # shown layer -> the Conv2D whose maps it holds
    if layers is None:
        layers = []
        for i in _conv_indices(model):
            j = i
            while j + 1 < len(model) and type(model[j + 1]).__name__ in (
                "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "BatchNorm2D",
            ):  # fmt: skip
                j += 1
            layers.append(j)
            convs[j] = i
    wanted = set(layers)
    if not wanted or not all(0 <= i < len(model) for i in wanted):
        raise InputError(f"layers must be indices between 0 and {len(model) - 1}, got {layers}")
    maps: dict[int, np.ndarray] = {}
    X = image[None]
    for i, layer in enumerate(model):
        X = layer.forward(X, training=False)
        if i in wanted:
            if X.ndim != 4:
                raise InputError(
                    f"layer {i} outputs shape {X.shape}, not feature maps (N, C, H, W)"
                )
            maps[i] = np.asarray(X[0], dtype=np.float64)

    rows = [_grid(min(len(m), max_maps), 16)[0] for m in maps.values()]
    heights = [1.45] + [0.35 + 0.6 * r for r in rows]  # inches: input; title + rows of maps
    fig = new_figure(9.6, sum(heights) + 0.45)
    subfigs = fig.subfigures(len(heights), 1, height_ratios=heights)
    ax = subfigs[0].subplots()
    ax.imshow(image.mean(axis=0) if image.shape[0] > 1 else image[0], cmap="gray_r")
    # a frame, not axes: MNIST's blank border is white on white and looked like a gap
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")
    ax.set_title(f"input {image.shape[1]}×{image.shape[2]}", fontsize=9)
    for sub, (i, fmaps) in zip(subfigs[1:], maps.items()):
        shown = fmaps[:max_maps]
        rows, cols = _grid(len(shown), 16)
        axes = sub.subplots(rows, cols, squeeze=False)
        # one colour scale per layer, so that the maps of a layer compare with each other
        low, high = min(0.0, float(shown.min())), float(shown.max()) or 1.0
        drawn = None
        for c, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if c < len(shown):
                drawn = ax.imshow(shown[c], cmap="viridis", vmin=low, vmax=high)
        sub.colorbar(drawn, ax=axes, shrink=0.9, aspect=12, pad=0.01, label="activation")
        sub.suptitle(_maps_title(model, i, convs.get(i), fmaps, len(shown)), fontsize=9)
    fig.suptitle(title or "Feature maps of one image", fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig
