"""``scratchnn compare``: the same network in PyTorch, from the same start, in the same order."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.compare import compare_with_torch, to_torch, torch_optimizer
from scratchnn.errors import InputError
from scratchnn.experiments import resolve_config
from scratchnn.layers import Dropout
from scratchnn.models import mlp
from scratchnn.optimizers import SGD, Adam, AdamW, RMSprop


def test_twin_holds_exactly_the_same_weights_whatever_torchs_default_dtype(torch):
    model = mlp([3, 4, 2], rng=0, dtype=np.float64)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        net = to_torch(model, torch)
    finally:
        torch.set_default_dtype(old)
    assert net[0].weight.dtype == torch.float64
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), model[0].params["W"])
    np.testing.assert_array_equal(net[2].bias.detach().numpy(), model[2].params["b"])


def test_twin_gives_the_same_outputs(torch):
    model = mlp([5, 7, 3], activation="tanh", rng=0, dtype=np.float64)
    net = to_torch(model, torch)
    X = np.random.default_rng(1).normal(size=(4, 5))
    np.testing.assert_allclose(
        net(torch.from_numpy(X)).detach().numpy(), model.forward(X), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("optimizer", "name"),
    [
        (Adam(lr=0.01, weight_decay=0.1), "Adam"),
        (AdamW(lr=0.01), "AdamW"),
        (SGD(lr=0.1, momentum=0.9, nesterov=True), "SGD"),
        (RMSprop(lr=0.01, centered=True), "RMSprop"),
    ],
)
def test_optimizer_twins_keep_the_hyperparameters(torch, optimizer, name):
    twin = torch_optimizer(optimizer, [torch.zeros(2, requires_grad=True)], torch)
    assert type(twin).__name__ == name
    assert twin.param_groups[0]["lr"] == optimizer.lr
    assert twin.param_groups[0]["weight_decay"] == optimizer.hyperparameters()["weight_decay"]


def test_dropout_cannot_be_matched(torch):
    model = mlp([2, 4, 2], dropout=0.5, rng=0)
    assert any(isinstance(layer, Dropout) for layer in model)
    with pytest.raises(InputError, match="dropout"):
        to_torch(model, torch)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_float64_curves_coincide(tmp_path, torch, optimizer):
    """Same initial weights, same batch order, same optimizer: the same numbers to rounding."""
    config = resolve_config(
        {
            "dataset": "spirals",
            "n": 600,
            "hidden": [16, 8],
            "epochs": 4,
            "dtype": "float64",
            "optimizer": optimizer,
            "lr": 0.01,
            "batch_size": 16,
            "lr_schedule": "cosine",
        }
    )
    summary = compare_with_torch(
        config, tmp_path / optimizer, verbose=0, plots=False, log=lambda s: None
    )
    assert summary["max_rel_loss_difference"] < 1e-10, summary
    assert summary["scratchnn"]["test_loss"] == pytest.approx(
        summary["torch"]["test_loss"], rel=1e-9
    )
    assert summary["scratchnn"]["test_accuracy"] == summary["torch"]["test_accuracy"]


def test_float32_curves_stay_close(tmp_path, torch):
    config = resolve_config(
        {
            "dataset": "circle",
            "n": 800,
            "hidden": [16],
            "epochs": 3,
            "batch_size": 32,
            "loss": "bce",
        }
    )
    summary = compare_with_torch(
        config, tmp_path / "f32", verbose=0, plots=True, log=lambda s: None
    )
    assert summary["max_rel_loss_difference"] < 1e-4
    assert (tmp_path / "f32" / "compare.png").stat().st_size > 0


def test_regression_compare(tmp_path, torch):
    config = resolve_config({"dataset": "sine", "n": 300, "epochs": 2, "dtype": "float64"})
    summary = compare_with_torch(config, tmp_path / "s", verbose=0, plots=False, log=lambda s: None)
    assert summary["max_rel_loss_difference"] < 1e-10


def test_benchmark_script_smoke(torch):
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO

    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "compare_mlp_mnist.py"), "--smoke", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"scratchnn_s_per_epoch", "torch_s_per_epoch", "ratio"} <= set(last)
    assert last["ratio"] > 0 and last["max_abs_loss_difference"] < 1e-4


@pytest.mark.parametrize("batchnorm", [False, True])
def test_to_torch_translates_convolutional_networks(torch, batchnorm):
    """Conv2D, pooling and BatchNorm (with its running statistics) have PyTorch twins."""
    from scratchnn.layers import AvgPool2D, Conv2D, Flatten, GlobalAvgPool2D
    from scratchnn.model import Sequential
    from scratchnn.models import cnn

    rng = np.random.default_rng(0)
    model = cnn((2, 12, 12), 3, channels=(4,), kernel_size=3, hidden=8, batchnorm=batchnorm)
    model = model.astype(np.float64)
    X = rng.random((5, 2, 12, 12))
    model.fit(X, rng.integers(0, 3, 5), epochs=2, batch_size=5, verbose=0, seed=0)  # moves stats
    net = to_torch(model, torch).eval()
    np.testing.assert_allclose(
        net(torch.from_numpy(X)).detach().numpy(), model.predict(X), rtol=0, atol=1e-12
    )
    other = Sequential(
        Conv2D(2, 3, 3, stride=2, padding=1, rng=rng),
        AvgPool2D(2),
        GlobalAvgPool2D(),
        Flatten(),
        dtype=np.float64,
    )
    np.testing.assert_allclose(
        to_torch(other, torch)(torch.from_numpy(X)).detach().numpy(),
        other.predict(X),
        rtol=0,
        atol=1e-12,
    )


def test_epoch_times_leave_out_the_warm_up_epoch():
    from scratchnn.compare import describe_epochs, median_seconds, timed_epochs

    assert timed_epochs(1) == [1] and timed_epochs(4) == [2, 3, 4]
    # PyTorch's first epoch: 1.609 s, then 0.083 s (issue 17); the mean said 0.464
    seconds = [1.609, 0.083, 0.081, 0.090]
    assert median_seconds(seconds, timed_epochs(4)) == pytest.approx(0.083)
    assert describe_epochs([2, 3, 4], 4) == "epochs 2-4"
    assert describe_epochs([1], 1) == "epoch 1 (with warm-up)"


def test_compare_reports_medians_and_shows_progress_on_both_sides(tmp_path, torch, capsys):
    import pandas as pd

    config = resolve_config(
        {"dataset": "circle", "n": 400, "hidden": [8], "epochs": 3, "dtype": "float64"}
    )
    lines = []
    summary = compare_with_torch(config, tmp_path / "c", verbose=2, plots=False, log=lines.append)
    assert summary["timed_epochs"] == [2, 3]
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    for side, column in (("scratchnn", "scratchnn_seconds"), ("torch", "torch_seconds")):
        expected = float(np.median(table[column].to_numpy()[1:]))
        assert summary[side]["seconds_per_epoch"] == pytest.approx(expected)
        assert summary[side]["mean_seconds_per_epoch_all"] == pytest.approx(table[column].mean())
    printed = capsys.readouterr().out
    assert printed.count("epoch 3/3: loss ") == 2  # scratchnn's line, then PyTorch's
    box = "\n".join(lines)
    assert "s/epoch, median of epochs 2-3" in box


def test_ctrl_c_in_compare_says_what_to_do_on_the_command_line(
    tmp_path, torch, monkeypatch, capsys
):
    import os
    import signal

    import scratchnn as snn
    from scratchnn import cli, compare

    class SignalAt(snn.Callback):
        def on_batch_end(self, batch, logs):
            if batch == 3:
                os.kill(os.getpid(), signal.SIGINT)

    real = compare.fit
    monkeypatch.setattr(compare, "fit", lambda *a, **kw: real(*a, callbacks=[SignalAt()], **kw))
    argv = ["compare", "--dataset", "circle", "--n", "400", "--hidden", "4", "--epochs", "2"]
    assert cli.main([*argv, "--out", str(tmp_path / "c"), "--verbose", "0"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        "scratchnn: training stopped by SIGINT at epoch 1, batch 3 (scratchnn's side); a "
        "comparison is not resumable: run the same 'scratchnn compare' command again, with "
        "another --out or --overwrite"
    )
