"""Model files, checkpoints and run configurations that are valid containers but hostile.

Issue 18: a 3 KB model file declaring ``Dense(15000, 15000)`` took 2.65 GB; a FIFO given as
``--model``, ``checkpoint.npz`` or ``config.json`` blocked forever; NaN weights loaded and
predicted class 0; a duplicated zip entry silently won; an edited ``config.json`` gave
tracebacks. Every file here is written with correct CRCs (by :func:`rewrite`), so only the
checks of the content can refuse it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from datasets_helpers import finishes, peak_memory, unblock_fifo
from scratchnn import cli
from scratchnn.datasets import MNIST_FILES, circle_regions
from scratchnn.errors import InputError, ModelFileError, TrainingInterrupted
from scratchnn.experiments import read_run_config
from scratchnn.io import load_model, read_npz, save_model, write_npz
from scratchnn.layers import LayerNorm
from scratchnn.model import Sequential
from scratchnn.models import mlp
from scratchnn.optimizers import Adam
from scratchnn.training import Callback, EarlyStopping, fit, load_checkpoint, resume
from test_datasets_download import tiny_idx_set

MiB = 1 << 20


def rewrite(
    path: Path,
    meta: Callable[[dict[str, Any]], Any] | None = None,
    arrays: Callable[[dict[str, np.ndarray]], Any] | None = None,
    out: Path | None = None,
) -> Path:
    """Read a scratchnn file, let ``meta``/``arrays`` edit it in place, write it back.

    The result is a well-formed archive with correct CRC-32s: what a person (or an attacker)
    with a text editor and NumPy makes, not a damaged file.
    """
    saved_meta, saved_arrays = read_npz(path)
    if meta is not None:
        meta(saved_meta)
    if arrays is not None:
        arrays(saved_arrays)
    body = {k: v for k, v in saved_meta.items() if k not in ("format", "version")}
    target = out or path
    write_npz(target, body, saved_arrays)
    if "version" in saved_meta and saved_meta["version"] != 2:  # keep an edited version
        _set_version(target, saved_meta)
    return target


def _set_version(path: Path, meta: dict[str, Any]) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    text = np.array(json.dumps(meta))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            if name == "__scratchnn__.npy":
                with archive.open(name, "w") as fh:
                    np.lib.format.write_array(fh, text)
            else:
                archive.writestr(name, data)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, text
    return text


def run_cli(capsys, *args) -> tuple[int, str]:
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


def cli_error(capsys, *args) -> str:
    code, err = run_cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    return lines[0]


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "model.npz"
    save_model(mlp([2, 8, 2], rng=0), path)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished two-epoch run, copied by the tests that edit it."""
    out = tmp_path_factory.mktemp("run") / "run"
    args = ["train", "--dataset", "circle", "--n", "200", "--epochs", "2", "--out", out]
    assert cli.main([str(a) for a in [*args, "--verbose", "0", "--no-plots"]]) == 0
    return out


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in run_dir.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    return copy


# -- item 2: declared sizes against what the file holds -------------------------------------
def _grow_dense(meta):
    layer = meta["architecture"]["config"]["layers"][0]["config"]
    layer["in_features"] = layer["out_features"] = 15000


def test_a_small_file_declaring_dense_15000_by_15000_allocates_nothing(model_file):
    rewrite(model_file, meta=_grow_dense)
    assert model_file.stat().st_size < 4096
    error, peak = peak_memory(lambda: load_model(model_file))
    assert isinstance(error, ModelFileError)
    assert "(15000, 15000) (225,000,000 values), more than the 42 values the file holds" in (
        one_line(error)
    )
    assert peak < 4 * MiB, peak  # the report: 2.65 GB and 7.4 s


def test_a_layernorm_of_a_billion_features_is_refused_before_its_ones(tmp_path):
    path = tmp_path / "norm.npz"
    save_model(Sequential([LayerNorm(4)]), path)
    rewrite(
        path,
        meta=lambda m: m["architecture"]["config"]["layers"][0]["config"].update(
            normalized_shape=10**9
        ),
    )
    error, peak = peak_memory(lambda: load_model(path))
    assert isinstance(error, ModelFileError) and "1,000,000,000 values" in one_line(error)
    assert peak < 4 * MiB, peak


def test_a_model_as_large_as_its_file_still_loads(tmp_path):
    path = tmp_path / "wide.npz"
    model = mlp([300, 500, 10], rng=0)  # the bias of Dense is drawn from a W-shaped sample
    save_model(model, path)
    np.testing.assert_array_equal(
        load_model(path).predict(np.ones((1, 300))), model.predict(np.ones((1, 300)))
    )


def test_a_huge_architecture_through_evaluate_exits_2(model_file, capsys):
    rewrite(model_file, meta=_grow_dense)
    line = cli_error(capsys, "evaluate", "--model", model_file, "--dataset", "circle", "--n", "10")
    assert "the saved architecture cannot be rebuilt" in line


def test_a_resumed_config_describing_a_larger_model_is_refused_before_building(
    run_dir, tmp_path, capsys
):
    run = copy_run(run_dir, tmp_path)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "hidden": [10**6, 10**6]}))
    line = finishes(lambda: cli_error(capsys, "train", "--resume", run, "--epochs", "3"))
    assert "config.json: describes a larger model than" in line and "checkpoint.npz" in line


# -- item 3: FIFOs as model files, checkpoints and configurations ---------------------------
def test_a_fifo_as_model_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    try:
        with pytest.raises(ModelFileError, match=r"model.npz: is a FIFO \(named pipe\), not a"):
            finishes(lambda: load_model(fifo))
        line = finishes(
            lambda: cli_error(capsys, "evaluate", "--model", fifo, "--dataset", "circle")
        )
        assert "is a FIFO (named pipe)" in line
    finally:
        unblock_fifo(fifo)


def test_a_fifo_as_checkpoint_is_refused_without_blocking(run_dir, tmp_path, capsys):
    run = copy_run(run_dir, tmp_path)
    (run / "checkpoint.npz").unlink()
    os.mkfifo(run / "checkpoint.npz")
    try:
        with pytest.raises(ModelFileError, match=re.escape("checkpoint.npz: is a FIFO")):
            finishes(lambda: load_checkpoint(run))
        line = finishes(lambda: cli_error(capsys, "train", "--resume", run, "--epochs", "3"))
        assert "checkpoint.npz: is a FIFO (named pipe), not a checkpoint" in line
    finally:
        unblock_fifo(run / "checkpoint.npz")


def test_a_fifo_as_config_json_is_refused_without_blocking(run_dir, tmp_path, capsys):
    run = copy_run(run_dir, tmp_path)
    (run / "config.json").unlink()
    os.mkfifo(run / "config.json")
    try:
        with pytest.raises(InputError, match=re.escape("config.json: is a FIFO")):
            finishes(lambda: read_run_config(run))
        line = finishes(lambda: cli_error(capsys, "train", "--resume", run))
        assert "config.json: is a FIFO (named pipe), not a run configuration" in line
    finally:
        unblock_fifo(run / "config.json")


def test_a_config_json_over_a_mib_is_refused_unread(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path)
    (run / "config.json").write_bytes(b" " * (2 * MiB) + b"{}")
    with pytest.raises(InputError, match=re.escape("config.json: larger than 1 MiB")):
        read_run_config(run)


# -- item 8: config.json edits ---------------------------------------------------------------
@pytest.mark.parametrize(
    "edit, message",
    [
        ({"epochs": "abc"}, "epochs must be a whole number from 0 to 10,000,000, got 'abc'"),
        ({"n": 1e12}, "n must be a whole number from 0 to 10,000,000, got 1000000000000.0"),
        ({"n": 10**12}, "n must be a whole number from 0 to 10,000,000, got 1000000000000"),
        ({"batch_size": True}, "batch_size must be a whole number"),
        ({"hidden": [[[[1]]]]}, "hidden must be a number, a name or a list of numbers"),
        ({"activation": {"relu": 1}}, "activation must be a number, a name or a list"),
        ({"lr": float("inf")}, "lr must be a finite number"),
        ({"optimizer": 3}, "optimizer must be a name, got 3"),
    ],
)
def test_edited_config_values_are_one_line_errors(run_dir, tmp_path, capsys, edit, message):
    run = copy_run(run_dir, tmp_path)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **edit}))
    with pytest.raises(InputError, match=re.escape("config.json: ")) as caught:
        read_run_config(run)
    assert message in one_line(caught.value)
    assert message in cli_error(capsys, "train", "--resume", run)


def test_a_deeply_nested_config_json_is_one_line(run_dir, tmp_path, capsys):
    run = copy_run(run_dir, tmp_path)
    (run / "config.json").write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    line = cli_error(capsys, "train", "--resume", run)
    assert "config.json: unreadable (RecursionError" in line


# -- item 9: NaN weights, duplicate entries ---------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_weights_are_refused_naming_the_parameter(model_file, capsys, bad):
    def poison(arrays):
        arrays["param/2.b"] = arrays["param/2.b"].copy()
        arrays["param/2.b"][1] = bad

    rewrite(model_file, arrays=poison)
    with pytest.raises(
        ModelFileError, match=re.escape("parameter 2.b holds NaN or infinite values")
    ):
        load_model(model_file)
    line = cli_error(capsys, "predict", "--model", model_file, "--input", model_file)
    assert "parameter 2.b holds NaN or infinite values" in line


def test_a_zip_entry_named_twice_is_refused(model_file):
    with zipfile.ZipFile(model_file) as archive:
        name = "param/0.W.npy"
        data = archive.read(name)
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(model_file, "a") as archive:
            archive.writestr(name, data)  # the last one would win
    with pytest.raises(
        ModelFileError, match=re.escape("entry 'param/0.W.npy' appears more than once")
    ):
        load_model(model_file)


def test_entries_declaring_more_bytes_than_the_file_has_are_refused(model_file):
    data = bytearray(model_file.read_bytes())
    with zipfile.ZipFile(model_file) as archive:
        info = archive.getinfo("param/0.W.npy")
    # the central directory's "uncompressed size" of the entry, 24 bytes into its record
    central = data.index(b"PK\x01\x02")
    while True:
        name_length = int.from_bytes(data[central + 28 : central + 30], "little")
        extra_length = int.from_bytes(data[central + 30 : central + 32], "little")
        comment_length = int.from_bytes(data[central + 32 : central + 34], "little")
        name = bytes(data[central + 46 : central + 46 + name_length])
        if name == info.filename.encode():
            break
        central += 46 + name_length + extra_length + comment_length
    data[central + 24 : central + 28] = (1 << 30).to_bytes(4, "little")
    model_file.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as caught:
        load_model(model_file)
    assert "its entries declare 1,073,74" in one_line(caught.value)


# -- item 8: tampered checkpoints ------------------------------------------------------------
class StopAt(Callback):
    """Stops training like a Ctrl-C after batch 1 of epoch 2, so the checkpoint has a position."""

    def on_batch_end(self, batch, logs):
        if self.state.epoch == 1 and batch == 1:
            self.state.stop_signal = signal.SIGINT


class Quiet(Callback):
    """Takes StopAt's place when the run is resumed (callbacks are matched by class name)."""


Quiet.__name__ = "StopAt"


def interrupted_run(directory: Path) -> Path:
    """A checkpoint saved in the middle of epoch 2, with Adam and EarlyStopping state."""
    X, y = circle_regions(64, seed=0)
    callbacks = [StopAt(), EarlyStopping(monitor="loss", patience=2)]
    with pytest.raises(TrainingInterrupted):
        fit(
            mlp([2, 8, 2], rng=0),
            X,
            y,
            epochs=3,
            batch_size=16,
            rng=0,
            verbose=0,
            checkpoint=directory,
            callbacks=callbacks,
            optimizer=Adam(lr=1e-2),
        )
    return directory


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> Path:
    return interrupted_run(tmp_path_factory.mktemp("interrupted") / "run")


def resume_edited(interrupted: Path, tmp_path: Path, edit: Callable[[dict], Any]) -> None:
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    rewrite(run / "checkpoint.npz", meta=lambda meta: edit(meta["training"]))
    X, y = circle_regions(64, seed=0)
    resume(run, X, y, verbose=0, callbacks=[Quiet(), EarlyStopping(monitor="loss", patience=2)])


def _set(*keys: Any, value: Any) -> Callable[[dict], None]:
    def edit(training: dict) -> None:
        for key in keys[:-1]:
            training = training[key]
        training[keys[-1]] = value

    return edit


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


TAMPERED = {
    "batch past the end": (_set("position", "batch", value=10**6), "saved position in epoch 2"),
    "batch = n_batches": (_set("position", "batch", value=4), "saved position in epoch 2"),
    "term_sums a string": (_set("position", "term_sums", value="x"), "position should be"),
    "term_sums of strings": (_set("position", "term_sums", value={"a": "b"}), "position should"),
    "generator state < 0": (_set("generators", 0, "state", "state", value=-1), "generators"),
    "generator state 2^200": (
        _set("generators", 0, "state", "state", value=2**200),
        "generators should be a list of generator states",
    ),
    "has_uint32 = 5": (_set("generators", 0, "has_uint32", value=5), "generators should be"),
    "split_rng inc < 0": (_set("split_rng", "state", "inc", value=-5), "split_rng should be"),
    "malformed MT19937": (
        _set("generators", 0, value={"bit_generator": "MT19937", "state": {"key": [1], "pos": 5}}),
        "invalid MT19937 state",
    ),
    "Adam t = 10^30": (_set("optimizer", "state", "t", value=10**30), "step counter (0 to 2^53)"),
    "setattr an unknown name": (
        _set("optimizer", "state", "hyperparameters", value={"step": None}),
        "optimizer hyper-parameter step=None is not one of Adam's",
    ),
    "setattr a string lr": (
        _set("optimizer", "state", "hyperparameters", value={"lr": "x"}),
        "hyper-parameter lr='x' is not one of",
    ),
    "setattr beta1 = 5": (
        _set("optimizer", "state", "hyperparameters", value={"beta1": 5.0}),
        "beta1=5.0 differs from the run's settings (beta1=0.9)",
    ),
    "moments of no parameter": (
        _set("optimizer", "state", "state", "nope", value={}),
        "optimizer state for 'nope', which the model has no parameter of",
    ),
    "deep callback state": (_set("callbacks", 1, "state", value=_nested(900)), "nested more than"),
    "wait a string": (_set("callbacks", 1, "state", "wait", value="x"), "wait must be a count"),
    "best_state not arrays": (
        _set("callbacks", 1, "state", "best_state", value={"0.W": "x"}),
        "best_state must hold every parameter",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_checkpoint_is_one_line_naming_the_field(interrupted, tmp_path, case):
    edit, message = TAMPERED[case]
    with pytest.raises(ModelFileError) as caught:
        resume_edited(interrupted, tmp_path, edit)
    assert message in one_line(caught.value)


def test_the_untampered_checkpoint_resumes(interrupted, tmp_path):
    resume_edited(interrupted, tmp_path, lambda training: None)
    assert load_checkpoint(tmp_path / "run").epoch == 3


def test_a_settings_mismatch_names_the_field_that_differs(interrupted, tmp_path):
    X, y = circle_regions(64, seed=0)
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    model = load_checkpoint(run).model
    with pytest.raises(InputError) as caught:
        fit(
            model,
            X,
            y,
            epochs=3,
            batch_size=16,
            rng=0,
            verbose=0,
            checkpoint=run,
            resume=True,
            callbacks=[Quiet(), EarlyStopping(monitor="loss", patience=2)],
            optimizer=Adam(lr=1e-2, eps=1e-7),
        )
    assert "the run used optimizer.hyperparameters.eps=1e-08 but this call passes 1e-07" in (
        one_line(caught.value)
    )


# -- item 9: a changed test set on resume ----------------------------------------------------
def test_a_changed_test_set_on_resume_is_refused(tmp_path, capsys):
    tiny_idx_set(tmp_path / "a", seed=0)
    run = tmp_path / "run"
    data = ["--dataset", "mnist", "--data-dir", tmp_path / "a", "--hidden", "8", "--lr-schedule"]
    data += ["constant"]
    quiet = ["--val-split", "0", "--verbose", "0", "--no-plots"]
    assert cli.main(["train", *map(str, [*data, *quiet, "--epochs", 1, "--out", run])]) == 0
    images = MNIST_FILES["test_images"] + ".gz"
    other = tmp_path / "b"
    tiny_idx_set(other, seed=1)
    shutil.copy(other / images, tmp_path / "a" / images)  # the training files stay the same
    capsys.readouterr()
    line = cli_error(capsys, "train", "--resume", run, "--epochs", "2")
    assert "checkpoint.npz: the test data differ from the run's" in line
    assert load_checkpoint(run).epoch == 1


# -- item 8: model metadata -------------------------------------------------------------------
METADATA = {
    "classes too short": ({"classes": [0]}, "metadata classes should be a list of 2 class names"),
    "classes too long": ({"classes": list(range(50))}, "metadata classes should be a list of 2"),
    "classes a string": ({"classes": "ab"}, "metadata classes should be a list"),
    "preprocess a string": ({"preprocess": "x"}, "metadata preprocess should be a JSON object"),
    "scaler a string": (
        {"preprocess": {"scaler": "x", "layout": "flat"}},
        "should be a scaler of kind none, rescale or standardize",
    ),
    "means not numbers": (
        {"preprocess": {"scaler": {"kind": "standardize", "mean": "x", "scale": [1]}}},
        "a standardize scaler with finite means and scales of one length",
    ),
    "factor a string": (
        {"preprocess": {"scaler": {"kind": "rescale", "factor": "x"}}},
        "a rescale scaler with a finite factor",
    ),
    "seed a string": ({"seed": "x"}, "metadata seed should be a whole number"),
    "feature_names a number": ({"feature_names": 5}, "metadata feature_names should be a list"),
}


@pytest.mark.parametrize("case", list(METADATA))
def test_model_metadata_of_the_wrong_type_is_one_line(run_dir, tmp_path, capsys, case):
    edit, message = METADATA[case]
    path = rewrite(
        run_dir / "model.npz", meta=lambda m: m["extra"].update(edit), out=tmp_path / "m.npz"
    )
    inputs = tmp_path / "in.csv"
    inputs.write_text("x,y\n0.5,0.25\n")
    line = cli_error(capsys, "evaluate", "--model", path, "--dataset", "circle", "--n", "10")
    assert message in line
    assert message in cli_error(capsys, "predict", "--model", path, "--input", inputs)


# -- the same protections for .safetensors model files ----------------------------------------
def test_safetensors_files_get_the_same_checks(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    path = tmp_path / "model.safetensors"
    save_model(mlp([2, 8, 2], rng=0), path)
    with safe_open(str(path), framework="np") as fh:
        header = fh.metadata()
        tensors = {name: fh.get_tensor(name) for name in fh.keys()}

    def saved(name: str, arch_edit=None, tensor_edit=None) -> Path:
        meta = json.loads(header["scratchnn"])
        if arch_edit:
            arch_edit(meta["architecture"]["config"]["layers"][0]["config"])
        arrays = {k: v.copy() for k, v in tensors.items()}
        if tensor_edit:
            tensor_edit(arrays)
        out = tmp_path / name
        data = safetensors_numpy.save(arrays, metadata={**header, "scratchnn": json.dumps(meta)})
        out.write_bytes(data)
        return out

    huge = saved("huge.safetensors", lambda c: c.update(in_features=15000, out_features=15000))
    error, peak = peak_memory(lambda: load_model(huge))
    assert isinstance(error, ModelFileError) and "more than the 42 values" in one_line(error)
    assert peak < 4 * MiB, peak
    nan = saved("nan.safetensors", tensor_edit=lambda a: a["2.bias"].__setitem__(0, np.nan))
    with pytest.raises(ModelFileError, match=re.escape("parameter 2.b holds NaN or infinite")):
        load_model(nan)
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    try:
        with pytest.raises(ModelFileError, match=re.escape("is a FIFO (named pipe), not a")):
            finishes(lambda: load_model(fifo))
    finally:
        unblock_fifo(fifo)
