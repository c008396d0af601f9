"""Filter and feature-map plots: files written, one panel per filter and map."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.errors import InputError, ShapeError
from scratchnn.models import cnn, mlp
from scratchnn.plotting.cnn import plot_feature_maps, plot_filters


def test_plot_filters_writes_a_png(tmp_path):
    model = cnn(rng=0)
    fig = plot_filters(model, path=tmp_path / "filters.png")
    assert (tmp_path / "filters.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sum(ax.has_data() for ax in fig.axes) == 16 + 1  # 16 filters, the colour bar
    fig = plot_filters(model, layer=3, max_filters=12)
    assert sum(bool(ax.images) for ax in fig.axes) == 12
    assert "mean over 16 input channels" in fig.get_suptitle()
    assert fig.get_suptitle().startswith("layer 3 (Conv2D): 32 filters 5×5")


def test_plot_feature_maps_writes_a_png(tmp_path, rng):
    model = cnn(rng=0)
    image = rng.uniform(0, 1, (28, 28)).astype(np.float32)
    fig = plot_feature_maps(model, image, path=tmp_path / "maps.png", title="a digit")
    assert (tmp_path / "maps.png").stat().st_size > 1000
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 1 + 16 + 32  # input, 16 maps of the first conv, 32 of the second
    # numbered as plot_filters numbers them: by the Conv2D's index in the model
    titles = [sub.get_suptitle() for sub in fig.subfigs[1:]]
    assert titles == [
        "layer 0 (Conv2D 1→16, 5×5), after its ReLU: 16 maps 24×24",
        "layer 3 (Conv2D 16→32, 5×5), after its ReLU: 32 maps 8×8",
    ]
    assert plot_filters(model).get_suptitle().startswith("layer 0 (Conv2D)")
    # one title: the caller's, and the input's own caption is just its size
    assert fig.get_suptitle() == "a digit" and panels[0].get_title() == "input 28×28"
    # a colour scale for each layer's maps
    for sub in fig.subfigs[1:]:
        bars = [ax for ax in sub.axes if ax.get_ylabel() == "activation"]
        assert len(bars) == 1, sub.get_suptitle()
    assert plot_feature_maps(model, image).get_suptitle() == "Feature maps of one image"
    fig = plot_feature_maps(model, image[None], layers=[2], max_maps=8)
    assert sum(bool(ax.images) for ax in fig.axes) == 1 + 8
    assert fig.subfigs[1].get_suptitle() == "layer 2 (MaxPool2D): 16 maps 12×12, first 8 shown"


def test_plot_errors():
    with pytest.raises(InputError, match="no Conv2D"):
        plot_filters(mlp([4, 3], rng=0))
    with pytest.raises(InputError, match="not a Conv2D"):
        plot_filters(cnn(rng=0), layer=1)
    with pytest.raises(ShapeError, match="one image"):
        plot_feature_maps(cnn(rng=0), np.zeros((2, 1, 28, 28)))
    with pytest.raises(InputError, match="not feature maps"):
        plot_feature_maps(cnn(rng=0), np.zeros((28, 28)), layers=[7])
