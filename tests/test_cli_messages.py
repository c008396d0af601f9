"""The command line's messages when a run stops early (issue 18 item 10).

Each message must tell the truth about what was saved and advise a command that works:
the second-signal message must not blame ``--checkpoint-every 0`` when checkpoints were on
but none was due yet; a full disk before the first checkpoint must not advise a resume
that would be refused; SIGTERM while the plots are drawn must say so (it used to kill the
process without a word).
"""

from __future__ import annotations

import os
import signal
import time

from scratchnn import cli
from scratchnn.cli._common import interrupted
from scratchnn.errors import TrainingInterrupted
from scratchnn.training import CHECKPOINT_FILE, load_checkpoint
from test_cli_reliability import SPIRALS, DiskFull, one_error_line

QUIET = ["--verbose", "0", "--no-plots"]


def main(*args) -> int:
    return cli.main([str(a) for a in args])


def _second_signal(run_dir) -> TrainingInterrupted:
    """What fit raises on a second Ctrl-C in the middle of a step: no epoch, no batch."""
    error = TrainingInterrupted("stopped at once", signal.SIGINT)
    error.run_dir = run_dir
    return error


def test_a_second_signal_before_the_first_checkpoint_does_not_blame_checkpoint_every(tmp_path):
    text = str(interrupted(_second_signal(tmp_path), "train", checkpointing=True))
    assert "no checkpoint had been saved yet, so it cannot be resumed" in text
    assert "--checkpoint-every 0" not in text and "--overwrite" in text
    off = str(interrupted(_second_signal(tmp_path), "train", checkpointing=False))
    assert "(no checkpoint: --checkpoint-every 0, so it cannot be resumed)" in off
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"")  # one saved earlier: resume it
    resumable = str(interrupted(_second_signal(tmp_path), "train", checkpointing=True))
    assert f"continue with: scratchnn train --resume {tmp_path}" in resumable


def test_a_full_disk_before_the_first_checkpoint_advises_what_works(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = [*SPIRALS, "--epochs", 2, *QUIET, "--out", run]
    with monkeypatch.context() as patch:
        full = DiskFull(patch, CHECKPOINT_FILE, 1)
        assert main("train", *args) == 2
    assert full.failed
    line = one_error_line(capsys.readouterr().err)
    assert "no checkpoint was saved yet" in line and "resume" not in line
    assert line.endswith("then start the run again (the same command with --overwrite)")
    assert main("train", "--resume", run) == 2  # indeed nothing to resume ...
    capsys.readouterr()
    assert main("train", *args, "--overwrite") == 0  # ... and the advice works
    assert load_checkpoint(run).epoch == 2


def test_sigterm_while_the_plots_are_drawn_prints_a_message_and_exits_143(
    tmp_path, monkeypatch, capsys
):
    from scratchnn.experiments import driver

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this at once
        raise AssertionError("SIGTERM did not stop the plots")

    run = tmp_path / "run"
    previous = signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch:
        patch.setattr(driver, "write_plots", terminated)
        args = ["--dataset", "moons", "--n", "300", "--epochs", 2, "--lr", 0.05, "--verbose", 0]
        assert main("train", *args, "--out", run) == 143
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is put back
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        f"scratchnn: interrupted by SIGTERM while writing the results; the trained model is "
        f"safe in {run / CHECKPOINT_FILE}, and 'scratchnn train --resume {run}' writes them again"
    )
    assert main("train", "--resume", run, "--verbose", "0") == 0
    assert (run / "curves.png").is_file()
