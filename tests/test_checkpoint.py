"""Checkpoints: exact resume, interrupts, divergence, crashes and full disks."""

from __future__ import annotations

import copy
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
import warnings

import hypothesis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnn as snn
from conftest import REPO
from scratchnn.checkpoint import CHECKPOINT_FILE, HISTORY_FILE, generator_from_state
from scratchnn.errors import (
    DivergenceError,
    InputError,
    OutputError,
    ScratchnnError,
    TrainingInterrupted,
)
from scratchnn.serialization import ModelFileError, read_npz, write_npz

X, Y = snn.datasets.circle_regions(300, seed=0)


def make_model(rng=1):
    return snn.mlp([2, 16, 16, 2], dropout=0.2, rng=rng)


def settings(**overrides):
    kwargs = dict(
        optimizer=snn.Adam(lr=0.01),
        batch_size=16,
        validation_split=0.2,
        seed=3,
        verbose=0,
        lr_schedule=snn.StepLR(2, 0.5),
        clip_norm=5.0,
    )
    kwargs.update(overrides)
    return kwargs


def assert_same_run(model_a, history_a, model_b, history_b):
    """Bit-identical parameters and History (wall-clock seconds aside)."""
    state_b = model_b.state_dict()
    for name, value in model_a.state_dict().items():
        np.testing.assert_array_equal(value, state_b[name], err_msg=name)
    pd.testing.assert_frame_equal(
        history_a.to_dataframe().drop(columns="seconds"),
        history_b.to_dataframe().drop(columns="seconds"),
        check_exact=True,
    )


def straight_run(epochs=6, **overrides):
    model = make_model()
    history = model.fit(X, Y, epochs=epochs, **settings(**overrides))
    return model, history


class SignalAt(snn.Callback):
    """Send ``signum`` to this process after ``step`` training steps (as Ctrl-C would)."""

    def __init__(self, step, signum=signal.SIGINT, times=1):
        self.step, self.signum, self.times, self.seen = step, signum, times, 0

    def on_batch_end(self, batch, logs):
        self.seen += 1
        if self.seen == self.step:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


# -- exact resume -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: snn.Adam(lr=0.01),
        lambda: snn.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda: snn.RMSprop(lr=0.005, momentum=0.5, centered=True),
        lambda: snn.AdamW(lr=0.01),
    ],
    ids=["Adam", "SGD", "RMSprop", "AdamW"],
)
def test_half_then_resume_is_bit_identical_to_straight(tmp_path, optimizer):
    straight, straight_history = straight_run(optimizer=optimizer())
    make_model().fit(X, Y, epochs=3, checkpoint=tmp_path, **settings(optimizer=optimizer()))
    model, history = snn.resume(tmp_path, X, Y, epochs=6, verbose=0)
    assert_same_run(straight, straight_history, model, history)
    assert straight.evaluate(X, Y) == model.evaluate(X, Y)
    assert snn.load_checkpoint(tmp_path).epoch == 6


def test_resume_through_fit_with_the_same_arguments(tmp_path):
    straight, straight_history = straight_run()
    make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    make_model(rng=99).fit(X, Y, epochs=4, checkpoint=tmp_path, resume=True, **settings())
    model = make_model(rng=7)  # other initial weights and dropout generator: all restored
    history = model.fit(X, Y, epochs=6, checkpoint=tmp_path, resume=True, **settings(seed=11))
    assert_same_run(straight, straight_history, model, history)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("step", [1, 17, 40, 75])  # 15 steps per epoch: mid-epoch and at its end
def test_interrupt_mid_epoch_then_resume_is_bit_identical(tmp_path, signum, step):
    straight, straight_history = straight_run()
    with pytest.raises(TrainingInterrupted) as info:
        make_model().fit(
            X, Y, epochs=6, checkpoint=tmp_path, callbacks=[SignalAt(step, signum)], **settings()
        )
    assert info.value.signum == signum and info.value.exit_code == 128 + signum
    assert info.value.checkpoint == tmp_path / CHECKPOINT_FILE
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    checkpoint = snn.load_checkpoint(tmp_path)
    assert checkpoint.epoch == step // 15
    assert checkpoint.in_epoch == (None if step % 15 == 0 else step // 15 + 1)
    history_csv = pd.read_csv(tmp_path / HISTORY_FILE)
    assert len(history_csv) == checkpoint.epoch
    model, history = snn.resume(tmp_path, X, Y, verbose=0)
    assert_same_run(straight, straight_history, model, history)


def test_a_generator_shared_by_fit_and_dropout_stays_shared(tmp_path):
    def run(**kwargs):
        shared = np.random.default_rng(5)
        model = snn.mlp([2, 16, 16, 2], dropout=0.3, rng=shared)
        kw = settings(seed=None, rng=shared, validation_split=0.0, **kwargs)
        return model, model.fit(X, Y, epochs=4, **kw)

    straight, straight_history = run()
    with pytest.raises(TrainingInterrupted):
        run(checkpoint=tmp_path, callbacks=[SignalAt(25)])
    state = snn.load_checkpoint(tmp_path).state
    assert len(state["generators"]) == 1  # fit and both Dropout layers draw from one
    model, history = snn.resume(tmp_path, X, Y, verbose=0)
    assert model.layers[2].rng is model.layers[5].rng
    assert_same_run(straight, straight_history, model, history)


@pytest.mark.parametrize("split", [5, 9, 10])  # before the best epoch, while waiting, at the stop
def test_early_stopping_state_survives_a_resume(tmp_path, split):
    def stopper():
        return snn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)

    Xv, Yv = snn.datasets.circle_regions(100, seed=1)
    kw = settings(validation_split=0.0, validation_data=(Xv, Yv), optimizer=snn.SGD(lr=1.0))
    straight = make_model()
    straight_history = straight.fit(X, Y, epochs=30, callbacks=[stopper()], **kw)
    assert len(straight_history) == 10  # it stops early, after its best epoch 8
    kw["optimizer"] = snn.SGD(lr=1.0)
    make_model().fit(X, Y, epochs=split, checkpoint=tmp_path, callbacks=[stopper()], **kw)
    second = stopper()
    model, history = snn.resume(
        tmp_path, X, Y, epochs=30, validation_data=(Xv, Yv), callbacks=[second], verbose=0
    )
    assert second.best_epoch == 8 and second.stopped_epoch == 10
    assert_same_run(straight, straight_history, model, history)


@pytest.mark.parametrize("name", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_every_bit_generator_round_trips_exactly_through_a_file(tmp_path, name):
    generator = np.random.Generator(getattr(np.random, name)(2**100 + 7))
    generator.random(3)
    arrays = {}
    packed = snn.checkpoint._pack(generator.bit_generator.state, "rng", arrays)
    write_npz(tmp_path / "g.npz", {"rng": packed}, arrays)
    meta, arrays = read_npz(tmp_path / "g.npz")
    clone = generator_from_state(snn.checkpoint._unpack(meta["rng"], arrays))
    np.testing.assert_array_equal(clone.random(5), generator.random(5))


def test_big_integer_generator_state_survives_the_file(tmp_path):
    rng = np.random.default_rng(2**127 + 12345)
    rng.standard_normal(7)
    model = make_model()
    model.fit(X, Y, epochs=1, checkpoint=tmp_path, **settings(seed=None, rng=rng))
    saved = snn.load_checkpoint(tmp_path).state
    fit_state = saved["generators"][saved["generator_owners"]["fit"]]
    assert fit_state == rng.bit_generator.state
    assert fit_state["state"]["state"] > 2**64  # a 128-bit integer, exact through JSON


def test_checkpoint_every_and_the_final_epoch(tmp_path, monkeypatch):
    saved = []
    original = snn.checkpoint.TrainingRun.save

    def spy(self, where, position=None):
        saved.append(self.epoch)
        original(self, where, position)

    monkeypatch.setattr(snn.checkpoint.TrainingRun, "save", spy)
    make_model().fit(X, Y, epochs=7, checkpoint=tmp_path, checkpoint_every=3, **settings())
    assert saved == [3, 6, 7]


def test_load_reads_the_model_out_of_a_checkpoint(tmp_path):
    model = make_model()
    model.metadata = {"classes": ["in", "out"]}
    model.fit(X, Y, epochs=1, checkpoint=tmp_path, **settings())
    clone = snn.load(tmp_path / CHECKPOINT_FILE)
    assert clone.metadata == {"classes": ["in", "out"]}
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


# -- resume mistakes are clear errors -------------------------------------------------------
def test_an_existing_run_is_never_silently_overwritten(tmp_path):
    make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(InputError, match=r"already holds a checkpoint \(2 of 2 epochs done\)"):
        make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before


def test_resume_auto_starts_or_continues(tmp_path):
    straight, straight_history = straight_run(epochs=4)
    make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, resume="auto", **settings())
    model = make_model()
    history = model.fit(X, Y, epochs=4, checkpoint=tmp_path, resume="auto", **settings())
    assert_same_run(straight, straight_history, model, history)
    # resuming a finished run trains nothing and returns its History
    again = model.fit(X, Y, epochs=4, checkpoint=tmp_path, resume=True, **settings())
    assert len(again) == 4


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda kw: kw.update(batch_size=8), r"batch_size=16 but this call passes 8"),
        (lambda kw: kw.update(optimizer=snn.Adam(lr=0.1)), "optimizer="),
        (lambda kw: kw.update(optimizer=snn.SGD(lr=0.01)), "optimizer="),
        (lambda kw: kw.update(lr_schedule=None), "lr_schedule="),
        (lambda kw: kw.update(loss="prob_cross_entropy"), "loss="),
        (lambda kw: kw.update(clip_norm=None), "clip_norm="),
        (lambda kw: kw.update(validation_split=0.1), "validation_split="),
        (lambda kw: kw.update(shuffle=False), "shuffle="),
        (lambda kw: kw.update(epochs=1), r"reached epoch 2; pass epochs >= 2"),
    ],
)
def test_resume_with_other_settings_is_refused(tmp_path, change, match):
    make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    kw = settings(epochs=4)
    change(kw)
    with pytest.raises(InputError, match=match):
        make_model().fit(X, Y, checkpoint=tmp_path, resume=True, **kw)


def test_resume_with_other_data_or_architecture_is_refused(tmp_path):
    make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, **settings())
    X2 = X.copy()
    X2[0, 0] += 1e-3
    with pytest.raises(InputError, match="training data differ"):
        snn.resume(tmp_path, X2, Y, epochs=3, verbose=0)
    with pytest.raises(InputError, match="different architecture"):
        snn.mlp([2, 8, 2], rng=0).fit(X, Y, epochs=3, checkpoint=tmp_path, resume=True)


def test_resume_without_a_checkpoint(tmp_path):
    with pytest.raises(InputError, match=r"no checkpoint\.npz to resume from"):
        make_model().fit(X, Y, epochs=2, checkpoint=tmp_path, resume=True, **settings())
    with pytest.raises(ModelFileError, match="file not found"):
        snn.resume(tmp_path / "nothing", X, Y)
    with pytest.raises(InputError, match="resume needs the run's directory"):
        make_model().fit(X, Y, epochs=2, resume=True, **settings())
    with pytest.raises(InputError, match="resume must be True, False or 'auto'"):
        make_model().fit(X, Y, checkpoint=tmp_path, resume="yes", **settings())


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
    assert f"resuming {tmp_path / CHECKPOINT_FILE} after epoch 1 of 3" in captured.out
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


def test_exact_resume_on_real_mnist(tmp_path, mnist_dir):
    (images, labels), _ = snn.datasets.load_mnist(mnist_dir)
    X_mnist = images[:3000].reshape(3000, -1) / np.float32(255)
    y_mnist = labels[:3000]

    def run(**kwargs):
        model = snn.mlp([784, 64, 10], dropout=0.2, rng=0)
        history = model.fit(
            X_mnist, y_mnist, optimizer=snn.Adam(lr=1e-3), epochs=3, batch_size=64, seed=0,
            validation_split=0.1, lr_schedule=snn.CosineAnnealingLR(T_max=3), verbose=0,
            **kwargs,
        )  # fmt: skip
        return model, history

    straight, straight_history = run()
    with pytest.raises(TrainingInterrupted):
        run(checkpoint=tmp_path, callbacks=[SignalAt(60)])  # 43 steps per epoch: in epoch 2
    model, history = snn.resume(tmp_path, X_mnist, y_mnist, verbose=0)
    assert_same_run(straight, straight_history, model, history)
    assert history["val_accuracy"][-1] > 0.8


# -- property-based: a damaged checkpoint is a ModelFileError, never a crash ---------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    make_model().fit(X, Y, epochs=1, checkpoint=run, **settings())
    return read_npz(run / CHECKPOINT_FILE)


@hypothesis.settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_training_state_gives_a_clear_error(tmp_path_factory, saved_run, data):
    meta, arrays = saved_run
    meta = copy.deepcopy(meta)
    node = meta["training"]
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans(), label="deeper"):
        keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys), label="key")
        if data.draw(st.booleans(), label="replace here") or not isinstance(
            node[key], (dict, list)
        ):
            node[key] = data.draw(JSON, label="new value")
            break
        node = node[key]
    else:
        meta["training"] = data.draw(JSON, label="whole state")
    run = tmp_path_factory.mktemp("damaged")
    write_npz(
        run / CHECKPOINT_FILE,
        {k: v for k, v in meta.items() if k not in ("format", "version")},
        arrays,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            snn.resume(run, X, Y, epochs=2, verbose=0)
        except ScratchnnError as exc:
            assert "\n" not in str(exc)
