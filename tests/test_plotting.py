"""Every plotting function draws a figure and writes a non-empty PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from scratchnn.datasets import sine, spirals, square_bayes_predict, square_regions
from scratchnn.errors import ShapeError
from scratchnn.plotting import classification, curves, images
from scratchnn.training import History

PNG = b"\x89PNG\r\n\x1a\n"


def check_png(fig, path):
    assert isinstance(fig, Figure)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000


def history(epochs=6, accuracy=True):
    h = History()
    for e in range(1, epochs + 1):
        h.append(
            epoch=e,
            loss=1 / e,
            val_loss=1.2 / e,
            lr=1e-3,
            seconds=0.1,
            **({"accuracy": 1 - 0.4 / e, "val_accuracy": 1 - 0.45 / e} if accuracy else {}),
        )
    return h


def test_training_curves_classification_and_regression(tmp_path):
    results = {"test accuracy": "97.00 %", "test loss": "0.1000", "training time": "1.0 s"}
    fig = curves.training_curves(
        history(),
        results,
        path=tmp_path / "c.png",
        chance=0.5,
        test_accuracy=0.97,
        test_loss=0.1,
        best=0.98,
        title="t",
    )
    check_png(fig, tmp_path / "c.png")
    assert len(fig.axes) == 3
    fig = curves.training_curves(history(accuracy=False), results, path=tmp_path / "r.png")
    check_png(fig, tmp_path / "r.png")
    assert len(fig.axes) == 2  # no accuracy panel for a regression
    # history.csv read back works the same as a History
    history().to_csv(tmp_path / "h.csv")
    fig = curves.training_curves(pd.read_csv(tmp_path / "h.csv"), path=tmp_path / "h.png")
    check_png(fig, tmp_path / "h.png")


def test_comparison_curves(tmp_path):
    epochs = np.arange(1, 6)
    table = pd.DataFrame(
        {
            "epoch": epochs,
            "scratchnn_loss": 1 / epochs,
            "torch_loss": 1 / epochs,
            "scratchnn_val_loss": 1.1 / epochs,
            "torch_val_loss": 1.1 / epochs + 1e-9,
        }
    )
    fig = curves.comparison_curves(table, path=tmp_path / "cmp.png", title="same")
    check_png(fig, tmp_path / "cmp.png")
    lines = fig.axes[1].get_lines()
    lowest = min(np.min(np.asarray(line.get_ydata(), dtype=float)) for line in lines)
    assert lowest > 0  # exact zeros are drawn at the floor, not dropped from the log axis


def test_decision_regions_and_scatter(tmp_path):
    X, y = square_regions(500, seed=0)
    fig = classification.decision_regions(
        square_bayes_predict,
        X,
        y,
        path=tmp_path / "d.png",
        best=square_bayes_predict,
        resolution=80,
    )
    check_png(fig, tmp_path / "d.png")
    X3, y3 = spirals(600, seed=0)
    fig = classification.decision_regions(
        lambda P: np.zeros(len(P), dtype=int),
        X3,
        y3,
        classes=["a", "b", "c"],
        path=tmp_path / "s.png",
    )
    check_png(fig, tmp_path / "s.png")
    check_png(classification.dataset_scatter(X3, y3, path=tmp_path / "x.png"), tmp_path / "x.png")
    with pytest.raises(ShapeError, match="2-D points"):
        classification.dataset_scatter(np.zeros((5, 3)), np.zeros(5))


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    counts = classification.confusion_matrix(y_true, y_pred, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    fig = classification.confusion_matrix_plot(
        y_true, y_pred, ["cat", "dog", "bird"], path=tmp_path / "m.png"
    )
    check_png(fig, tmp_path / "m.png")
    assert "71.43% correct" in fig.axes[0].get_title()


def test_regression_fit(tmp_path):
    X, y = sine(300, seed=0)
    fig = classification.regression_fit(
        lambda P: np.sin(P[:, 0]), X, y, path=tmp_path / "f.png", truth=np.sin
    )
    check_png(fig, tmp_path / "f.png")


def test_image_plots(tmp_path):
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
    y_true = rng.integers(0, 10, 100)
    y_pred = np.where(rng.random(100) < 0.8, y_true, (y_true + 1) % 10)
    shown = images.choose_examples(y_true, y_pred, n=40)
    assert len(shown) == 40 and np.sum(y_true[shown] != y_pred[shown]) == 13
    fig = images.prediction_grid(
        pictures[shown], y_true[shown], y_pred[shown], path=tmp_path / "g.png"
    )
    check_png(fig, tmp_path / "g.png")
    # (N, 1, H, W) tensors and class names work too
    fig = images.prediction_grid(
        pictures[:5, None],
        y_true[:5],
        y_pred[:5],
        classes=list("abcdefghij"),
        path=tmp_path / "g2.png",
    )
    check_png(fig, tmp_path / "g2.png")
    fig = images.weight_images(
        rng.standard_normal((100, 784)), (1, 28, 28), path=tmp_path / "w.png"
    )
    check_png(fig, tmp_path / "w.png")
    with pytest.raises(ShapeError):
        images.weight_images(np.zeros((3, 10)), (28, 28))


def test_figures_show_as_pictures_in_a_notebook_and_plotting_is_reachable():
    """Jupyter shows an object through _repr_png_; and snn.plotting needs no extra import."""
    import scratchnn as snn

    fig = snn.plotting.new_figure(2, 2)
    fig.add_subplot().plot([0, 1], [1, 0])
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_history_plot_draws_the_training_curves(tmp_path):
    """History.plot() is training_curves(history): a figure, a PNG with path=, keywords passed."""
    h = history()
    fig = h.plot(path=tmp_path / "curves.png", chance=0.5, title="a run")
    check_png(fig, tmp_path / "curves.png")
    assert len(fig.axes) == 3 and fig._suptitle.get_text() == "a run"
    assert fig._repr_png_().startswith(PNG)  # a notebook shows it as a picture
    assert len(history(accuracy=False).plot().axes) == 2


def _tick_values(ax):
    return [float(t) for t in ax.get_xticks()]


def test_short_runs_get_whole_epoch_ticks_and_a_one_epoch_run_one_tick():
    fig = curves.training_curves(history(epochs=1))
    for ax in fig.axes[:2]:
        assert _tick_values(ax) == [1.0]
        low, high = ax.get_xlim()
        assert low < 1 < high and high - low == pytest.approx(1.0)
    fig = curves.training_curves(history(epochs=3))
    assert _tick_values(fig.axes[0]) == [1.0, 2.0, 3.0]
    ticks = _tick_values(curves.training_curves(history(epochs=40)).axes[0])
    assert all(t == int(t) for t in ticks) and len(ticks) <= 12


def test_the_loss_axis_turns_logarithmic_when_one_epoch_exploded():
    h = history(epochs=5)
    assert curves.training_curves(h).axes[0].get_yscale() == "linear"
    h.records[0]["loss"] = 8400.0  # an exploding first epoch, then 0.5, 0.33, ...
    ax = curves.training_curves(h).axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss (log scale)"
    table = pd.DataFrame(
        {"epoch": [1, 2, 3], "scratchnn_loss": [5e3, 1.0, 0.5], "torch_loss": [5e3, 1.0, 0.5]}
    )
    assert curves.comparison_curves(table).axes[0].get_yscale() == "log"


def test_confusion_matrix_explains_its_colour_scale():
    y = np.array([0] * 98 + [1] * 2 + [1] * 100)
    fig = classification.confusion_matrix_plot(y, np.r_[np.zeros(100), np.ones(100)].astype(int))
    bar = fig.axes[-1]
    assert "fraction^0.4" in bar.get_ylabel()
    labels = [t.get_text() for t in bar.get_yticklabels()]
    assert labels == ["0%", "1%", "5%", "20%", "50%", "100%"]


def test_weight_images_have_a_colour_bar(tmp_path):
    W = np.random.default_rng(0).standard_normal((16, 784)) * np.linspace(0.1, 2, 16)[:, None]
    fig = images.weight_images(W, (28, 28), path=tmp_path / "w.png")
    bars = [ax for ax in fig.axes if "max |weight|" in ax.get_ylabel()]
    assert len(bars) == 1
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 16 and all(np.abs(a).max() == pytest.approx(1.0) for a in shown)
    assert "largest |weight| per unit" in fig.get_suptitle()


def test_the_vae_manifold_spans_the_codes_and_says_how_its_ticks_were_chosen():
    from scratchnn.plotting import vae

    codes = np.random.default_rng(0).normal(0, 2, (1000, 2))
    values = vae.latent_span(codes, 9)
    assert values[0] == -values[-1] and values[-1] > 3  # ±4-ish, not the prior's ±1.64
    np.testing.assert_allclose(np.diff(values), np.diff(values)[0])
    tiles = np.random.default_rng(1).random((81, 16))
    fig = vae.manifold(tiles, values, image_shape=(4, 4))
    ax = fig.axes[0]
    assert "evenly spaced from" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "0" in labels and all(float(s) == round(float(s)) for s in labels)
    fig = vae.manifold(tiles, vae.normal_quantiles(9), image_shape=(4, 4))
    assert "quantile" in fig.axes[0].get_xlabel() and "N(0, 1)" in fig.axes[0].get_xlabel()
    with pytest.raises(ShapeError, match=r"\(N, 2\)"):
        vae.latent_span(np.zeros((5, 3)), 4)
