"""Every command of the command line, in-process on small data, and the exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from scratchnn import cli
from scratchnn.datasets import circle_regions, save_csv
from scratchnn.io import load_model


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "scratchnn", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


def test_every_command_is_registered():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert (
        set(sub.choices)
        == set(cli.COMMANDS)
        >= {"demo", "train", "evaluate", "predict", "datasets", "download", "compare"}
    )


@pytest.mark.parametrize(("dataset", "best"), [("circle", 0.895), ("square", 0.955)])
def test_train_with_only_a_dataset_reaches_the_best_possible(
    tmp_path, monkeypatch, capsys, dataset, best
):
    """``scratchnn train --dataset NAME`` alone: within 1.5 points of the Bayes rate on fresh data."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--dataset", dataset, "--verbose", "0"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith(f"{dataset}-mlp-")
    names = {p.name for p in run.iterdir()}
    assert names == {
        "config.json",
        "checkpoint.npz",
        "history.csv",
        "metrics.json",
        "model.npz",
        "curves.png",
        "confusion_matrix.png",
        "dataset.png",
        "decision_regions.png",
    }
    assert all((run / n).stat().st_size > 0 for n in names)
    config = json.loads((run / "config.json").read_text())
    assert config["hidden"] == [16, 16] and config["epochs"] == 20 and config["n"] is None
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(run), "--dataset", dataset, "--n", "100000"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 100000
    assert report["accuracy"] >= best - 0.015
    assert report["best_possible_accuracy"] - report["accuracy"] < 0.015


@pytest.mark.slow
def test_the_readme_mnist_command_reaches_98_percent(tmp_path, mnist_dir):
    args = [
        "train",
        "--dataset",
        "mnist",
        "--hidden",
        "524,124",
        "--epochs",
        "10",
        "--batch-size",
        "250",
        "--lr",
        "1e-3",
        "--data-dir",
        str(mnist_dir),
        "--out",
        str(tmp_path / "mnist"),
        "--verbose",
        "0",
        "--no-plots",
    ]
    assert cli.main(args) == 0
    metrics = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.98 and metrics["n_test"] == 10000


def test_train_prints_progress_and_a_summary(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "moons", "--n", "300", "--epochs", "2", "--out", out]
    assert cli.main([*map(str, args), "--verbose", "2", "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "epoch 2/2" in text and "test accuracy" in text and f"results: {out}" in text
    assert not list(out.glob("*.png"))
    # a second run into the same folder is refused, with the fix
    assert cli.main([*map(str, args), "--verbose", "0"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_evaluate_on_a_fresh_sample_and_on_a_csv(tmp_path, capsys):
    out = tmp_path / "run"
    cli.main(
        [
            "train",
            "--dataset",
            "square",
            "--n",
            "2000",
            "--epochs",
            "5",
            "--out",
            str(out),
            "--verbose",
            "0",
            "--no-plots",
        ]
    )
    capsys.readouterr()
    assert (
        cli.main(
            ["evaluate", "--model", str(out / "model.npz"), "--dataset", "square", "--n", "20000"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 20000 and "fresh sample" in report["data"]
    assert 0.9 < report["accuracy"] <= report["best_possible_accuracy"] + 0.01
    assert report["gap_points"] == pytest.approx(
        100 * (report["best_possible_accuracy"] - report["accuracy"])
    )
    X, y = circle_regions(50, seed=9)  # any CSV with the model's columns x, y and a label
    save_csv(tmp_path / "new.csv", X, y)
    assert (
        cli.main(
            [
                "evaluate",
                "--model",
                str(out),
                "--dataset",
                str(tmp_path / "new.csv"),
                "--output",
                str(tmp_path / "eval.json"),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 50 and 0 <= report["accuracy"] <= 1
    assert json.loads((tmp_path / "eval.json").read_text())["loss"] == report["loss"]


def test_string_labels_train_predict_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    kind = np.where(X[:, 0] + X[:, 2] > 0, "tall", "short")
    pd.DataFrame({"h": X[:, 0], "w": X[:, 1], "d": X[:, 2], "kind": kind}).to_csv(
        tmp_path / "train.csv", index=False
    )
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--dataset",
                str(tmp_path / "train.csv"),
                "--target",
                "kind",
                "--epochs",
                "30",
                "--out",
                str(out),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    model = load_model(out / "model.npz")
    assert model.metadata["classes"] == ["short", "tall"]
    assert model.metadata["feature_names"] == ["h", "w", "d"]
    assert model.metadata["preprocess"]["scaler"]["kind"] == "standardize"
    # new points: other column order, an extra column, no label
    new = pd.DataFrame(
        {"note": ["a", "b", "c"], "d": [2.0, -2.0, 0.1], "w": [0, 0, 0], "h": [2.0, -2.0, 1.0]}
    )
    new.to_csv(tmp_path / "new.csv", index=False)
    assert (
        cli.main(
            [
                "predict",
                "--model",
                str(out),
                "--input",
                str(tmp_path / "new.csv"),
                "--output",
                str(tmp_path / "pred.csv"),
            ]
        )
        == 0
    )
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["note", "d", "w", "h", "prediction", "p_short", "p_tall"]
    assert pred["prediction"].tolist() == ["tall", "short", "tall"]
    np.testing.assert_allclose(pred["p_short"] + pred["p_tall"], 1.0)
    # to stdout, and a clear error for a file without the model's columns
    assert cli.main(["predict", "--model", str(out), "--input", str(tmp_path / "new.csv")]) == 0
    assert capsys.readouterr().out.startswith("note,d,w,h,prediction")
    pd.DataFrame({"h": [1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    assert cli.main(["predict", "--model", str(out), "--input", str(tmp_path / "bad.csv")]) == 2
    assert "missing feature column(s) 'w', 'd'" in capsys.readouterr().err


def test_regression_dataset_end_to_end(tmp_path, capsys):
    out = tmp_path / "sine"
    assert (
        cli.main(
            [
                "train",
                "--dataset",
                "sine",
                "--n",
                "500",
                "--epochs",
                "3",
                "--out",
                str(out),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    assert {"curves.png", "fit.png"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] is None and metrics["test_loss"] > 0
    np.save(tmp_path / "x.npy", np.array([[0.0], [1.5]]))
    assert cli.main(["predict", "--model", str(out), "--input", str(tmp_path / "x.npy")]) == 0
    pred = capsys.readouterr().out.splitlines()
    assert pred[0] == "index,prediction" and len(pred) == 3


def test_mnist_train_evaluate_predict_on_real_data(tmp_path, mnist_dir, capsys):
    out = tmp_path / "mnist"
    assert (
        cli.main(
            [
                "train",
                "--dataset",
                "mnist",
                "--data-dir",
                str(mnist_dir),
                "--hidden",
                "32",
                "--epochs",
                "1",
                "--out",
                str(out),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    names = {p.name for p in out.iterdir()}
    assert {"curves.png", "confusion_matrix.png", "predictions.png", "weights.png"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.85 and metrics["n_test"] == 10000
    assert load_model(out / "model.npz").metadata["preprocess"]["scaler"] == {
        "kind": "rescale",
        "factor": 1 / 255,
    }
    capsys.readouterr()
    assert (
        cli.main(
            ["evaluate", "--model", str(out), "--dataset", "mnist", "--data-dir", str(mnist_dir)]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"])
    images = mnist_dir / "t10k-images-idx3-ubyte.gz"
    assert (
        cli.main(
            [
                "predict",
                "--model",
                str(out),
                "--input",
                str(images),
                "--output",
                str(tmp_path / "digits.csv"),
            ]
        )
        == 0
    )
    pred = pd.read_csv(tmp_path / "digits.csv")
    assert len(pred) == 10000 and list(pred.columns[:2]) == ["index", "prediction"]
    assert pred.shape[1] == 12


def test_datasets_lists_and_exports(tmp_path, capsys):
    assert cli.main(["datasets", "--data-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for name in ("circle", "square", "moons", "spirals", "xor", "sine", "mnist", "fashion-mnist"):
        assert f"\n{name} " in text
    assert "scratchnn download fashion-mnist" in text or "fashion-mnist" in text
    out = tmp_path / "circle.csv"
    assert (
        cli.main(
            [
                "datasets",
                "circle",
                "--n",
                "100",
                "--out",
                str(out),
                "--plot",
                str(tmp_path / "circle.png"),
            ]
        )
        == 0
    )
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["x", "y", "label"] and len(frame) == 100
    assert (tmp_path / "circle.png").stat().st_size > 0
    assert cli.main(["datasets", "mnist", "--out", str(out)]) == 2
    assert "only generated datasets" in capsys.readouterr().err


def test_compare_writes_the_side_by_side_table(tmp_path, torch, capsys):
    out = tmp_path / "cmp"
    assert (
        cli.main(
            [
                "compare",
                "--dataset",
                "circle",
                "--n",
                "400",
                "--hidden",
                "8",
                "--epochs",
                "3",
                "--dtype",
                "float64",
                "--out",
                str(out),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    names = {p.name for p in out.iterdir()}
    assert names == {"config.json", "compare.csv", "compare.json", "compare.png"}
    summary = json.loads((out / "compare.json").read_text())
    assert summary["max_abs_loss_difference"] < 1e-12
    table = pd.read_csv(out / "compare.csv")
    assert len(table) == 3 and {"scratchnn_loss", "torch_loss", "torch_seconds"} <= set(table)


def test_demo_trains_and_shows_where_results_are(tmp_path, capsys):
    assert cli.main(["demo", "--epochs", "2", "--n", "400", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "circle" in out and "square" in out and "%" in out and "2-3-2" in out
    assert f"Results written to {tmp_path / 'demo'}" in out
    assert (tmp_path / "demo" / "square-2-16-16-2" / "decision_regions.png").stat().st_size > 0


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_python_dash_m_works():
    result = run_cli("--version")
    assert result.returncode == 0 and "scratchnn" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--dataset", "nonsense"], "unknown dataset 'nonsense'"),
        (["train", "--dataset", "missing.csv"], "missing.csv: file not found"),
        (["evaluate", "--model", "nowhere.npz", "--dataset", "circle"], "file not found"),
        (["train", "--dataset", "mnist", "--data-dir", "/nonexistent"], "directory not found"),
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scratchnn: error:") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_option_values_exit_2():
    result = run_cli("train", "--dataset", "circle", "--epochs", "0")
    assert result.returncode == 2 and "must be positive" in result.stderr
    result = run_cli("train", "--dataset", "circle", "--hidden", "16,x")
    assert result.returncode == 2 and "comma-separated" in result.stderr


def test_unexpected_errors_exit_1(tmp_path):
    code = (
        "import sys, scratchnn.experiments as e\n"
        "def boom(*a, **k): raise RuntimeError('a bug')\n"
        "e.run_training = boom\n"
        "from scratchnn import cli\n"
        "sys.exit(cli.main(['train', '--dataset', 'circle']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 1 and "RuntimeError: a bug" in result.stderr


def test_readme_cli_section_mentions_every_command():
    readme = (REPO / "README.md").read_text()
    for name in cli.COMMANDS:
        assert f"scratchnn {name}" in readme
