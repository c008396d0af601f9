"""``scratchnn vae`` on a small slice of real MNIST: every promised file, sane numbers."""

from __future__ import annotations

import argparse
import json
import os
import signal

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
            "--out", str(out), "--verbose", "2",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "test negative ELBO" in printed and "importance-weighted" in printed
    assert f"results: {out}" in printed and "files: config.json" in printed

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
        (["--data-dir", "DATA", "--beta", "-2"], "beta must be a finite non-negative number"),
        (["--data-dir", "/nonexistent/mnist"], "directory not found"),
        (
            ["--dataset", "circle"],
            "vae needs an image dataset in MNIST format, e.g. --dataset mnist",
        ),
        (["--dataset", "mnsit"], "unknown image dataset 'mnsit' (did you mean 'mnist'?)"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message, mnist_dir):
    extra = [str(mnist_dir) if a == "DATA" else a for a in extra]
    args = ["vae", "--limit", "64", "--epochs", "1", "--out", str(tmp_path / "run")]
    assert cli.main([*args, "--verbose", "0", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchnn: error:") and message in err and "\n" not in err
    assert "scratchnn download" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--latent", "0"], "--latent"),
        (["--lr", "-1"], "--lr"),
        (["--hidden", "256 128"], "--hidden"),
    ],
)
def test_bad_option_values_are_usage_errors_as_for_train(capsys, extra, named):
    with pytest.raises(SystemExit) as info:
        cli.main(["vae", *extra])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: scratchnn vae")
    assert err.strip().splitlines()[-1].startswith(f"scratchnn vae: error: argument {named}:")


class SignalAt(snn.Callback):
    """Send SIGINT to this process after ``step`` training steps, as Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def on_batch_end(self, batch, logs):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def vae(mnist_dir, out, *extra):
    args = ["vae", "--data-dir", str(mnist_dir), "--limit", "300", "--latent", "2"]
    args += ["--hidden", "32,16", "--iwae-k", "5", "--iwae-n", "20", "--batch-size", "50"]
    return cli.main([*args, "--out", str(out), *map(str, extra)])


def test_an_interrupted_vae_run_says_how_to_resume_and_resumes_exactly(
    mnist_dir, tmp_path, monkeypatch, capsys
):
    """Ctrl-C at epoch 2, batch 3 (6 batches an epoch), then --resume: the straight run."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert vae(mnist_dir, straight, "--epochs", 3, "--verbose", 0) == 0
    real = VAE.fit
    with monkeypatch.context() as patch:
        patch.setattr(
            VAE, "fit", lambda self, X, **kw: real(self, X, callbacks=[SignalAt(9)], **kw)
        )
        assert vae(mnist_dir, stopped, "--epochs", 3, "--verbose", 0) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        f"scratchnn: training stopped by SIGINT at epoch 2, batch 3; the checkpoint and the "
        f"results so far are in {stopped}; continue with: scratchnn vae --resume {stopped}"
    )
    metrics = json.loads((stopped / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["stopped_at"] == {"epoch": 2, "batch": 3}
    assert len(pd.read_csv(stopped / "history.csv")) == 1

    assert cli.main(["vae", "--resume", str(stopped), "--verbose", "2"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {stopped / 'checkpoint.npz'} at epoch 2 of 3, batch 4 of 6" in out
    a, b = snn.load(straight / "model.npz"), snn.load(stopped / "model.npz")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=name)
    ha, hb = pd.read_csv(straight / "history.csv"), pd.read_csv(stopped / "history.csv")
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    done = json.loads((stopped / "metrics.json").read_text())
    assert done["status"] == "complete" and done["epochs"] == 3
    assert (
        done["test_iwae_nll"]
        == json.loads((straight / "metrics.json").read_text())["test_iwae_nll"]
    )


def test_resume_keeps_the_runs_configuration(mnist_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert vae(mnist_dir, run, "--epochs", 1, "--verbose", 0) == 0
    assert vae(mnist_dir, run, "--epochs", 1, "--verbose", 0) == 2
    assert f"continue it with 'scratchnn vae --resume {run}'" in capsys.readouterr().err
    assert cli.main(["vae", "--resume", str(run), "--latent", "3"]) == 2
    err = capsys.readouterr().err
    assert "--latent cannot be changed" in err and "\n" not in err.strip()
    assert cli.main(["vae", "--resume", str(run), "--epochs", "2", "--verbose", "0"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["arguments"]["epochs"] == 2 and config["arguments"]["hidden"] == [32, 16]
    assert snn.load(run / "model.npz").metadata["epochs"] == 2


def test_help_has_texts_and_metavars_and_no_raw_rst(capsys):
    with pytest.raises(SystemExit):
        cli.main(["vae", "--help"])
    shown = capsys.readouterr().out
    assert "``" not in shown and "--resume DIR" in shown and "--checkpoint-every K" in shown
    assert "--hidden SIZES" in shown and "256,128" in shown
    parser = cli.build_parser()
    command = next(a for a in parser._actions if a.dest == "command").choices["vae"]
    for action in command._actions:
        assert action.help, action.option_strings  # a text for every option
        takes_value = action.nargs != 0 and action.help != argparse.SUPPRESS
        if takes_value and action.choices is None:
            assert action.metavar, action.option_strings  # not the upper-cased dest


def test_train_resume_on_a_vae_run_names_vae_resume(mnist_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert vae(mnist_dir, run, "--epochs", 1, "--verbose", 0, "--iwae-k", 0) == 0
    assert cli.main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"scratchnn: error: {run}: a vae run; continue it with 'scratchnn vae --resume {run}'"
    )
