"""``scratchnn vae`` on a small slice of real MNIST: every promised file, sane numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scratchnn as snn
from scratchnn import cli
from scratchnn.models import VAE


def test_vae_command_writes_history_metrics_model_and_plots(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        [
            "vae", "--data-dir", str(mnist_dir), "--limit", "600", "--epochs", "2",
            "--latent", "2", "--hidden", "64", "--iwae-k", "10", "--iwae-n", "50",
            "--out", str(out), "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "test negative ELBO" in printed and "importance-weighted" in printed

    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "test_neg_elbo",
        "test_recon",
        "test_kl",
        "train_seconds",
        "epochs",
        "test_iwae_nll",
    ):
        assert np.isfinite(metrics[key]), key
    assert metrics["epochs"] == 2 and metrics["iwae_k"] == 10 and metrics["iwae_n"] == 50
    assert metrics["test_neg_elbo"] == pytest.approx(metrics["test_recon"] + metrics["test_kl"])
    assert 100 < metrics["test_neg_elbo"] < 550  # a 784-pixel image costs 543 nats at p = 0.5

    history = pd.read_csv(out / "history.csv")
    assert len(history) == 2
    assert {"loss", "recon", "kl", "val_loss", "val_recon", "val_kl"} <= set(history.columns)

    config = json.loads((out / "config.json").read_text())
    assert config["model"]["latent_dim"] == 2 and config["arguments"]["hidden"] == [64]

    vae = snn.load(out / "model.npz")
    assert isinstance(vae, VAE) and vae.metadata["dataset"] == "mnist"
    for name in ("reconstructions", "samples", "elbo", "latent", "manifold"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_latent_plots_only_for_a_two_dimensional_code(mnist_dir, tmp_path):
    out = tmp_path / "run"
    args = ["vae", "--data-dir", str(mnist_dir), "--limit", "300", "--epochs", "1"]
    args += [
        "--latent",
        "3",
        "--hidden",
        "32",
        "--iwae-k",
        "0",
        "--out",
        str(out),
        "--verbose",
        "0",
    ]
    assert cli.main(args) == 0
    assert (out / "samples.png").exists() and not (out / "latent.png").exists()
    assert "test_iwae_nll" not in json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--latent", "0"], "--latent must be at least 1"),
        (["--lr", "-1"], "--lr must be a positive number"),
        (["--beta", "-2"], "beta must be a finite non-negative number"),
        (["--data-dir", "/nonexistent/mnist"], "directory not found"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message, mnist_dir):
    args = ["vae", "--data-dir", str(mnist_dir), "--limit", "64", "--epochs", "1"]
    args += ["--out", str(tmp_path / "run"), "--quiet", *extra]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchnn: error:") and message in err and "\n" not in err
