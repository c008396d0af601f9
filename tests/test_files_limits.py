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
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from datasets_helpers import finishes, peak_memory, unblock_fifo
from scratchnn import cli
from scratchnn.errors import InputError, ModelFileError
from scratchnn.experiments import read_run_config
from scratchnn.io import load_model, read_npz, save_model, write_npz
from scratchnn.layers import LayerNorm
from scratchnn.model import Sequential
from scratchnn.models import mlp
from scratchnn.training import load_checkpoint

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
