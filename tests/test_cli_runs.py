"""``scratchnn runs``: the run folders listed from their files, and their curves overlaid."""

from __future__ import annotations

import os
import signal
import time

import pytest

import scratchnn as snn
from scratchnn import cli, experiments
from scratchnn.experiments.runs import find_runs, read_run

QUIET = ["--verbose", "0", "--no-plots"]


class SignalAt(snn.Callback):
    """Send SIGINT to this process after ``step`` training steps, as Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def on_batch_end(self, batch, logs):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def train(out, dataset="circle", *extra):
    argv = ["train", "--dataset", dataset, "--n", "600", "--epochs", "3", "--out", str(out)]
    return cli.main([*argv, *QUIET, *map(str, extra)])


@pytest.fixture
def runs(tmp_path, monkeypatch, capsys):
    """A folder with a finished, an interrupted and a failed run, and a non-run folder."""
    root = tmp_path / "runs"
    assert train(root / "done") == 0
    assert train(root / "nested" / "square", "square") == 0
    real = experiments.run_training
    with monkeypatch.context() as patch:
        patch.setattr(
            experiments,
            "run_training",
            lambda config, out, **kw: real(config, out, callbacks=[SignalAt(20)], **kw),
        )
        assert train(root / "stopped") == 130
    assert train(root / "crashed") == 0
    (root / "crashed" / "metrics.json").unlink()  # as a kill -9 before the results leaves it
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a run")
    capsys.readouterr()
    return root


def test_each_run_has_its_dataset_model_epochs_results_and_status(runs):
    found = {run.path.relative_to(runs).as_posix(): run for run in find_runs(runs)}
    assert sorted(found) == ["crashed", "done", "nested/square", "stopped"]
    done = found["done"]
    assert (done.dataset, done.status, done.epochs, done.planned) == ("circle", "finished", 3, 3)
    assert done.model == "mlp 2-16-16-2 relu"
    assert [label for label, _ in done.results] == ["test acc", "test loss"]
    assert found["nested/square"].dataset == "square"
    stopped = found["stopped"]
    assert stopped.status == "interrupted" and stopped.note == "SIGINT at epoch 2, batch 6"
    assert stopped.epochs == 1 and stopped.planned == 3
    crashed = found["crashed"]
    assert crashed.status == "failed" and crashed.results == [] and crashed.epochs == 3


def test_a_run_started_again_after_its_results_and_not_finished_has_failed(runs):
    time.sleep(0.01)
    config = runs / "done" / "config.json"
    config.write_text(config.read_text())  # what a resumed session writes when it starts
    assert read_run(runs / "done").status == "failed"


def test_a_run_whose_folder_another_process_holds_is_running(runs):
    """The lock of a training process (run_dir.lock_run_dir) tells running from failed."""
    import subprocess
    import sys

    code = (
        "import sys, time; from scratchnn.experiments.run_dir import lock_run_dir; "
        "lock_run_dir(sys.argv[1]); print('locked', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(runs / "crashed")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        run = read_run(runs / "crashed")
        assert run.status == "running" and run.note == f"pid {child.pid} is writing into it"
    finally:
        child.kill()
        child.wait()
    assert read_run(runs / "crashed").status == "failed"  # the lock went with the process


def test_the_listing(runs, capsys):
    assert cli.main(["runs", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "dataset", "model", "epochs", "results", "status"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == {"crashed", "done", "nested/square", "stopped"}
    assert "3/3" in by_name["done"] and "test acc" in by_name["done"]
    assert by_name["done"].rstrip().endswith("finished")
    assert "interrupted (SIGINT at epoch 2, batch 6)" in by_name["stopped"]
    assert "failed" in by_name["crashed"]


def test_a_vae_run_is_listed_too(tmp_path, mnist_dir, capsys):
    out = tmp_path / "runs" / "vae"
    argv = ["vae", "--data-dir", str(mnist_dir), "--limit", "200", "--epochs", "1"]
    argv += ["--hidden", "16", "--iwae-k", "0", "--out", str(out), "--verbose", "0"]
    assert cli.main(argv) == 0
    (run,) = find_runs(tmp_path / "runs")
    assert (run.command, run.dataset, run.model, run.status) == (
        "vae",
        "mnist",
        "vae 784-16-20",
        "finished",
    )
    assert [label for label, _ in run.results] == ["test -ELBO"]


def test_compare_overlays_the_curves_into_a_png(runs, tmp_path, capsys):
    out = tmp_path / "both.png"
    assert (
        cli.main(
            ["runs", "--compare", str(runs / "done"), str(runs / "stopped"), "--out", str(out)]
        )
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert capsys.readouterr().out.startswith(f"wrote {out}: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "--compare", "RUNS/done"], "--compare needs two run folders or more"),
        (["runs", "--compare", "RUNS/done", "RUNS/notes"], "not a run folder"),
        (["runs", "RUNS/nowhere"], "no such directory"),
        (["runs", "RUNS", "--compare", "RUNS/done", "RUNS/crashed"], "not both"),
    ],
)
def test_user_errors_are_one_line(runs, capsys, argv, message):
    assert cli.main([a.replace("RUNS", str(runs)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchnn: error:") and message in err and "\n" not in err


def test_an_empty_folder_says_how_to_make_a_run(tmp_path, capsys):
    assert cli.main(["runs", str(tmp_path)]) == 0
    assert "no runs in" in capsys.readouterr().out
