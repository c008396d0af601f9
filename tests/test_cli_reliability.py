"""The command line under stress: resume, Ctrl-C/SIGTERM, divergence, bad files, full disks.

Each case goes through ``scratchnn train/evaluate/predict`` as a user would type it: in a
subprocess where signals, exit codes and the absence of a traceback are the point, in-process
(``cli.main``) otherwise.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scratchnn import cli
from scratchnn.datasets import load_csv
from scratchnn.errors import ScratchnnError
from scratchnn.io import atomic, npz, read_npz
from scratchnn.training import CHECKPOINT_FILE, load_checkpoint
from test_datasets_download import tiny_idx_set
from test_datasets_mnist import write_idx

TIMING = {"train_seconds", "seconds_per_epoch"}
ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}


def scratchnn(*args, **kwargs):
    """``python -m scratchnn ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "scratchnn", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        **kwargs,
    )


def main(*args) -> int:
    return cli.main([str(a) for a in args])


def one_error_line(stderr: str) -> str:
    """The single line a user error prints, checked to be the only one.

    Learner advice (``scratchnn: warning: ...``, e.g. a toy run that ended at chance) may
    come before it: advice, one line each, not part of the error."""
    lines = [
        line for line in stderr.strip().splitlines() if not line.startswith("scratchnn: warning: ")
    ]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("scratchnn: ")
    return lines[0]


def assert_same_results(a: Path, b: Path) -> None:
    """Bit-identical model.npz, history.csv (but seconds), metrics.json (but timings), config."""
    meta_a, arrays_a = read_npz(a / "model.npz")
    meta_b, arrays_b = read_npz(b / "model.npz")
    assert meta_a == meta_b and arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key, strict=True)
    history_a = pd.read_csv(a / "history.csv").drop(columns="seconds")
    history_b = pd.read_csv(b / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(history_a, history_b, check_exact=True)
    metrics_a = json.loads((a / "metrics.json").read_text())
    metrics_b = json.loads((b / "metrics.json").read_text())
    assert metrics_a.keys() == metrics_b.keys()
    assert {k: v for k, v in metrics_a.items() if k not in TIMING} == {
        k: v for k, v in metrics_b.items() if k not in TIMING
    }
    assert json.loads((a / "config.json").read_text()) == json.loads(
        (b / "config.json").read_text()
    )


# Dropout (a layer's own generator), a validation split and shuffling: every random state
# that a resume must restore is in play.
SPIRALS = ["--dataset", "spirals", "--n", "900", "--dropout", "0.1", "--seed", "3"]
QUIET = ["--verbose", "0", "--no-plots"]


# -- resume -------------------------------------------------------------------------------
def test_train_checkpoints_by_default_and_resume_is_bit_identical(tmp_path, capsys):
    """10 epochs straight == 5 epochs, then ``--resume ... --epochs 10``."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main("train", *SPIRALS, "--epochs", 10, "--out", straight, *QUIET) == 0
    assert main("train", *SPIRALS, "--epochs", 5, "--out", split, *QUIET) == 0
    assert load_checkpoint(split).epoch == 5
    assert json.loads((split / "metrics.json").read_text())["status"] == "complete"
    assert main("train", "--resume", split, "--epochs", 10, "--verbose", "2", "--no-plots") == 0
    out = capsys.readouterr().out
    assert f"resuming {split / CHECKPOINT_FILE} after epoch 5 of 10" in out
    assert "epoch 6/10" in out and "epoch 5/10" not in out
    assert load_checkpoint(split).epoch == 10
    assert_same_results(straight, split)
    # resuming a finished run trains nothing and writes the same results again
    (split / "metrics.json").unlink()
    assert main("train", "--resume", split, *QUIET) == 0
    assert_same_results(straight, split)


def test_a_fresh_train_into_a_run_folder_is_refused_and_overwrite_starts_again(tmp_path, capsys):
    run = tmp_path / "run"
    assert main("train", *SPIRALS, "--epochs", 2, "--out", run, *QUIET) == 0
    capsys.readouterr()
    before = (run / CHECKPOINT_FILE).read_bytes()
    assert main("train", *SPIRALS, "--epochs", 2, "--out", run, *QUIET) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{run}: already holds a run" in line
    assert f"continue it with 'scratchnn train --resume {run}'" in line and "another --out" in line
    assert (run / CHECKPOINT_FILE).read_bytes() == before
    # --overwrite: a new run from scratch, not a continuation of the old checkpoint
    assert main("train", *SPIRALS, "--epochs", 1, "--out", run, "--overwrite", *QUIET) == 0
    assert load_checkpoint(run).epoch == 1 and len(pd.read_csv(run / "history.csv")) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume", "{tmp}/nowhere"], "{tmp}/nowhere: no such run folder"),
        (["--resume", "{tmp}"], "{tmp}: not a run folder (no config.json)"),
        (
            ["--resume", "{run}", "--epochs", "2"],
            "already reached epoch 3; pass --epochs 3 or more",
        ),
        (["--resume", "{run}", "--lr", "0.1", "--hidden", "4"], "so --hidden, --lr cannot be"),
        (["--resume", "{run}", "--out", "{tmp}/x"], "so --out cannot be changed"),
        (["--resume", "{run}", "--checkpoint-every", "0"], "drop --checkpoint-every 0"),
        (["--resume", "{cosine}", "--epochs", "5"], "cosine decay planned for 3 epochs"),
        (["--resume", "{nockpt}"], "holds no checkpoint.npz to resume from"),
        (["--epochs", "2"], "no dataset given; pass --dataset"),
    ],
)
def test_resume_mistakes_are_one_line_errors(tmp_path_factory, capsys, args, message):
    runs = _small_runs(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("empty")
    names = {"tmp": tmp, **runs}
    assert main("train", *[a.format(**names) for a in args]) == 2
    assert message.format(**names) in one_error_line(capsys.readouterr().err)


_RUNS: dict[str, Path] = {}


def _small_runs(tmp_path_factory) -> dict[str, Path]:
    """Three finished 3-epoch runs: constant rate, cosine decay, and without checkpoints."""
    if not _RUNS:
        base = tmp_path_factory.mktemp("runs")
        common = ["--dataset", "moons", "--n", "300", "--epochs", "3", *QUIET]
        for name, extra in (
            ("run", []),
            ("cosine", ["--lr-schedule", "cosine"]),
            ("nockpt", ["--checkpoint-every", "0"]),
        ):
            assert main("train", *common, *extra, "--out", base / name) == 0
            _RUNS[name] = base / name
    return _RUNS


def test_resume_accepts_a_data_dir_that_moved_but_not_other_data(tmp_path, capsys):
    tiny_idx_set(tmp_path / "a", seed=0)
    tiny_idx_set(tmp_path / "b", seed=1)
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    run = tmp_path / "run"
    common = ["--hidden", "8", "--val-split", "0", "--lr-schedule", "constant", *QUIET]
    data = ["--dataset", "mnist", "--data-dir", tmp_path / "a"]
    assert main("train", *data, *common, "--epochs", 1, "--out", run) == 0
    shutil.rmtree(tmp_path / "a")
    capsys.readouterr()
    assert main("train", "--resume", run, "--epochs", 2, "--data-dir", tmp_path / "b") == 2
    assert "the training data differ from the run's" in one_error_line(capsys.readouterr().err)
    assert load_checkpoint(run).epoch == 1
    assert main("train", "--resume", run, "--epochs", 2, "--data-dir", tmp_path / "moved") == 0
    assert load_checkpoint(run).epoch == 2
    config = json.loads((run / "config.json").read_text())
    assert config["data_dir"] == str(tmp_path / "moved") and config["epochs"] == 2


def test_resume_finds_a_csv_file_that_moved(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": (X[:, 0] > 0).astype(int)})
    (tmp_path / "old").mkdir()
    frame.to_csv(tmp_path / "old" / "data.csv", index=False)
    run = tmp_path / "run"
    assert (
        main("train", "--dataset", tmp_path / "old" / "data.csv", "--epochs", 1, "--out", run) == 0
    )
    shutil.move(tmp_path / "old", tmp_path / "new")
    capsys.readouterr()
    assert main("train", "--resume", run, "--epochs", 2, *QUIET) == 2
    assert "data.csv: file not found" in one_error_line(capsys.readouterr().err)
    moved = tmp_path / "new" / "data.csv"
    assert main("train", "--resume", run, "--epochs", 2, "--dataset", moved, *QUIET) == 0
    assert json.loads((run / "config.json").read_text())["dataset"] == str(moved)
    assert load_checkpoint(run).epoch == 2


def test_ctrl_c_while_the_results_are_written(tmp_path, monkeypatch, capsys):
    from scratchnn.experiments import driver

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(driver, "write_plots", interrupted)
        args = ["--dataset", "moons", "--n", "300", "--epochs", 2, "--verbose", 0]
        assert main("train", *args, "--out", run) == 130
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        f"scratchnn: interrupted while writing the results; the trained model is safe in "
        f"{run / CHECKPOINT_FILE}, and 'scratchnn train --resume {run}' writes them again"
    )
    assert not (run / "curves.png").exists()
    assert main("train", "--resume", run, "--verbose", "0") == 0
    assert (run / "curves.png").is_file() and load_checkpoint(run).epoch == 2


# -- Ctrl-C and SIGTERM ---------------------------------------------------------------------
LONG = ["--dataset", "spirals", "--n", "6000", "--batch-size", "4", "--dropout", "0.1"]


def _interrupt(tmp_path, signum):
    """Start a long ``train``, send ``signum`` once the first checkpoint exists; the result."""
    run = tmp_path / "run"
    command = [sys.executable, "-m", "scratchnn", "train", *LONG, "--epochs", "500"]
    process = subprocess.Popen(
        [*command, "--out", str(run), *QUIET],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    deadline = time.monotonic() + 240
    while not (run / CHECKPOINT_FILE).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.02)
    process.send_signal(signum)
    out, err = process.communicate(timeout=240)
    return run, process.returncode, out, err


def test_ctrl_c_saves_everything_exits_130_and_the_run_resumes_exactly(tmp_path):
    run, code, out, err = _interrupt(tmp_path, signal.SIGINT)
    assert code == 130, err
    line = one_error_line(err)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["stopped_by"] == "SIGINT"
    epoch, batch = metrics["stopped_at"]["epoch"], metrics["stopped_at"]["batch"]
    where = f"after epoch {epoch}" if batch is None else f"at epoch {epoch}, batch {batch}"
    assert line == (
        f"scratchnn: training stopped by SIGINT {where}; the checkpoint and the results so far "
        f"are in {run}; continue with: scratchnn train --resume {run}"
    )
    # the results so far: history of the complete epochs, the model of the last complete step
    history = pd.read_csv(run / "history.csv")
    complete = epoch if batch is None else epoch - 1
    assert len(history) == metrics["epochs"] == complete >= 1
    checkpoint = load_checkpoint(run)
    assert checkpoint.in_epoch == (None if batch is None else epoch)
    saved = dict(read_npz(run / "model.npz")[1])
    for name, value in checkpoint.model.state_dict().items():
        np.testing.assert_array_equal(saved[f"param/{name}"], value)
    assert {p.name for p in run.iterdir()} == {
        "config.json",
        "checkpoint.npz",
        "history.csv",
        "metrics.json",
        "model.npz",
    }
    # continued to one more epoch than it reached, it equals a run trained straight there
    target = epoch + 1
    assert main("train", "--resume", run, "--epochs", target, *QUIET) == 0
    straight = tmp_path / "straight"
    assert main("train", *LONG, "--epochs", target, "--out", straight, *QUIET) == 0
    assert_same_results(straight, run)


def test_sigterm_saves_and_exits_143(tmp_path):
    run, code, out, err = _interrupt(tmp_path, signal.SIGTERM)
    assert code == 143, err
    line = one_error_line(err)
    assert line.startswith("scratchnn: training stopped by SIGTERM ")
    assert line.endswith(f"continue with: scratchnn train --resume {run}")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["stopped_by"] == "SIGTERM"
    assert (run / "model.npz").is_file() and load_checkpoint(run) is not None


# -- divergence ---------------------------------------------------------------------------
def test_divergence_exits_2_naming_epoch_batch_lr_and_clip_norm(tmp_path):
    run = tmp_path / "run"
    args = "train --dataset sine --n 1000 --optimizer sgd --lr 10 --epochs 5".split()
    result = scratchnn(*args, "--out", run, *QUIET)
    assert result.returncode == 2
    line = one_error_line(result.stderr)  # no RuntimeWarning from NumPy either
    assert line.startswith("scratchnn: error: training diverged: the ")
    assert "at epoch 1, batch " in line and "try a smaller --lr (now 10) or --clip-norm 1" in line
    assert "no checkpoint had been saved yet" in line
    assert f"the history so far is in {run / 'history.csv'}" in line
    assert pd.read_csv(run / "history.csv").empty
    assert not (run / "model.npz").exists() and not (run / "metrics.json").exists()


def test_divergence_keeps_the_last_good_checkpoint_and_the_history(tmp_path, monkeypatch, capsys):
    """A parameter poisoned by the 21st step (epoch 3 of 9 steps each) makes the loss NaN."""
    from scratchnn import optimizers

    steps = []
    original = optimizers.Adam.step

    def step(self, parameters):
        parameters = list(parameters)
        original(self, parameters)
        steps.append(1)
        if len(steps) == 21:
            parameters[0][1][...] = np.nan

    monkeypatch.setattr(optimizers.Adam, "step", step)
    run = tmp_path / "run"
    args = ["--dataset", "sine", "--n", "400", "--epochs", "6", "--out", run, *QUIET]
    assert main("train", *args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "the loss became nan at epoch 3, batch 4" in line and "--clip-norm" in line
    assert f"the last good checkpoint (epoch 2) is kept in {run / CHECKPOINT_FILE}" in line
    assert load_checkpoint(run).epoch == 2
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [1, 2]
    assert not (run / "model.npz").exists()


def test_clip_norm_is_an_option_saved_in_the_config(tmp_path):
    run = tmp_path / "run"
    args = ["--dataset", "sine", "--n", "300", "--epochs", "2", "--clip-norm", "0.5"]
    assert main("train", *args, "--out", run, *QUIET) == 0
    assert json.loads((run / "config.json").read_text())["clip_norm"] == 0.5
    assert load_checkpoint(run).settings["clip_norm"] == 0.5
    assert scratchnn("train", *args[:-2], "--clip-norm", "0", "--out", run).returncode == 2


# -- bad input files ------------------------------------------------------------------------
CSV_CASES = {
    "missing.csv": ("a,b,label\n1,2,0\n3,,1\n5,6,0\n", "1 missing value(s) in column(s) 'b'"),
    "text.csv": ("a,b,label\n1,x,0\n3,4,1\n5,6,0\n", "feature column(s) 'b' are not numeric"),
    "notarget.csv": ("a,b,kind\n1,2,0\n3,4,1\n", "no target column 'label'"),
    "oneclass.csv": ("a,b,label\n1,2,0\n3,4,0\n5,6,0\n", "has only one class (0)"),
    "empty.csv": ("", "the file is empty"),
    "header.csv": ("a,b,label\n", "has a header but no rows of data"),
    "ragged.csv": ("a,b,label\n1,2,0,9\n3,4,1\n", "more fields than the header line"),
}


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_bad_csv_files_through_train_evaluate_and_predict(tmp_path_factory, capsys, name):
    model = _string_label_model(tmp_path_factory)
    text, message = CSV_CASES[name]
    path = tmp_path_factory.mktemp("csv") / name
    path.write_text(text)
    commands = [["train", "--dataset", path, "--out", path.parent / "run", *QUIET]]
    if name != "oneclass.csv":  # against a model, one class is fine: the model knows two
        commands.append(["evaluate", "--model", model, "--dataset", path])
    if name not in ("notarget.csv", "oneclass.csv"):  # predict needs no label column
        commands.append(["predict", "--model", model, "--input", path])
    for command in commands:
        assert main(*command) == 2, command
        line = one_error_line(capsys.readouterr().err)
        assert line.startswith(f"scratchnn: error: {path}: ") and message in line, command
    assert not (path.parent / "run").exists()


_MODEL: dict[str, Path] = {}


def _string_label_model(tmp_path_factory) -> Path:
    """A run trained on a CSV with features a, b and string labels cat/dog."""
    if not _MODEL:
        base = tmp_path_factory.mktemp("pets")
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 2))
        kind = np.where(X[:, 0] > 0, "cat", "dog")
        pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": kind}).to_csv(
            base / "pets.csv", index=False
        )
        assert main("train", "--dataset", base / "pets.csv", "--out", base / "run", *QUIET) == 0
        _MODEL["run"] = base / "run"
    return _MODEL["run"]


def test_string_labels_are_mapped_saved_and_used_by_evaluate_and_predict(
    tmp_path_factory, tmp_path, capsys
):
    run = _string_label_model(tmp_path_factory)
    meta, _ = read_npz(run / "model.npz")
    assert meta["extra"]["classes"] == ["cat", "dog"]
    new = pd.DataFrame({"b": [0.0, 0.0], "a": [3.0, -3.0], "label": ["cat", "dog"]})
    new.to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    assert main("evaluate", "--model", run, "--dataset", tmp_path / "new.csv") == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == 1.0
    assert main("predict", "--model", run, "--input", tmp_path / "new.csv") == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["prediction"].tolist() == [
        "cat",
        "dog",
    ]
    pd.DataFrame({"a": [1.0], "b": [2.0], "label": ["cow"]}).to_csv(
        tmp_path / "cow.csv", index=False
    )
    assert main("evaluate", "--model", run, "--dataset", tmp_path / "cow.csv") == 2
    assert "label 'cow' on line 2 is not one of the model's classes ('cat', 'dog')" in (
        one_error_line(capsys.readouterr().err)
    )


def _idx_dir(tmp_path, damage):
    directory = tmp_path / damage
    tiny_idx_set(directory, gz=False)
    images = directory / "train-images-idx3-ubyte"
    if damage == "magic":
        images.write_bytes(b"\x12\x34" + images.read_bytes()[2:])
    elif damage == "truncated":
        images.write_bytes(images.read_bytes()[:-100])
    elif damage == "counts":
        write_idx(directory / "train-labels-idx1-ubyte", np.zeros(19, dtype=np.uint8))
    elif damage == "gzip":
        data = gzip.compress(images.read_bytes())
        images.unlink()
        (directory / "train-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    return directory


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("magic", "train-images-idx3-ubyte: not an IDX file (wrong magic number 12340803)"),
        ("truncated", "train-images-idx3-ubyte: IDX data is truncated (15580 bytes"),
        ("counts", "20 train images but 19 labels; the files do not belong together"),
        ("gzip", "train-images-idx3-ubyte.gz: corrupted or truncated gzip data"),
    ],
)
def test_damaged_idx_files_through_train(tmp_path, capsys, damage, message):
    directory = _idx_dir(tmp_path, damage)
    args = ["--dataset", "mnist", "--data-dir", directory, "--out", tmp_path / "run"]
    assert main("train", *args, *QUIET) == 2
    line = one_error_line(capsys.readouterr().err)
    assert message in line and str(directory) in line


def test_damaged_idx_test_files_through_evaluate_and_predict(tmp_path, capsys):
    good = tmp_path / "good"
    tiny_idx_set(good, gz=False)
    run = tmp_path / "run"
    common = ["--hidden", "8", "--epochs", "1", "--val-split", "0", *QUIET]
    assert main("train", "--dataset", "mnist", "--data-dir", good, *common, "--out", run) == 0
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    write_idx(bad / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    images = bad / "t10k-images-idx3-ubyte"
    capsys.readouterr()
    assert main("evaluate", "--model", run, "--dataset", "mnist", "--data-dir", bad) == 2
    assert "5 test images but 4 labels" in one_error_line(capsys.readouterr().err)
    images.write_bytes(b"\x00\x00\x08\x03" + images.read_bytes()[4:-1])
    assert main("predict", "--model", run, "--input", images) == 2
    assert f"{images}: IDX data is truncated" in one_error_line(capsys.readouterr().err)


def test_a_model_used_with_data_of_another_feature_count(tmp_path, capsys):
    run = tmp_path / "circle"
    assert main("train", "--dataset", "circle", "--n", "300", "--epochs", "1", "--out", run) == 0
    tiny_idx_set(tmp_path / "mnist", gz=False)
    np.save(tmp_path / "three.npy", np.zeros((4, 3)))
    capsys.readouterr()
    cases = [
        (["evaluate", "--model", run, "--dataset", "sine"], "sine: 1 feature per example"),
        (
            ["evaluate", "--model", run, "--dataset", "mnist", "--data-dir", tmp_path / "mnist"],
            "mnist: 784 features per example (28 × 28)",
        ),
        (
            ["predict", "--model", run, "--input", tmp_path / "three.npy"],
            f"{tmp_path / 'three.npy'}: 3 features per example",
        ),
        (
            ["predict", "--model", run, "--input", tmp_path / "mnist" / "t10k-images-idx3-ubyte"],
            "t10k-images-idx3-ubyte: 784 features per example (28 × 28)",
        ),
    ]
    for args, message in cases:
        assert main(*args) == 2, args
        line = one_error_line(capsys.readouterr().err)
        assert message in line and f"but the model {run / 'model.npz'} expects 2" in line
        assert "(it was trained on circle)" in line


def test_inputs_that_are_not_real_finite_numbers(tmp_path, capsys):
    run = tmp_path / "circle"
    assert main("train", "--dataset", "circle", "--n", "300", "--epochs", "1", "--out", run) == 0
    cases = {
        "text.npy": (np.array([["a", "b"]]), "inputs of dtype <U1"),
        "complex.npy": (np.array([[1 + 2j, 1]]), "inputs of dtype complex128"),
        "nan.npy": (np.array([[np.nan, 1.0]]), "1 NaN or infinite value(s)"),
        "scalar.npy": (np.float64(3), "holds no examples (shape ())"),
        "none.npy": (np.zeros((0, 2)), "holds no examples (shape (0, 2))"),
        "objects.npy": (np.array([{"a": 1}], dtype=object), "not a readable .npy array"),
    }
    capsys.readouterr()
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array, allow_pickle=True)
        assert main("predict", "--model", run, "--input", tmp_path / name) == 2
        line = one_error_line(capsys.readouterr().err)
        assert line.startswith(f"scratchnn: error: {tmp_path / name}: ") and message in line


# -- model files --------------------------------------------------------------------------
def test_model_paths_that_are_not_models(tmp_path, capsys):
    run = tmp_path / "run"
    assert main("train", "--dataset", "circle", "--n", "300", "--epochs", "1", "--out", run) == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    (tmp_path / "empty").mkdir()
    data = (run / "model.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    for model, message in [
        (tmp_path / "empty", "a directory without model.npz or checkpoint.npz"),
        (tmp_path / "cut.npz", "corrupted or truncated"),
        (tmp_path / "missing.npz", "file not found"),
        (tmp_path / "x.npy", "is a single .npy array, not a scratchnn .npz file"),
    ]:
        for command in (
            ["predict", "--model", model, "--input", tmp_path / "x.npy"],
            ["evaluate", "--model", model, "--dataset", "circle", "--n", "10"],
        ):
            assert main(*command) == 2, command
            line = one_error_line(capsys.readouterr().err)
            assert line.startswith(f"scratchnn: error: {model}") and message in line, line


def test_a_run_without_model_npz_is_evaluated_from_its_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main("train", "--dataset", "circle", "--n", "300", "--epochs", "1", "--out", run) == 0
    capsys.readouterr()
    assert main("evaluate", "--model", run, "--dataset", "circle", "--n", "50") == 0
    expected = json.loads(capsys.readouterr().out)
    (run / "model.npz").unlink()  # as after a kill -9 before the end
    assert main("evaluate", "--model", run, "--dataset", "circle", "--n", "50") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["model"] == str(run / CHECKPOINT_FILE) and "did not finish" in captured.err
    assert report["loss"] == expected["loss"] and report["accuracy"] == expected["accuracy"]


def test_a_malicious_pickle_in_a_model_file_is_refused_without_running(tmp_path):
    """An .npz whose entry unpickles to ``os.system(...)``: exit 2, the command never runs."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "model.npz"
    meta = json.dumps({"format": "scratchnn", "version": 1, "kind": "model"})
    np.savez(path, __scratchnn__=np.array(meta), **{"param/0.W": np.array([Exploit()])})
    with zipfile.ZipFile(path) as archive:  # numpy pickled the object into the file
        assert b"posix" in archive.read("param/0.W.npy") or b"system" in archive.read(
            "param/0.W.npy"
        )
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    for command in (
        ["predict", "--model", path, "--input", tmp_path / "x.npy"],
        ["evaluate", "--model", path, "--dataset", "circle"],
    ):
        result = scratchnn(*command)
        assert result.returncode == 2
        assert "contains pickled Python objects" in one_error_line(result.stderr)
    assert not marker.exists()
    with pytest.raises(ValueError, match="allow_pickle"):  # it really holds a pickle
        np.load(path, allow_pickle=False)["param/0.W"]


# -- output that cannot be written ----------------------------------------------------------
def test_an_output_path_that_cannot_be_a_directory(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    run = tmp_path / "run"
    assert main("train", "--dataset", "circle", "--n", "300", "--epochs", "1", "--out", run) == 0
    capsys.readouterr()
    assert main("train", "--dataset", "circle", "--out", tmp_path / "file" / "run") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "cannot create the run folder (Not a directory); choose a writable --out" in line
    for command in (
        ["predict", "--model", run, "--input", tmp_path / "x.npy"],
        ["evaluate", "--model", run, "--dataset", "circle", "--n", "10"],
    ):
        command += ["--output", tmp_path / "file" / "out"]
        assert main(*command) == 2
        line = one_error_line(capsys.readouterr().err)
        assert (
            f"{tmp_path / 'file' / 'out'}: cannot write here ({tmp_path / 'file'} is a file" in line
        )


class DiskFull:
    """Make the n-th atomic write of a file called ``name`` fail with ENOSPC, once.

    Every file goes through :func:`scratchnn.io.atomic.atomic_write`: directly from
    ``io.npz`` (models, checkpoints), through ``atomic_write_bytes`` otherwise.
    """

    def __init__(self, monkeypatch, name: str, n: int) -> None:
        self.name, self.n, self.seen, self.failed = name, n, 0, False
        self.original = atomic.atomic_write
        monkeypatch.setattr(atomic, "atomic_write", self)
        monkeypatch.setattr(npz, "atomic_write", self)

    def __call__(self, path, write):
        if Path(path).name == self.name:
            self.seen += 1
            if self.seen == self.n:
                self.failed = True

                def half_then_full(fh):
                    fh.write(b"half a file")
                    raise OSError(errno.ENOSPC, "No space left on device")

                return self.original(path, half_then_full)
        return self.original(path, write)


def test_a_full_disk_during_training_loses_nothing(tmp_path, monkeypatch, capsys):
    straight, run = tmp_path / "straight", tmp_path / "run"
    args = [*SPIRALS, "--epochs", 5, *QUIET]
    assert main("train", *args, "--out", straight) == 0
    with monkeypatch.context() as patch:
        full = DiskFull(patch, CHECKPOINT_FILE, 3)
        assert main("train", *args, "--out", run) == 2
    assert full.failed
    line = one_error_line(capsys.readouterr().err)
    assert f"{run / CHECKPOINT_FILE}: could not be written after epoch 3" in line
    assert "(No space left on device); the checkpoint of epoch 2 is unchanged" in line
    assert line.endswith(
        f"free disk space or choose another directory, then continue with: "
        f"scratchnn train --resume {run}"
    )
    assert load_checkpoint(run).epoch == 2
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz", "config.json", "history.csv"]
    assert main("train", "--resume", run, *QUIET) == 0  # space freed
    assert_same_results(straight, run)


def test_a_full_disk_while_writing_the_results_loses_nothing(tmp_path, monkeypatch, capsys):
    straight, run = tmp_path / "straight", tmp_path / "run"
    args = [*SPIRALS, "--epochs", 3, *QUIET]
    assert main("train", *args, "--out", straight) == 0
    with monkeypatch.context() as patch:
        full = DiskFull(patch, "model.npz", 1)
        assert main("train", *args, "--out", run) == 2
    assert full.failed
    line = one_error_line(capsys.readouterr().err)
    assert f"{run / 'model.npz'}: could not be written (No space left on device)" in line
    assert f"the trained state is safe in {run / CHECKPOINT_FILE}" in line
    assert f"then 'scratchnn train --resume {run}' writes the results again" in line
    assert not (run / "model.npz").exists() and load_checkpoint(run).epoch == 3
    assert not list(run.glob(".*.tmp"))
    assert main("train", "--resume", run, *QUIET) == 0
    assert_same_results(straight, run)


def _unshare_works() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--user", "--map-root-user", "--mount", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


needs_unshare = pytest.mark.skipif(
    not _unshare_works(),
    reason="needs Linux user namespaces (unshare) to mount a small tmpfs without root",
)


def _in_a_tmpfs(tmp_path, script: str, size: str, read_only: bool = False):
    """Run a shell script with $MNT a fresh tmpfs of ``size`` (and $SCRATCHNN a command)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    shell = f"set -e\nmount -t tmpfs -o size={size} tmpfs {mnt}\n"
    if read_only:
        shell += f"mount -o remount,ro {mnt}\n"
    shell += textwrap.dedent(script)
    env = {**ENV, "MNT": str(mnt), "SCRATCHNN": f"{sys.executable} -m scratchnn"}
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", shell],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@needs_unshare
def test_a_really_full_disk_then_resume(tmp_path):
    """A 256 KiB tmpfs nearly filled: training stops cleanly, and resumes once space is freed."""
    result = _in_a_tmpfs(
        tmp_path,
        """
        head -c 150000 /dev/zero > $MNT/ballast
        set +e
        $SCRATCHNN train --dataset spirals --n 900 --epochs 40 --out $MNT/run --verbose 0
        echo "code $?"
        set -e
        ls -a $MNT/run
        rm $MNT/ballast
        $SCRATCHNN train --resume $MNT/run --verbose 0 --no-plots
        echo "resumed $?"
        python3 -c "import json; print('status', json.load(open('$MNT/run/metrics.json'))['status'])"
        """,
        size="256k",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "code 2" in out and "resumed 0" in out and "status complete" in out, out
    errors = [line for line in result.stderr.splitlines() if line.startswith("scratchnn")]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert ".tmp" not in out  # no half-written temporary file left behind


@needs_unshare
def test_a_read_only_output_directory(tmp_path):
    result = _in_a_tmpfs(
        tmp_path,
        """
        set +e
        $SCRATCHNN train --dataset circle --out $MNT --verbose 0
        $SCRATCHNN train --dataset circle --out $MNT/run --verbose 0
        """,
        size="64k",
        read_only=True,
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert "cannot write the run folder here (Read-only file system)" in lines[0]
    assert "cannot create the run folder (Read-only file system)" in lines[1]


# -- property-based: random CSV files ---------------------------------------------------------
CELLS = st.one_of(
    st.sampled_from(["", " ", "nan", "NA", "inf", "-inf", "1e400", "cat", "dog", "True", '"a,b"']),
    st.integers(-3, 3).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
)
NAMES = st.sampled_from(["label", "a", "b", "c", "", "label ", "a"])


GOOD_NUMBERS = st.floats(-1e6, 1e6, allow_nan=False, width=32).map(repr)


@st.composite
def csv_texts(draw):
    kind = draw(st.sampled_from(["mostly good", "any cells", "any text"]))
    if kind == "mostly good":  # often loadable: the paths that train, evaluate and predict
        labels = draw(st.sampled_from([["cat", "dog"], ["0", "1", "2"], ["1.5", "2"], ["x"]]))
        cell = GOOD_NUMBERS if draw(st.booleans()) else st.one_of(GOOD_NUMBERS, CELLS)
        rows = draw(st.lists(st.tuples(cell, GOOD_NUMBERS, st.sampled_from(labels)), max_size=40))
        return "a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows)
    if kind == "any cells":
        header = draw(st.lists(NAMES, min_size=1, max_size=4))
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        rows = draw(st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=12))
        lines = [",".join(header)] + [",".join(row) for row in rows]
        return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))
    return draw(st.text(alphabet=st.sampled_from(list('ab,1.\n" -e\ufeff\x00')), max_size=60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_texts(), task=st.sampled_from(["auto", "classification", "regression"]))
def test_any_csv_loads_or_raises_our_error(tmp_path_factory, text, task):
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text(text, encoding="utf-8")
    try:
        data = load_csv(path, task=task)
    except ScratchnnError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event(f"loaded: {data.task}")
    assert np.isfinite(data.X).all() and len(data.X) == len(data.y) > 0


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=csv_texts())
def test_any_csv_trains_evaluates_and_predicts_or_exits_2(tmp_path_factory, capsys, text):
    """Never an exception other than ours (cli.main would let it escape), never exit 1."""
    directory = tmp_path_factory.mktemp("csv")
    path = directory / "data.csv"
    path.write_text(text, encoding="utf-8")
    model = _string_label_model(tmp_path_factory)
    args = ["--epochs", "1", "--val-split", "0", "--out", directory / "run", *QUIET]
    for command in (
        ["train", "--dataset", path, *args],
        ["evaluate", "--model", model, "--dataset", path],
        ["predict", "--model", model, "--input", path, "--output", directory / "p.csv"],
    ):
        code = main(*command)
        err = capsys.readouterr().err
        event(f"{command[0]} exit {code}")
        assert code in (0, 2), command
        if code == 2:
            one_error_line(err)


# -- output into a closed pipe ------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["datasets"],
        ["predict", "--model", "{run}", "--input", "{x}"],
        [
            "train",
            "--dataset",
            "xor",
            "--n",
            "200",
            "--epochs",
            "3000",
            "--verbose",
            "2",
            "--no-plots",
            "--checkpoint-every",
            "0",
            "--out",
            "{tmp}/xor",
        ],
    ],
    ids=["datasets", "predict", "train"],
)
def test_output_into_a_closed_pipe_stops_quietly(tmp_path_factory, args):
    """``scratchnn ... | head -1``: exit 141 (128 + SIGPIPE), no BrokenPipeError traceback."""
    runs = _small_runs(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("pipe")
    np.save(tmp / "x.npy", np.zeros((20000, 2)))
    names = {"run": runs["run"], "x": tmp / "x.npy", "tmp": tmp}
    env = {k: v for k, v in ENV.items() if k != "PYTHONUNBUFFERED"}  # as in a real shell
    process = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", *[a.format(**names) for a in args]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    if args[0] == "train":
        assert process.stdout.readline().startswith(b"xor: ")  # read a line, then go, as head does
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141, err
    assert err == ""
