"""PyTorch through safetensors: our files load into torch models, torch's into ours.

float64 on both sides, so the same weights give the same outputs to ~1e-10 (rounding only).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import interop
from scratchnn import layers as L
from scratchnn.errors import InputError, ModelFileError, ScratchnnError
from scratchnn.models import VAE, cnn, mlp

pytestmark = pytest.mark.torch
safetensors_torch = pytest.importorskip("safetensors.torch")
ATOL = 1e-10
T = 6  # sequence length of the sequence model


def out(tensor):
    return tensor.detach().numpy()


def trained_cnn(rng):
    """A small CNN with BatchNorm after two training steps: running statistics and counts."""
    model = cnn((1, 12, 12), channels=(4,), kernel_size=3, hidden=8, batchnorm=True, rng=0)
    model.astype(np.float64)
    X = rng.random((32, 1, 12, 12))
    model.fit(X, rng.integers(0, 10, 32), epochs=1, batch_size=16, seed=0, verbose=0)
    return model, X


def sequence_model(rng, dtype=np.float64):
    """Every sequence layer with a torch counterpart, in one Sequential over token ids."""
    return snn.Sequential(
        L.Embedding(11, 8, rng=rng),
        L.LayerNorm(8),
        L.CausalSelfAttention(8, 2, rng=rng),
        L.GELU(),
        L.RMSNorm(8, eps=1e-6),
        L.RNN(8, 6, rng=rng),
        L.RNN(6, 5, nonlinearity="relu", bias=False, rng=rng),
        L.LSTM(5, 4, rng=rng),
        L.Flatten(),
        L.Dense(T * 4, 3, rng=rng),
        dtype=dtype,
    )


def perturb_norms(model, rng):
    """Give every γ and β non-trivial values (they start at ones and zeros)."""
    for layer in model:
        for key in ("gamma", "beta"):
            if key in layer.params:
                layer.params[key][:] = rng.uniform(0.5, 1.5, layer.params[key].shape)


# -- scratchnn -> safetensors -> torch ------------------------------------------------------
def test_an_mlp_file_loads_into_the_torch_model_written_by_hand(torch, tmp_path, rng):
    model = mlp([5, 7, 3], activation="tanh", rng=0, dtype=np.float64)
    model.save(tmp_path / "mlp.safetensors")
    nn = torch.nn
    net = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    net.load_state_dict(safetensors_torch.load_file(tmp_path / "mlp.safetensors"), strict=True)
    X = rng.standard_normal((4, 5))
    np.testing.assert_allclose(out(net(torch.from_numpy(X))), model.predict(X), atol=ATOL)


def test_a_cnn_with_batchnorm_file_loads_into_torch_with_its_running_statistics(
    torch, tmp_path, rng
):
    model, X = trained_cnn(rng)
    model.save(tmp_path / "cnn.safetensors")
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 5 * 5, 8, bias=False),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Linear(8, 10),
    ).double()
    state = safetensors_torch.load_file(tmp_path / "cnn.safetensors")
    assert state["1.num_batches_tracked"].dtype == torch.int64
    assert int(state["1.num_batches_tracked"]) == 2  # two training batches
    net.load_state_dict(state, strict=True)
    net.eval()
    np.testing.assert_allclose(out(net(torch.from_numpy(X))), model.predict(X), atol=ATOL)


def test_a_vae_file_loads_into_its_torch_twin(torch, tmp_path, rng):
    vae = VAE(12, hidden=(9,), latent_dim=3, rng=0, dtype=np.float64)
    vae.save(tmp_path / "vae.safetensors")
    twin = interop.to_torch(VAE(12, hidden=(9,), latent_dim=3, rng=1, dtype=np.float64))
    twin.load_state_dict(safetensors_torch.load_file(tmp_path / "vae.safetensors"), strict=True)
    X = rng.random((5, 12))
    mu, logvar = vae.encode(X)
    tmu, tlogvar = twin.encode(torch.from_numpy(X))
    np.testing.assert_allclose(out(tmu), mu, atol=ATOL)
    np.testing.assert_allclose(out(tlogvar), logvar, atol=ATOL)
    np.testing.assert_allclose(
        out(twin.decode(torch.from_numpy(mu))), vae.decode(mu, logits=True), atol=ATOL
    )
    eps = rng.standard_normal(mu.shape)
    ours = vae.forward(X, training=False, eps=eps)
    theirs = twin(torch.from_numpy(X), torch.from_numpy(eps))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(out(b), a, atol=ATOL)


def test_a_sequence_model_file_loads_into_its_torch_twin(torch, tmp_path, rng):
    model = sequence_model(rng)
    perturb_norms(model, rng)
    model.save(tmp_path / "seq.safetensors")
    twin = interop.to_torch(sequence_model(np.random.default_rng(1)))  # other weights
    twin.load_state_dict(safetensors_torch.load_file(tmp_path / "seq.safetensors"), strict=True)
    ids = rng.integers(0, 11, (7, T))
    np.testing.assert_allclose(out(twin(torch.from_numpy(ids))), model.predict(ids), atol=ATOL)


def test_the_file_reloads_as_the_same_scratchnn_model_with_its_metadata(tmp_path, rng):
    model, X = trained_cnn(rng)
    model.metadata = {"dataset": "toy", "classes": ["a", "b"]}
    model.save(tmp_path / "cnn.safetensors")
    clone = snn.load(tmp_path / "cnn.safetensors")
    assert clone.metadata == model.metadata and clone.dtype == np.float64
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))
    assert int(clone[1].buffers["num_batches_tracked"]) == 2


# -- torch -> safetensors -> scratchnn ------------------------------------------------------
def train_torch(torch, net, X, y, steps=3):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.train()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        optimizer.step()
    return net.eval()


def test_torch_trained_cnn_weights_load_into_scratchnn(torch, tmp_path, rng):
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, stride=2),
        nn.BatchNorm2d(4),
        nn.LeakyReLU(0.1),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(4 * 3 * 3, 6),
        nn.BatchNorm1d(6),
        nn.Sigmoid(),
        nn.Linear(6, 3),
    ).double()
    X = torch.from_numpy(rng.random((16, 1, 12, 12)))
    train_torch(torch, net, X, torch.from_numpy(rng.integers(0, 3, 16)))
    safetensors_torch.save_file(net.state_dict(), tmp_path / "torch.safetensors")

    model = snn.Sequential(
        L.Conv2D(1, 4, 3, padding=1, stride=2),
        L.BatchNorm2D(4),
        L.LeakyReLU(0.1),
        L.AvgPool2D(2),
        L.Flatten(),
        L.Dropout(0.3),
        L.Dense(4 * 3 * 3, 6),
        L.BatchNorm1D(6),
        L.Sigmoid(),
        L.Dense(6, 3),
        dtype=np.float64,
    )
    assert snn.load_weights(model, tmp_path / "torch.safetensors") is model
    np.testing.assert_allclose(model.predict(X.numpy()), out(net(X)), atol=ATOL)
    assert int(model[1].buffers["num_batches_tracked"]) == 3
    converted = interop.from_torch(net)
    assert [type(layer) for layer in converted] == [type(layer) for layer in model]
    np.testing.assert_allclose(converted.predict(X.numpy()), out(net(X)), atol=ATOL)


def test_torch_sequence_weights_load_into_scratchnn(torch, rng):
    twin = interop.to_torch(sequence_model(rng))
    ids = torch.from_numpy(rng.integers(0, 11, (7, T)))
    optimizer = torch.optim.Adam(twin.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        twin(ids).pow(2).mean().backward()
        optimizer.step()
    converted = interop.from_torch(twin)
    assert converted.dtype == np.float64
    np.testing.assert_allclose(converted.predict(ids.numpy()), out(twin(ids)), atol=ATOL)


def test_a_torch_file_without_metadata_needs_a_model_to_load_into(torch, tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    safetensors_torch.save_file(net.state_dict(), tmp_path / "torch.safetensors")
    with pytest.raises(ModelFileError, match=r"no scratchnn architecture.*load_weights"):
        snn.load(tmp_path / "torch.safetensors")


# -- to_torch and from_torch --------------------------------------------------------------
def test_to_torch_and_from_torch_round_trip_every_layer_and_the_vae(torch, rng):
    model, X = trained_cnn(rng)
    for original, inputs in [(model, X), (sequence_model(rng), rng.integers(0, 11, (3, T)))]:
        net = interop.to_torch(original).eval()
        np.testing.assert_allclose(
            out(net(torch.from_numpy(inputs))), original.predict(inputs), atol=ATOL
        )
        back = interop.from_torch(net)
        np.testing.assert_array_equal(back.predict(inputs), original.predict(inputs))
    vae = VAE(12, hidden=(9,), latent_dim=3, likelihood="gaussian", rng=0, dtype=np.float64)
    back = interop.from_torch(interop.to_torch(vae))
    assert isinstance(back, VAE) and back.get_config() == vae.get_config()
    Xv = rng.random((3, 12))
    np.testing.assert_array_equal(back.predict(Xv), vae.predict(Xv))


def test_the_twins_pickle_whole(torch, tmp_path, rng):
    """Our own torch modules are found by name, so torch.save of a whole twin works."""
    model = sequence_model(rng)
    net = interop.to_torch(model)
    torch.save(net, tmp_path / "net.pt")
    again = torch.load(tmp_path / "net.pt", weights_only=False)
    assert type(again[2]).__qualname__ == "TorchCausalSelfAttention"
    ids = torch.from_numpy(rng.integers(0, 11, (2, T)))
    np.testing.assert_array_equal(out(again(ids)), out(net(ids)))
    vae = interop.to_torch(VAE(4, hidden=(3,), latent_dim=2, rng=0))
    torch.save(vae, tmp_path / "vae.pt")
    assert torch.load(tmp_path / "vae.pt", weights_only=False).config == vae.config


def test_global_average_pooling_and_softmax_round_trip(torch, rng):
    model = snn.Sequential(
        L.Conv2D(2, 3, 3, rng=0), L.GlobalAvgPool2D(), L.Softmax(), dtype=np.float64
    )
    X = rng.random((2, 2, 5, 5))
    net = interop.to_torch(model)
    np.testing.assert_allclose(out(net(torch.from_numpy(X))), model.predict(X), atol=ATOL)
    np.testing.assert_array_equal(interop.from_torch(net).predict(X), model.predict(X))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda nn: nn.GELU(), "approximate='tanh'"),
        (lambda nn: nn.LSTM(3, 4), "batch_first"),
        (lambda nn: nn.Conv2d(1, 2, 3, dilation=2), "dilation"),
        (lambda nn: nn.Softmax(dim=0), "dim=-1"),
        (lambda nn: nn.Embedding(5, 2, padding_idx=0), "padding_idx"),
        (lambda nn: nn.Bilinear(2, 2, 2), "Bilinear, has no scratchnn counterpart"),
    ],
)
def test_from_torch_names_what_it_cannot_represent(torch, make, match):
    with pytest.raises(InputError, match=match) as info:
        interop.from_torch(torch.nn.Sequential(torch.nn.Identity(), make(torch.nn)))
    assert "module 1" in str(info.value) and "\n" not in str(info.value)


def test_compare_keeps_its_names_and_refuses_dropout(torch):
    from scratchnn import compare

    assert compare.TORCH_LAYERS is interop.TORCH_LAYERS
    assert compare.import_torch is interop.import_torch
    with pytest.raises(InputError, match="dropout"):
        compare.to_torch(mlp([2, 4, 2], dropout=0.5, rng=0), torch)
    assert isinstance(interop.to_torch(mlp([2, 4, 2], dropout=0.5, rng=0))[2], torch.nn.Dropout)


# -- bad files: one line, naming the problem ------------------------------------------------
@pytest.fixture
def mlp_file(tmp_path):
    path = tmp_path / "mlp.safetensors"
    mlp([4, 8, 3], rng=0).save(path)
    return path


def rewrite(path, tensors=None, meta=None):
    """Write ``path`` again with other tensors or another ``"scratchnn"`` metadata string."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(path), framework="np") as fh:
        header = fh.metadata()
    header = dict(header) if meta is None else {"scratchnn": meta}
    save_file(load_file(path) if tensors is None else tensors, path, metadata=header)


def one_line(error):
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "header too small"),
        (b"PK\x03\x04 an npz archive, say", "not a readable safetensors file"),
        ("truncate", "not a readable safetensors file"),
    ],
)
def test_a_file_that_is_not_safetensors_is_one_line(mlp_file, content, match):
    if content == "truncate":
        content = mlp_file.read_bytes()[:-7]
    mlp_file.write_bytes(content)
    with pytest.raises(ModelFileError, match=match) as info:
        snn.load(mlp_file)
    assert str(mlp_file) in one_line(info)


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ("{not json", "not JSON"),
        ('{"format": "other"}', "not a scratchnn file"),
        (
            '{"format": "scratchnn", "version": 2, "kind": "model", '
            '"architecture": {"class": "Sequential", "config": {"layers": [{"class": "Dence"}]}}}',
            "unknown class 'Dence'",
        ),
        ('{"format": "scratchnn", "version": 99}', "newer than this scratchnn reads"),
    ],
)
def test_bad_metadata_is_one_line(mlp_file, meta, match):
    rewrite(mlp_file, meta=meta)
    with pytest.raises(ModelFileError, match=match) as info:
        snn.load(mlp_file)
    one_line(info)


def test_missing_extra_and_misshapen_tensors_are_named(mlp_file):
    from safetensors.numpy import load_file

    good = load_file(mlp_file)
    cases = [
        ({k: v for k, v in good.items() if k != "2.bias"}, "no tensor '2.bias'"),
        ({**good, "3.weight": np.ones((2, 2), np.float32)}, "unexpected tensor '3.weight'"),
        ({**good, "0.weight": np.ones((8, 5), np.float32)}, r"'0.weight' has shape \(8, 5\)"),
    ]
    for tensors, match in cases:
        rewrite(mlp_file, tensors=tensors)
        for load in (snn.load, lambda p: snn.load_weights(mlp([4, 8, 3]), p)):
            with pytest.raises(ModelFileError, match=match) as info:
                load(mlp_file)
            one_line(info)


def test_load_weights_reads_npz_model_files_too(tmp_path, rng):
    model = mlp([4, 8, 3], rng=0)
    model.save(tmp_path / "m.npz")
    other = snn.load_weights(mlp([4, 8, 3], rng=1), tmp_path / "m.npz")
    X = rng.random((2, 4))
    np.testing.assert_array_equal(other.predict(X), model.predict(X))
    with pytest.raises(ModelFileError, match=r"'0.W' has shape \(8, 4\)"):
        snn.load_weights(mlp([4, 9, 3]), tmp_path / "m.npz")


def test_without_safetensors_the_message_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # makes `import safetensors` fail
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for action in (
        lambda: mlp([2, 2], rng=0).save(tmp_path / "m.safetensors"),
        lambda: snn.load(tmp_path / "m.safetensors"),
    ):
        with pytest.raises(ScratchnnError, match=r'pip install "scratchnn\[interop\]"'):
            action()
    assert not (tmp_path / "m.safetensors").exists()


def test_without_torch_the_message_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ScratchnnError, match=r'pip install "scratchnn\[torch\]"'):
        interop.to_torch(mlp([2, 2], rng=0))
