"""ONNX export: checked by onnx.checker, run by ONNX Runtime, equal to ``model.predict``.

The graphs are float32, and so are the models here. ONNX Runtime's kernels (MLAS) add the
terms of each dot product and convolution in another order than NumPy's BLAS does, and a
float32 sum of K terms changes by a few units in the last place (eps = 1.2e-7) of its
magnitude when the order changes, growing like √K. So the outputs must agree to
``TOLERANCE`` = 1e-5 of the outputs' scale (max(1, max |y|)): about 80 ulps, ten to twenty
times what was measured (at most 6e-7 of the scale over these models), and far below what
a wrong operator, gate order, ε or padding gives (1e-3 and more).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import interop
from scratchnn import layers as L
from scratchnn.errors import InputError, ScratchnnError
from scratchnn.models import VAE, cnn, mlp
from scratchnn.models.cnn import as_images

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
TOLERANCE = 1e-5
T = 7  # sequence length


def assert_float32_close(ours, theirs, what=""):
    scale = max(1.0, float(np.abs(ours).max()))
    gap = float(np.abs(ours - theirs).max())
    assert theirs.dtype == np.float32 and theirs.shape == ours.shape, what
    assert gap <= TOLERANCE * scale, f"{what}: max |difference| {gap:.2e} at scale {scale:.3g}"


def sessions(model, tmp_path, name="model", opset=interop.OPSET):
    paths = interop.to_onnx(model, tmp_path / f"{name}.onnx", opset=opset)
    for path in paths:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    return [ort.InferenceSession(path, providers=["CPUExecutionProvider"]) for path in paths]


def run(session, X):
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: X})


def sequence_model(rng):
    return snn.Sequential(
        L.Embedding(30, 16, rng=rng),
        L.LayerNorm(16),
        L.CausalSelfAttention(16, 4, rng=rng),
        L.GELU(),
        L.RMSNorm(16),
        L.RNN(16, 12, rng=rng),
        L.RNN(12, 8, nonlinearity="relu", bias=False, rng=rng),
        L.LSTM(8, 10, rng=rng),
        L.LayerNorm(10, elementwise_affine=False),
        L.Flatten(),
        L.Dense(T * 10, 5, rng=rng),
    )


# -- real MNIST ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist(mnist_dir):
    """Trained MLP, CNN (with BatchNorm) and VAE, and 1000 real MNIST test images."""
    (X_train, y_train), (X_test, _) = snn.datasets.load_mnist(mnist_dir)
    flat = (X_train[:2000].reshape(-1, 784) / 255).astype(np.float32)
    classifier = mlp([784, 64, 10], rng=0)
    classifier.fit(flat, y_train[:2000], epochs=2, seed=0, verbose=0)
    network = cnn(channels=(8, 16), hidden=32, batchnorm=True, rng=0)
    network.fit(as_images(X_train[:1000]), y_train[:1000], epochs=1, seed=0, verbose=0)
    vae = VAE(784, hidden=(64,), latent_dim=8, rng=0)
    vae.fit(flat, epochs=2, seed=0, verbose=0)
    return classifier, network, vae, X_test[:1000]


def test_mlp_on_real_mnist_test_images(mnist, tmp_path):
    model, _, _, images = mnist
    X = (images.reshape(-1, 784) / 255).astype(np.float32)
    (session,) = sessions(model, tmp_path)
    assert_float32_close(model.predict(X), run(session, X)[0], "MLP on MNIST")
    assert (run(session, X)[0].argmax(1) == model.predict_classes(X)).mean() > 0.99


def test_cnn_with_batchnorm_on_real_mnist_test_images(mnist, tmp_path):
    _, model, _, images = mnist
    X = as_images(images)
    (session,) = sessions(model, tmp_path)
    assert_float32_close(model.predict(X), run(session, X)[0], "CNN on MNIST")


def test_vae_encoder_and_decoder_on_real_mnist_test_images(mnist, tmp_path):
    _, _, vae, images = mnist
    X = (images.reshape(-1, 784) / 255).astype(np.float32)
    encoder, decoder = sessions(vae, tmp_path, "vae")
    assert [o.name for o in encoder.get_outputs()] == ["mu", "logvar"]
    assert [i.name for i in decoder.get_inputs()] == ["z"]
    assert [o.name for o in decoder.get_outputs()] == ["x_logits"]
    mu, logvar = vae.encode(X)
    onnx_mu, onnx_logvar = run(encoder, X)
    assert_float32_close(mu, onnx_mu, "VAE mu")
    assert_float32_close(logvar, onnx_logvar, "VAE logvar")
    assert_float32_close(vae.decode(mu, logits=True), run(decoder, mu)[0], "VAE decoder")


# -- random inputs ---------------------------------------------------------------------------
def test_mlp_cnn_and_vae_on_random_inputs_with_any_batch_size(tmp_path, rng):
    model = mlp([20, 16, 8, 3], activation="leaky_relu", dropout=0.2, rng=0)
    network = cnn((1, 12, 12), channels=(4,), kernel_size=3, hidden=8, batchnorm=True, rng=0)
    network.fit(rng.random((32, 1, 12, 12)), rng.integers(0, 10, 32), epochs=1, verbose=0)
    for net, shape in [(model, (20,)), (network, (1, 12, 12))]:
        (session,) = sessions(net, tmp_path)
        for n in (1, 37):  # the batch dimension is dynamic
            X = rng.standard_normal((n, *shape)).astype(np.float32)
            assert_float32_close(net.predict(X), run(session, X)[0], f"{type(net)} N={n}")
    vae = VAE(12, hidden=(9, 5), latent_dim=3, likelihood="gaussian", activation="tanh", rng=0)
    encoder, decoder = sessions(vae, tmp_path, "vae")
    assert [o.name for o in decoder.get_outputs()] == ["x_mean"]  # a Gaussian decoder's mean
    X = rng.random((6, 12)).astype(np.float32)
    for ours, theirs in zip(vae.encode(X), run(encoder, X)):
        assert_float32_close(ours, theirs, "Gaussian VAE encoder")
    Z = rng.standard_normal((4, 3)).astype(np.float32)
    assert_float32_close(vae.decode(Z), run(decoder, Z)[0], "Gaussian VAE decoder")


def test_every_image_layer_with_strides_and_padding(tmp_path, rng):
    model = snn.Sequential(
        L.Conv2D(3, 6, 3, stride=2, padding=1, rng=rng),
        L.LeakyReLU(0.2),
        L.AvgPool2D(2, 1),
        L.Conv2D(6, 4, (3, 2), padding=(1, 0), bias=False, rng=rng),
        L.BatchNorm2D(4),
        L.Sigmoid(),
        L.MaxPool2D((2, 3), (1, 2)),
        L.GlobalAvgPool2D(),
        L.Dropout(0.5),
        L.Dense(4, 3, rng=rng),
        L.BatchNorm1D(3),
        L.Tanh(),
        L.Dense(3, 3, bias=False, rng=rng),
        L.Identity(),
        L.Softmax(),
    )
    model.fit(rng.standard_normal((16, 3, 17, 15)), rng.integers(0, 3, 16), epochs=1, verbose=0)
    (session,) = sessions(model, tmp_path)
    X = rng.standard_normal((9, 3, 17, 15)).astype(np.float32)
    assert_float32_close(model.predict(X), run(session, X)[0], "image layers")


@pytest.mark.parametrize("opset", [17, 20, 23])
def test_sequence_layers_at_every_opset(tmp_path, rng, opset):
    """GELU and RMSNorm from primitives below opsets 20 and 23, their operators from there."""
    model = sequence_model(rng)
    for layer in model:
        for key in ("gamma", "beta"):
            if key in layer.params:
                layer.params[key][:] = rng.uniform(0.5, 1.5, layer.params[key].shape)
    (session,) = sessions(model, tmp_path, opset=opset)
    (spec,) = session.get_inputs()
    assert spec.name == "input" and spec.type == "tensor(int64)" and spec.shape == ["N", "T"]
    ids = rng.integers(0, 30, (11, T))
    assert_float32_close(model.predict(ids), run(session, ids)[0], f"sequence, opset {opset}")
    ops = {node.op_type for node in onnx.load(tmp_path / "model.onnx").graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("RMSNormalization" in ops) == (opset >= 23)
    assert {"Gather", "LayerNormalization", "RNN", "LSTM"} <= ops


def test_a_float64_model_is_exported_in_float32(tmp_path, rng):
    model = mlp([5, 4, 2], rng=0, dtype=np.float64)
    (session,) = sessions(model, tmp_path)
    X = rng.standard_normal((3, 5))
    assert_float32_close(model.predict(X), run(session, X.astype(np.float32))[0], "float64")


# -- the file ------------------------------------------------------------------------------
def test_names_shapes_and_metadata_of_the_graph(tmp_path):
    model = cnn(rng=0)
    model.metadata = {"preprocess": {"layout": "image"}, "classes": list(range(10))}
    (path,) = interop.to_onnx(model, tmp_path / "cnn.onnx")
    proto = onnx.load(path)
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert [(v.name, dims(v)) for v in proto.graph.input] == [("input", ["N", 1, 28, 28])]
    assert [(v.name, dims(v)) for v in proto.graph.output] == [("logits", ["N", 10])]
    assert proto.opset_import[0].version == interop.OPSET
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["scratchnn"])
    assert meta["architecture"]["class"] == "Sequential" and meta["metadata"] == model.metadata
    assert "0.W" in {init.name for init in proto.graph.initializer}  # state_dict names


def test_an_unsupported_layer_is_one_line_naming_it(tmp_path):
    class Square(L.Module):
        def forward(self, X, training=True):
            return X * X

    with pytest.raises(InputError, match=r"does not support layer 1, Square; it supports") as info:
        interop.to_onnx(snn.Sequential(L.Dense(2, 2), Square()), tmp_path / "m.onnx")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(InputError, match="Embedding only as the first layer"):
        interop.to_onnx(snn.Sequential(L.Dense(2, 2), L.Embedding(3, 2)), tmp_path / "m.onnx")
    with pytest.raises(InputError, match="opset must be an integer of at least 17"):
        interop.to_onnx(mlp([2, 2]), tmp_path / "m.onnx", opset=13)


def test_without_onnx_the_message_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ScratchnnError, match=r'pip install "scratchnn\[interop\]"'):
        interop.to_onnx(mlp([2, 2], rng=0), tmp_path / "m.onnx")
