"""``scratchnn train --model cnn``: the LeNet-like network through the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchnn import cli
from scratchnn.io import load_model


def train(args, capsys=None):
    code = cli.main(["train", *map(str, args), "--verbose", "0"])
    return code


@pytest.mark.slow
def test_the_readme_cnn_command_passes_99_percent(tmp_path, mnist_dir):
    """The issue's bar: >= 99.0 % test accuracy from the defaults, within a few epochs."""
    out = tmp_path / "cnn"
    assert (
        train(["--dataset", "mnist", "--model", "cnn", "--data-dir", mnist_dir, "--out", out]) == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 3 and config["batch_size"] == 64 and config["lr"] == 2e-3
    assert config["lr_schedule"] == "cosine" and config["channels"] == [16, 32]
    assert metrics["test_accuracy"] >= 0.99 and metrics["n_test"] == 10000
    names = {p.name for p in out.iterdir()}
    assert {"filters.png", "feature_maps.png", "confusion_matrix.png", "curves.png"} <= names


def test_small_cnn_trains_evaluates_predicts_and_resumes(tmp_path, mnist_dir, capsys):
    """A small CNN for one epoch, then one more by --resume: bit-identical to two straight
    epochs; evaluate and predict read the images through the saved image layout."""
    small = ["--dataset", "mnist", "--model", "cnn", "--data-dir", mnist_dir, "--channels", "4"]
    small += ["--hidden", "16", "--batch-size", "256", "--batchnorm", "--no-plots"]
    small += ["--lr-schedule", "constant"]  # a cosine plan cannot be stretched by --resume
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    assert train([*small, "--epochs", "2", "--out", straight]) == 0
    assert train([*small, "--epochs", "1", "--out", halves]) == 0
    assert train(["--resume", halves, "--epochs", "2"]) == 0
    a, b = load_model(straight / "model.npz"), load_model(halves / "model.npz")
    state_b = b.state_dict()
    assert any("running_mean" in name for name in state_b)  # BatchNorm's buffers resume too
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, state_b[name], err_msg=name)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["architecture"] == "conv5x5:4-pool2-16-10 relu +bn"
    assert metrics["test_accuracy"] > 0.9
    assert (
        json.loads((halves / "metrics.json").read_text())["test_accuracy"]
        == (metrics["test_accuracy"])
    )
    assert a.metadata["preprocess"]["layout"] == "image"

    capsys.readouterr()
    evaluate = ["evaluate", "--model", str(straight), "--dataset", "mnist"]
    assert cli.main([*evaluate, "--data-dir", str(mnist_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"])
    predictions = tmp_path / "pred.csv"
    images = mnist_dir / "t10k-images-idx3-ubyte.gz"
    predict = ["predict", "--model", str(straight), "--input", str(images)]
    assert cli.main([*predict, "--out", str(predictions)]) == 0
    assert len(predictions.read_text().splitlines()) == 10001


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--hidden", "64,32"], "one size such as --hidden 128"),
        (["--channels", "none"], "at least one convolution"),
        (["--channels", "8,8,8"], "cannot be built"),
    ],
)
def test_bad_cnn_options_exit_2_with_one_line(tmp_path, mnist_dir, capsys, extra, message):
    args = ["--dataset", "mnist", "--model", "cnn", "--data-dir", mnist_dir, "--epochs", "1"]
    assert train([*args, *extra, "--out", tmp_path / "run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cnn_on_feature_rows_is_refused(tmp_path, capsys):
    assert train(["--dataset", "circle", "--model", "cnn", "--out", tmp_path / "run"]) == 2
    err = capsys.readouterr().err
    assert "use --model mlp" in err and "Traceback" not in err
