"""The training harness (callbacks around fit's loop): checkpoints, signals, crashes,
divergence, full disks, overwrites."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest

import scratchnn as snn
from conftest import REPO
from scratchnn.errors import DivergenceError, InputError, OutputError, TrainingInterrupted
from scratchnn.training import CHECKPOINT_FILE, HISTORY_FILE
from scratchnn.training.callbacks import Checkpointing
from test_checkpoint import SignalAt, X, Y, assert_same_run, make_model, settings, straight_run


def test_checkpoint_every_and_the_final_epoch(tmp_path, monkeypatch):
    saved = []
    original = Checkpointing.save

    def spy(self, where, in_epoch=False):
        saved.append(self.state.epoch)
        original(self, where, in_epoch)

    monkeypatch.setattr(Checkpointing, "save", spy)
    make_model().fit(X, Y, epochs=7, checkpoint=tmp_path, checkpoint_every=3, **settings())
    assert saved == [3, 6, 7]


def test_an_existing_run_is_never_silently_overwritten(tmp_path):
    make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(InputError, match=r"already holds a checkpoint \(2 of 2 epochs done\)"):
        make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before


def test_metadata_that_cannot_be_saved_is_refused_before_training(tmp_path):
    model = make_model()
    model.metadata = {"scaler": object()}
    with pytest.raises(InputError, match=r"model\.metadata must be JSON values"):
        model.fit(X, Y, checkpoint=tmp_path, **settings())
    assert not (tmp_path / CHECKPOINT_FILE).exists()


# -- divergence --------------------------------------------------------------------------
class ExplodeAt(snn.Callback):
    """From epoch ``epoch`` on, make the inputs produce an infinite loss."""

    def __init__(self, X_train, epoch):
        self.X_train, self.epoch = X_train, epoch

    def on_epoch_begin(self, epoch, logs):
        if epoch == self.epoch:
            self.X_train[:] = 1e30


def test_divergence_keeps_the_last_good_checkpoint_and_writes_the_history(tmp_path):
    X32 = X.astype(np.float32)  # fit uses it as is, so the callback can poison it
    model = make_model()
    with pytest.raises(
        DivergenceError, match=r"at epoch 3, batch 1; lower the learning rate"
    ) as info:
        model.fit(
            X32,
            Y,
            epochs=5,
            checkpoint=tmp_path,
            callbacks=[ExplodeAt(X32, 3)],
            **settings(validation_split=0.0),
        )
    message = str(info.value)
    assert "the last good checkpoint (epoch 2) is kept" in message and "\n" not in message
    assert info.value.checkpoint == tmp_path / CHECKPOINT_FILE and len(info.value.history) == 2
    checkpoint = snn.load_checkpoint(tmp_path)
    assert checkpoint.epoch == 2
    assert all(np.isfinite(v).all() for v in checkpoint.model.state_dict().values())
    assert len(pd.read_csv(tmp_path / HISTORY_FILE)) == 2


def test_parameters_that_blew_up_are_never_saved(tmp_path):
    class BlowUp(snn.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.model.layers[0].params["W"][0, 0] = np.inf

    with pytest.raises(
        DivergenceError, match=r"parameter 0\.W became NaN or infinite after epoch 2"
    ):
        make_model().fit(X, Y, epochs=4, checkpoint=tmp_path, callbacks=[BlowUp()], **settings())
    assert snn.load_checkpoint(tmp_path).epoch == 1


# -- the disk -------------------------------------------------------------------------------
def test_disk_full_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    calls = {"n": 0}
    savez = np.savez

    def fills_up(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return savez(*args, **kwargs)

    monkeypatch.setattr(np, "savez", fills_up)
    with pytest.raises(OutputError) as info:
        make_model().fit(X, Y, epochs=5, checkpoint=tmp_path, **settings())
    message = str(info.value)
    assert "No space left on device" in message and "checkpoint of epoch 2 is unchanged" in message
    assert "\n" not in message and isinstance(info.value, OSError)
    assert snn.load_checkpoint(tmp_path).epoch == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE, HISTORY_FILE]


def test_unwritable_checkpoint_directory_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    started = []

    class Started(snn.Callback):
        def on_train_begin(self, logs):
            started.append(True)

    with pytest.raises(OutputError, match="is a file; checkpoint= needs a directory"):
        make_model().fit(X, Y, checkpoint=tmp_path / "file", callbacks=[Started()], **settings())
    with pytest.raises(OutputError, match="cannot write checkpoints here"):
        make_model().fit(X, Y, checkpoint=tmp_path / "file" / "run", **settings())
    assert not started


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _unshare_works(),
    reason="needs Linux user namespaces (unshare) to mount a small tmpfs without root",
)

_IN_A_SMALL_TMPFS = """
set -e
mount -t tmpfs -o size={size} tmpfs {mnt}
{mount_options}
exec {python} -c "$SCRIPT"
"""


def _run_in_tmpfs(tmp_path, script, size="400k", read_only=False):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    shell = _IN_A_SMALL_TMPFS.format(
        size=size,
        mnt=mnt,
        python=sys.executable,
        mount_options=f"mount -o remount,ro {mnt}" if read_only else "",
    )
    env = {**os.environ, "SCRIPT": textwrap.dedent(script), "MNT": str(mnt)}
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", shell],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@needs_unshare
def test_a_really_full_disk(tmp_path):
    """A 400 KiB tmpfs: the first checkpoints fit, a later one does not (ENOSPC)."""
    result = _run_in_tmpfs(
        tmp_path,
        """
        import os, numpy as np, scratchnn as snn
        run = os.path.join(os.environ["MNT"], "run")
        model = snn.mlp([2, 64, 64, 2], rng=0)
        X, y = snn.datasets.circle_regions(64, seed=0)
        os.makedirs(run)
        with open(os.path.join(os.environ["MNT"], "ballast"), "wb") as f:
            f.write(bytes(300_000))
        try:
            model.fit(X, y, epochs=50, checkpoint=run, verbose=0)
        except snn.OutputError as exc:
            print("ERROR", exc)
        os.remove(os.path.join(os.environ["MNT"], "ballast"))
        print("LEFT", sorted(os.listdir(run)))
        print("EPOCH", snn.load_checkpoint(run).epoch)
        """,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert "No space left on device" in lines["ERROR"], result.stdout
    assert lines["LEFT"] == "['checkpoint.npz', 'history.csv']"
    assert int(lines["EPOCH"]) >= 1


@needs_unshare
def test_a_read_only_directory(tmp_path):
    result = _run_in_tmpfs(
        tmp_path,
        """
        import os, scratchnn as snn
        X, y = snn.datasets.circle_regions(64, seed=0)
        try:
            snn.mlp([2, 4, 2], rng=0).fit(X, y, checkpoint=os.environ["MNT"], verbose=0)
        except snn.OutputError as exc:
            print(exc)
        """,
        read_only=True,
    )
    assert "cannot write checkpoints here (Read-only file system)" in result.stdout, result


# -- signals -------------------------------------------------------------------------------
def test_handlers_are_only_installed_during_fit_and_only_in_the_main_thread():
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        seen = []

        class Look(snn.Callback):
            def on_epoch_end(self, epoch, logs):
                seen.append(signal.getsignal(signal.SIGTERM))

        make_model().fit(X, Y, epochs=1, callbacks=[Look()], **settings())
        assert seen[0] is not mine and signal.getsignal(signal.SIGTERM) is mine
        errors = []
        worker = threading.Thread(
            target=lambda: errors.append(make_model().fit(X, Y, epochs=1, **settings()) and None)
        )
        worker.start()
        worker.join()
        assert errors == [None]  # no "signal only works in main thread" error
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_without_a_directory_an_interrupt_still_stops_cleanly():
    model = make_model()
    with pytest.raises(TrainingInterrupted, match="nothing was saved") as info:
        model.fit(X, Y, epochs=5, callbacks=[SignalAt(40)], **settings())
    assert len(info.value.history) == 2 and info.value.checkpoint is None


def test_a_second_signal_stops_at_once_and_keeps_the_previous_checkpoint(tmp_path):
    model = make_model()
    with pytest.raises(TrainingInterrupted, match="stopped at once by a second SIGINT"):
        model.fit(
            X, Y, epochs=5, checkpoint=tmp_path, callbacks=[SignalAt(33, times=2)], **settings()
        )
    assert snn.load_checkpoint(tmp_path).epoch == 2  # 15 steps per epoch
    assert not list(tmp_path.glob("*.tmp"))


def test_resuming_mid_epoch_shows_where_it_continues(tmp_path, capsys):
    with pytest.raises(TrainingInterrupted):
        make_model().fit(
            X, Y, epochs=3, checkpoint=tmp_path, callbacks=[SignalAt(20)], **settings()
        )
    snn.resume(tmp_path, X, Y, verbose=1)
    captured = capsys.readouterr()
    # stopped after batch 20 = epoch 2, batch 5 of 15: it continues with batch 6
    assert f"resuming {tmp_path / CHECKPOINT_FILE} at epoch 2 of 3, batch 6 of 15" in captured.out
    assert "epoch 2/3" in captured.err and "15/15" in captured.err


_CHILD = """
import sys
import scratchnn as snn

class Ready(snn.Callback):
    def on_batch_end(self, batch, logs):
        if not getattr(self, "said", False):
            print("ready", flush=True)
            self.said = True

X, y = snn.datasets.circle_regions(300, seed=0)
model = snn.mlp([2, 16, 16, 2], dropout=0.2, rng=1)
try:
    model.fit(
        X, y, epochs=10_000, checkpoint=sys.argv[1], callbacks=[Ready()],
        optimizer=snn.Adam(lr=0.01), batch_size=16, validation_split=0.2, seed=3, verbose=0,
        lr_schedule=snn.StepLR(2, 0.5), clip_norm=5.0,
    )
except snn.TrainingInterrupted as exc:
    print(exc, flush=True)
    sys.exit(exc.exit_code)
"""


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_to_a_training_process_saves_and_exits_cleanly(tmp_path, signum, code):
    run = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout.readline().strip() == "ready"
    time.sleep(random.Random(signum).uniform(0.05, 0.4))
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    assert child.returncode == code, err
    assert f"training stopped by {signal.Signals(signum).name}" in out and not err
    checkpoint = snn.load_checkpoint(run)
    epochs = (checkpoint.in_epoch or checkpoint.epoch) + 1
    model, history = snn.resume(run, X, Y, epochs=epochs, verbose=0)
    straight, straight_history = straight_run(epochs=epochs)
    assert_same_run(straight, straight_history, model, history)


# -- kill -9 in the middle of checkpoint writes ----------------------------------------------
_ZYGOTE = """
import os, sys
import numpy as np
import scratchnn as snn

X = np.random.default_rng(0).standard_normal((64, 784)).astype(np.float32)
y = np.arange(64) % 10
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:  # the training process: one step per epoch, so mostly writing checkpoints
        model = snn.mlp([784, 512, 128, 10], rng=0)
        model.fit(X, y, epochs=100_000, batch_size=64, seed=0, verbose=0,
                  checkpoint=line.strip(), resume="auto")
        os._exit(0)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_kill_9_during_checkpoint_writes_leaves_a_loadable_checkpoint(tmp_path):
    """Kill the training process at random times, resume, kill again: 30 times at least.

    The process does one step per epoch and then writes a 5.7 MB checkpoint, so most of its
    time goes into writing; a temporary file left behind shows that a kill hit a write.
    """
    run = tmp_path / "run"
    zygote = subprocess.Popen(
        [sys.executable, "-c", _ZYGOTE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    chance = random.Random(20240605)
    killed_mid_write = 0
    epochs_seen = []
    try:
        kills = 0
        while kills < 30 or (killed_mid_write < 5 and kills < 60):
            kills += 1
            leftovers = set(run.glob("*.tmp")) if run.exists() else set()
            zygote.stdin.write(f"{run}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            before = snn.load_checkpoint(run).epoch if (run / CHECKPOINT_FILE).exists() else 0
            deadline = time.monotonic() + 30
            while not (run / CHECKPOINT_FILE).exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(chance.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
            assert zygote.stdout.readline().strip() == "reaped"
            killed_mid_write += bool(set(run.glob("*.tmp")) - leftovers)
            checkpoint = snn.load_checkpoint(run)  # never half-written
            assert checkpoint.epoch >= before and len(checkpoint.history) == checkpoint.epoch
            # history.csv is written after the checkpoint: whole, possibly an epoch behind
            csv = pd.read_csv(run / HISTORY_FILE)
            assert len(csv) <= checkpoint.epoch
            np.testing.assert_array_equal(csv["loss"], checkpoint.history["loss"][: len(csv)])
            epochs_seen.append(checkpoint.epoch)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
    print(f"{killed_mid_write} of {kills} kills hit a checkpoint write")
    assert killed_mid_write >= 5, f"only {killed_mid_write} of {kills} kills hit a write"
    assert epochs_seen[-1] > epochs_seen[0]  # each restart resumed and made progress
    assert snn.load_checkpoint(run).history["epoch"] == list(range(1, epochs_seen[-1] + 1))
