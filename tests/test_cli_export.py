"""``scratchnn export``: run folders and model files to ONNX and safetensors; bad input is
one line and exit status 2."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import cli
from scratchnn import layers as L
from scratchnn.models import VAE, mlp

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


class Cube(L.Module):
    """A layer the ONNX export does not know (registered by being defined)."""

    def forward(self, X, training=True):
        return X * X * X


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as ``scratchnn train`` leaves it: a model.npz with metadata."""
    model = mlp([4, 8, 3], rng=0)
    model.metadata = {"dataset": "toy", "preprocess": {}}
    (tmp_path / "run").mkdir()
    model.save(tmp_path / "run" / "model.npz")
    return tmp_path / "run", model


def error_line(capsys):
    err = capsys.readouterr().err
    assert err.startswith("scratchnn: error: ") and err.count("\n") == 1, err
    return err


def test_a_run_folder_exports_to_onnx(run_dir, tmp_path, capsys):
    folder, model = run_dir
    assert (
        cli.main(["export", str(folder), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
        == 0
    )
    assert capsys.readouterr().out.strip() == str(tmp_path / "m.onnx")
    session = ort.InferenceSession(tmp_path / "m.onnx", providers=["CPUExecutionProvider"])
    X = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": X})[0], model.predict(X), atol=1e-5)


def test_a_vae_exports_two_graphs(tmp_path, capsys):
    VAE(12, hidden=(6,), latent_dim=2, rng=0).save(tmp_path / "vae.npz")
    code = cli.main(["export", str(tmp_path / "vae.npz"), "--out", str(tmp_path / "vae.onnx")])
    assert code == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / "vae-encoder.onnx"), str(tmp_path / "vae-decoder.onnx")]


def test_npz_and_safetensors_convert_both_ways(run_dir, tmp_path, capsys):
    folder, model = run_dir
    st, back = tmp_path / "m.safetensors", tmp_path / "back.npz"
    assert cli.main(["export", str(folder / "model.npz"), "--out", str(st)]) == 0
    assert set(safetensors_numpy.load_file(st)) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert cli.main(["export", str(st), "--out", str(back)]) == 0
    clone = snn.load(back)
    assert clone.metadata == model.metadata
    X = np.ones((2, 4))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


def test_a_file_that_is_not_safetensors(tmp_path, capsys):
    (tmp_path / "bad.safetensors").write_bytes(b"\x93NUMPY and then some bytes")
    code = cli.main(
        ["export", str(tmp_path / "bad.safetensors"), "--out", str(tmp_path / "m.onnx")]
    )
    assert code == 2
    assert "not a readable safetensors file" in error_line(capsys)


def test_metadata_naming_an_unknown_layer(run_dir, tmp_path, capsys):
    folder, _ = run_dir
    st = tmp_path / "m.safetensors"
    snn.load(folder / "model.npz").save(st)
    meta = (
        '{"format": "scratchnn", "version": 2, "kind": "model", "architecture": '
        '{"class": "Sequential", "config": {"layers": [{"class": "Quux", "config": {}}]}}}'
    )
    safetensors_numpy.save_file(safetensors_numpy.load_file(st), st, metadata={"scratchnn": meta})
    assert cli.main(["export", str(st), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "unknown class 'Quux'" in error_line(capsys)


def test_mismatched_shapes(run_dir, tmp_path, capsys):
    folder, _ = run_dir
    st = tmp_path / "m.safetensors"
    snn.load(folder / "model.npz").save(st)
    from safetensors import safe_open

    with safe_open(str(st), framework="np") as fh:
        header = fh.metadata()
    tensors = {**safetensors_numpy.load_file(st), "2.weight": np.zeros((3, 9), np.float32)}
    safetensors_numpy.save_file(tensors, st, metadata=header)
    assert cli.main(["export", str(st), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "tensor '2.weight' has shape (3, 9)" in error_line(capsys)


def test_a_layer_onnx_cannot_export_is_named(tmp_path, capsys):
    snn.Sequential(L.Dense(3, 3), Cube()).save(tmp_path / "cube.npz")
    code = cli.main(["export", str(tmp_path / "cube.npz"), "--out", str(tmp_path / "m.onnx")])
    assert code == 2
    assert "does not support layer 1, Cube" in error_line(capsys)
    assert not (tmp_path / "m.onnx").exists()


def test_an_unknown_output_suffix_and_a_missing_model(run_dir, tmp_path, capsys):
    folder, _ = run_dir
    assert cli.main(["export", str(folder), "--out", str(tmp_path / "m.bin")]) == 2
    assert "pass --format" in error_line(capsys)
    assert cli.main(["export", str(tmp_path / "nowhere.npz"), "--out", "m.onnx"]) == 2
    assert "file not found" in error_line(capsys)


def test_without_onnx_the_message_names_the_extra(run_dir, tmp_path, capsys, monkeypatch):
    folder, _ = run_dir
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert cli.main(["export", str(folder), "--out", str(tmp_path / "m.onnx")]) == 2
    assert 'pip install "scratchnn[interop]"' in error_line(capsys)
