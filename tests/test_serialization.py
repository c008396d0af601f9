"""Model files: round trip, no pickle, atomic, versioned, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.serialization import FORMAT_VERSION, ModelFileError, read_npz, write_npz


def test_roundtrip_keeps_architecture_parameters_and_metadata(tmp_path):
    model = snn.mlp([3, 8, 8, 2], activation="tanh", dropout=0.2, rng=0, dtype=np.float64)
    model.metadata = {"classes": ["cat", "dog"]}
    model.save(tmp_path / "m.npz")
    clone = snn.load(tmp_path / "m.npz")
    assert clone.dtype == np.float64 and clone.metadata == {"classes": ["cat", "dog"]}
    X = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


def test_pickled_content_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"__scratchnn__": np.array("{}"), "x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ModelFileError, match="pickled"):
        snn.load(path)


def test_truncated_file_is_a_clear_error(tmp_path):
    model = snn.mlp([3, 4, 2], rng=0)
    model.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupted or truncated"):
        snn.load(tmp_path / "cut.npz")


def test_future_version_is_refused(tmp_path):
    write_npz(tmp_path / "f.npz", {"kind": "model"}, {})
    meta, arrays = read_npz(tmp_path / "f.npz")
    meta["version"] = FORMAT_VERSION + 1
    np.savez(tmp_path / "g.npz", __scratchnn__=np.array(json.dumps(meta)))
    with pytest.raises(ModelFileError, match="newer than this scratchnn reads"):
        snn.load(tmp_path / "g.npz")


def test_missing_parameter_is_not_a_silent_partial_load(tmp_path):
    model = snn.mlp([3, 4, 2], rng=0)
    meta = {"kind": "model", "architecture": model.get_config()}
    arrays = {f"param/{k}": v for k, v in model.state_dict().items() if k != "2.b"}
    write_npz(tmp_path / "p.npz", meta, arrays)
    with pytest.raises(ModelFileError, match=r"missing \['2.b'\]"):
        snn.load(tmp_path / "p.npz")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    model = snn.mlp([3, 4, 2], rng=0)
    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(snn.ScratchnnError, match="No space left on device"):
        snn.mlp([3, 4, 2], rng=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind


def test_not_a_scratchnn_file(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a scratchnn file"):
        snn.load(tmp_path / "plain.npz")
    with pytest.raises(ModelFileError, match="not found"):
        snn.load(tmp_path / "none.npz")
