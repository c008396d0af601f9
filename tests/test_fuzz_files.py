"""Fuzzing model files and checkpoints: valid archives, correct CRCs, hostile content.

Each example starts from a real file (a model, or a checkpoint saved in the middle of an
epoch with Adam and EarlyStopping state), changes its JSON metadata in one to three places
(a wrong type, an out-of-range or huge number, a huge declared layer size, deep nesting, a
missing or an extra key) and sometimes one of its arrays (another shape or dtype, NaN, one
missing or one too many), and writes it back with :func:`~scratchnn.io.write_npz`, so the
archive and its CRC-32s are valid. Loading it, and resuming or predicting with it, must
either work or raise scratchnn's own error with a one-line message: never another
exception, never a traceback.

Deterministic (``derandomize=True``) so that CI sees the same examples on every run.
"""

from __future__ import annotations

import copy
import json
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scratchnn.datasets import circle_regions
from scratchnn.errors import ScratchnnError, TrainingInterrupted
from scratchnn.experiments import check_model_metadata
from scratchnn.io import load_model, read_npz, write_npz
from scratchnn.models import mlp
from scratchnn.optimizers import Adam
from scratchnn.training import Callback, EarlyStopping, fit, load_checkpoint, resume

X, Y = circle_regions(64, seed=0)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            1,
            2,
            3,
            15000,
            10**6,
            10**9,
            2**31,
            2**63,
            2**64,
            10**30,
            0.5,
            -0.0,
            1e308,
            float("nan"),
            float("inf"),
            float("-inf"),
            "",
            "x",
            "relu",
            "Dense",
            "Adam",
            "PCG64",
            "__array__",
            "0.W",
            [],
            {},
            [1],
            [15000, 15000],
            [10**9],
            {"class": "Dense"},
            {"__array__": "param/0.W"},
            {"__array__": "nowhere"},
            {"class": "Dense", "config": {"in_features": 15000, "out_features": 15000}},
            _nested(70),
            _nested(900),
        ]
    ),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)


def json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: the paths of its dict entries and list items."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += json_paths(item, (*prefix, index))
    return found


def _parent(meta: dict, path: tuple) -> tuple[Any, Any]:
    node = meta
    for key in path[:-1]:
        node = node[key]
    return node, path[-1]


@st.composite
def mutated(draw, meta: dict, arrays: dict[str, np.ndarray]):
    """``(meta, arrays)`` changed in one to three places, the format name and version kept."""
    meta, arrays = copy.deepcopy(meta), dict(arrays)
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p in json_paths(meta) if p and p[0] not in ("format", "version")]
        # a checkpoint's training state is most of what a resume reads: aim there often
        focus = draw(st.sampled_from([None, "training", "training", "extra"]))
        places = [p for p in places if p[0] == focus] or places
        path = draw(st.sampled_from(places))
        node, key = _parent(meta, path)
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "extra", "nest"]))
        if action == "replace":  # a copy: the sampled lists and dicts are shared constants
            node[key] = copy.deepcopy(draw(HOSTILE))
        elif action == "delete" and isinstance(node, dict):
            del node[key]
        elif action == "extra" and isinstance(node, dict):
            extra = draw(st.sampled_from(["extra", "class", "config", "t", "state", "lr"]))
            node[extra] = copy.deepcopy(draw(HOSTILE))
        elif action == "nest":
            node[key] = (
                _nested(draw(st.sampled_from([1, 5, 80]))) if draw(st.booleans()) else [node[key]]
            )
    if arrays and draw(st.booleans()):
        name = draw(st.sampled_from(sorted(arrays)))
        change = draw(st.sampled_from(["shape", "dtype", "nan", "drop", "add"]))
        if change == "shape":
            arrays[name] = np.zeros(draw(st.sampled_from([(), (1,), (3, 3), (0,)])), np.float32)
        elif change == "dtype":
            arrays[name] = arrays[name].astype(draw(st.sampled_from([np.int8, np.float64, bool])))
        elif change == "nan" and arrays[name].dtype.kind == "f" and arrays[name].size:
            arrays[name] = arrays[name].copy()
            arrays[name].flat[0] = np.nan
        elif change == "drop":
            del arrays[name]
        else:
            arrays["param/extra"] = np.ones(2, np.float32)
    return meta, arrays


def write(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write with correct CRCs; write_npz adds the format name and version itself."""
    write_npz(path, {k: v for k, v in meta.items() if k not in ("format", "version")}, arrays)


def assert_one_line(error: BaseException) -> None:
    assert isinstance(error, ScratchnnError), f"{type(error).__name__}: {error}"
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text, text


def _reason(error: BaseException) -> str:
    """The kind of refusal, for ``--hypothesis-show-statistics``: the message without paths."""
    text = str(error).split(": ", 1)[-1]
    return text.split("(")[0].split(";")[0][:50]


class StopAt(Callback):
    def on_batch_end(self, batch, logs):
        if self.state.epoch == 1 and batch == 1:
            self.state.stop_signal = signal.SIGINT


class Quiet(Callback):
    """Takes StopAt's place on resume (saved callback states are matched by class name)."""


Quiet.__name__ = "StopAt"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Any]:
    """A model file and a checkpoint saved in the middle of epoch 2."""
    base = tmp_path_factory.mktemp("originals")
    model = mlp([2, 8, 2], rng=0)
    model.metadata = {"classes": [0, 1], "seed": 0, "feature_names": ["x", "y"]}
    model.save(base / "model.npz")
    run = base / "run"
    with pytest.raises(TrainingInterrupted):
        fit(mlp([2, 8, 2], rng=0), X, Y, epochs=3, batch_size=16, rng=0, verbose=0,
            checkpoint=run, optimizer=Adam(lr=1e-2),
            callbacks=[StopAt(), EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)])  # fmt: skip
    return {"model": read_npz(base / "model.npz"), "run": run}


@FUZZ
@given(data=st.data())
def test_a_hostile_model_file_loads_or_is_one_line(originals, tmp_path_factory, data):
    meta, arrays = data.draw(mutated(*originals["model"]))
    path = tmp_path_factory.mktemp("model") / "model.npz"
    write(path, meta, arrays)
    try:
        model = load_model(path)
        check_model_metadata(model, path)
        model.predict(X[:4])
        event("loaded and predicted")
    except Exception as error:
        assert_one_line(error)
        event(f"refused: {_reason(error)}")


@FUZZ
@given(data=st.data())
def test_a_hostile_checkpoint_loads_resumes_or_is_one_line(originals, tmp_path_factory, data):
    run = tmp_path_factory.mktemp("checkpoint") / "run"
    shutil.copytree(originals["run"], run)
    meta, arrays = read_npz(run / "checkpoint.npz")
    meta, arrays = data.draw(mutated(meta, arrays))
    write(run / "checkpoint.npz", meta, arrays)
    callbacks = [Quiet(), EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)]
    try:
        load_checkpoint(run)
        with np.errstate(all="ignore"):  # a resumed run may diverge: a one-line error too
            resume(run, X, Y, epochs=3, verbose=0, callbacks=callbacks)
        event("loaded and resumed")
    except Exception as error:
        assert_one_line(error)
        event(f"refused: {_reason(error)}")


def test_the_fuzzer_changes_what_it_claims(originals):
    """The strategy is not a no-op: its examples differ from the original file."""
    meta, arrays = originals["model"]
    examples = []

    @settings(max_examples=20, derandomize=True, deadline=None)
    @given(st.data())
    def collect(data):
        examples.append(data.draw(mutated(meta, arrays)))

    collect()
    dumped = json.dumps(meta, sort_keys=True, default=str)
    changed = [m for m, a in examples if json.dumps(m, sort_keys=True, default=str) != dumped]
    assert len(changed) >= 15
