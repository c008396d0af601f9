"""Run folders: one run at a time, an overwrite that leaves nothing old, no stale temporaries.

Issue 18 items 6 and 7 (and issue 17's "same treatment of an existing run folder"): two
``train`` runs into one ``--out`` both exited 0 with one's results lost; ``--overwrite``
followed by a kill left a new config beside the old ``model.npz``; a killed write left its
temporary file; ``vae`` trained into a read-only folder and then died, and overwrote an
existing run silently.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scratchnn import cli
from scratchnn.errors import InputError
from scratchnn.experiments.run_dir import LOCK_FILE, make_run_dir, release_run_dir
from test_cli_reliability import ENV, _in_a_tmpfs, needs_unshare, one_error_line
from test_datasets_download import tiny_idx_set

QUIET = ["--verbose", "0", "--no-plots"]


def main(*args) -> int:
    return cli.main([str(a) for a in args])


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_pid(tmp_path, capsys):
    run = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", "train", "--dataset", "spirals", "--n", "900",
         "--epochs", "500", "--out", str(run), *QUIET],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(run / "checkpoint.npz", first)  # fit is running: its signal handler is set
        for args in (["--overwrite"], []):  # --overwrite must not clear a run in progress
            assert main("train", "--dataset", "circle", "--out", run, *args, *QUIET) == 2
            line = one_error_line(capsys.readouterr().err)
            assert f"another run is using {run} (pid {first.pid})" in line
        assert (run / "config.json").exists()
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 143  # stopped by us, its checkpoint saved: it was never disturbed
    capsys.readouterr()
    assert main("train", "--dataset", "circle", "--out", run, *QUIET) == 2  # the lock is free
    assert f"{run}: already holds a run" in one_error_line(capsys.readouterr().err)


def test_the_lock_is_released_when_the_holder_dies(tmp_path):
    """flock belongs to the process: a kill -9 cannot leave a folder locked for good."""
    run = tmp_path / "run"
    code = f"from scratchnn.experiments import make_run_dir; make_run_dir({str(run)!r}, 'x'); print('locked', flush=True); import time; time.sleep(60)"
    holder = subprocess.Popen(
        [sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match=f"another run is using .* \\(pid {holder.pid}\\)"):
            make_run_dir(run, "x")
    finally:
        holder.kill()
        holder.wait()
    assert make_run_dir(run, "x") == run
    release_run_dir(run)


def test_overwrite_clears_every_old_run_file_before_starting(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    old = ["config.json", "metrics.json", "model.npz", "history.csv", "checkpoint.npz",
           "curves.png", "decision_regions.png", "samples.txt"]  # fmt: skip
    for name in old:
        (run / name).write_text("old")
    (run / "notes.txt").write_text("mine")  # not a run's file: kept
    with pytest.raises(InputError, match="already holds a run"):
        make_run_dir(run, "x")
    assert sorted(p.name for p in run.iterdir() if p.name != LOCK_FILE) == sorted(
        [*old, "notes.txt"]
    )
    make_run_dir(run, "x", overwrite=True)
    release_run_dir(run)
    assert [p.name for p in run.iterdir()] == ["notes.txt"]  # the lock file goes on release


def test_overwrite_through_train_leaves_no_old_plot(tmp_path):
    run = tmp_path / "run"
    assert main("train", "--dataset", "circle", "--n", "200", "--epochs", "1", "--out", run,
                "--verbose", "0") == 0  # fmt: skip
    assert (run / "decision_regions.png").exists()
    assert main("train", "--dataset", "circle", "--n", "200", "--epochs", "1", "--out", run,
                "--overwrite", *QUIET) == 0  # fmt: skip
    assert not list(run.glob("*.png"))  # --no-plots: the old run's figures must not stay


def test_stale_temporaries_of_a_killed_write_are_removed_at_the_next_start(tmp_path):
    run = tmp_path / "run"
    assert main("train", "--dataset", "circle", "--n", "200", "--epochs", "1", "--out", run,
                *QUIET) == 0  # fmt: skip
    stale = [".model.npz.k2j3h4.tmp", ".curves.png.abc123.tmp", ".write-test.q1w2e3"]
    for name in stale:
        (run / name).write_bytes(b"half written")
    assert main("train", "--resume", run, "--epochs", "2", *QUIET) == 0
    assert not [name for name in stale if (run / name).exists()]
    for name in stale:
        (run / name).write_bytes(b"half written")
    make_run_dir(run, "x", overwrite=True)
    release_run_dir(run)
    assert not [name for name in stale if (run / name).exists()]


def test_vae_refuses_an_existing_run_unless_overwrite(tmp_path, capsys):
    tiny_idx_set(tmp_path / "mnist")
    out = tmp_path / "vae"
    args = ["vae", "--data-dir", tmp_path / "mnist", "--epochs", "1", "--hidden", "8",
            "--latent", "2", "--iwae-k", "0", "--out", out, "--quiet"]  # fmt: skip
    assert main(*args) == 0
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert main(*args) == 2
    captured = capsys.readouterr()
    assert f"{out}: already holds a run" in one_error_line(captured.err)
    assert "--overwrite" in captured.err and "VAE" not in captured.out  # refused before training
    assert (out / "model.npz").read_bytes() == before
    assert main(*args, "--overwrite") == 0


@needs_unshare
def test_vae_into_a_read_only_folder_fails_before_training(tmp_path, mnist_dir):
    # the data is read first (bad data must not leave a folder behind), then the folder is
    # checked: a read-only --out is refused before a single step is trained
    result = _in_a_tmpfs(
        tmp_path,
        f"""
        set +e
        $SCRATCHNN vae --out $MNT --data-dir {mnist_dir} --limit 64 --epochs 1
        $SCRATCHNN vae --out $MNT/run --data-dir {mnist_dir} --limit 64 --epochs 1
        """,
        size="64k",
        read_only=True,
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert "cannot write the run folder here (Read-only file system)" in lines[0]
    assert "cannot create the run folder (Read-only file system)" in lines[1]
    assert "VAE" not in result.stdout


def test_demo_twice_is_refused_naming_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--epochs", "1", "--n", "200", "--no-plots", "--out", out]
    assert main(*args) == 0
    capsys.readouterr()
    assert main(*args) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert f"{out}: already holds the results of a demo" in line and "pass --overwrite" in line
    assert captured.out == ""  # refused before the first network trains
    assert main(*args, "--overwrite") == 0


def test_demo_runs_on_a_fresh_checkout_as_ci_does(tmp_path):
    """.ci/run: 'scratchnn demo --epochs 5' once, in a folder without runs/."""
    result = subprocess.run(
        [sys.executable, "-m", "scratchnn", "demo", "--epochs", "1", "--n", "200", "--no-plots"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("circle-2-3-2", "circle-2-16-16-2", "square-2-3-2", "square-2-16-16-2"):
        assert (tmp_path / "runs" / "demo" / name / "model.npz").is_file(), name
