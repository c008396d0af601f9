"""A residual network written by a user from the public API: the module tree at work.

The block is what a learner writes after reading ``scratchnn.layers.base``: two Dense
layers and a skip connection, ``Y = X + W₂ tanh(W₁ X + b₁) + b₂``, whose backward adds the
two gradient paths, ``dX = dY + (∂F/∂X)ᵀ dY``. It is checked by finite differences,
against a PyTorch twin, and through save, load and an exact resume.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import gradcheck
from scratchnn.errors import TrainingInterrupted
from test_checkpoint import SignalAt, assert_same_run


class ResidualBlock(snn.Module):
    """``Y = X + fc2(tanh(fc1(X)))``: two Dense layers and a skip connection."""

    def __init__(self, width: int, rng=None) -> None:
        super().__init__()
        self.width = width
        self.fc1 = self.add("fc1", snn.Dense(width, width, rng=rng))
        self.act = self.add("act", snn.Tanh())
        self.fc2 = self.add("fc2", snn.Dense(width, width, rng=rng))

    def forward(self, X, training=True):
        return X + self.fc2.forward(self.act.forward(self.fc1.forward(X)))

    def backward(self, dY):
        # the skip path carries dY unchanged; the other goes back through fc2, tanh, fc1
        return dY + self.fc1.backward(self.act.backward(self.fc2.backward(dY)))

    def get_config(self):
        return {"width": self.width}


def residual_net(rng=0, dtype=np.float32):
    rng = np.random.default_rng(rng)
    return snn.Sequential(
        snn.Dense(2, 8, rng=rng), ResidualBlock(8, rng=rng), snn.Dense(8, 3, rng=rng), dtype=dtype
    )


def test_the_tree_names_every_parameter_where_it_lives():
    names = [name for name, _, _ in residual_net().parameters()]
    assert names == ["0.W", "0.b", "1.fc1.W", "1.fc1.b", "1.fc2.W", "1.fc2.b", "2.W", "2.b"]
    assert residual_net().num_parameters == 2 * 8 + 8 + 2 * (8 * 8 + 8) + 8 * 3 + 3


def test_the_block_and_the_network_pass_finite_differences(rng):
    block = ResidualBlock(5, rng=rng)
    report = gradcheck.check_layer(block, rng.standard_normal((6, 5)), rng=rng)
    assert report.passed, str(report)
    assert set(report.errors) == {"dX", "dfc1.W", "dfc1.b", "dfc2.W", "dfc2.b"}
    X = rng.standard_normal((7, 2))
    y = rng.integers(0, 3, 7)
    report = gradcheck.check_model(residual_net(), X, y, snn.SoftmaxCrossEntropy())
    assert report.passed, str(report)


@pytest.mark.torch
def test_the_network_matches_its_torch_twin(torch, rng):
    """float64, same weights: outputs, dX and every parameter gradient within 1e-10."""
    nn = torch.nn
    model = residual_net(dtype=np.float64)

    def linear(layer):
        twin = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.params["W"]))
            twin.bias.copy_(torch.from_numpy(layer.params["b"]))
        return twin

    class TorchBlock(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.fc1, self.fc2 = linear(block.fc1), linear(block.fc2)

        def forward(self, x):
            return x + self.fc2(torch.tanh(self.fc1(x)))

    twin = nn.Sequential(linear(model[0]), TorchBlock(model[1]), linear(model[2]))
    X = rng.standard_normal((9, 2))
    y = rng.integers(0, 3, 9)
    value, dY = snn.SoftmaxCrossEntropy()(model.forward(X), y)
    dX = model.backward(dY)
    tX = torch.tensor(X, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(twin(tX), torch.as_tensor(y))
    tloss.backward()
    assert value == pytest.approx(tloss.item(), abs=1e-12)
    np.testing.assert_allclose(dX, tX.grad.numpy(), rtol=0, atol=1e-10, err_msg="dX")
    torch_grads = {name: p.grad.numpy() for name, p in twin.named_parameters()}
    key = {"W": "weight", "b": "bias"}
    for name, _, grad in model.parameters():
        *path, param = name.split(".")
        np.testing.assert_allclose(
            grad, torch_grads[".".join([*path, key[param]])], rtol=0, atol=1e-10, err_msg=name
        )


def test_save_and_load_rebuild_the_user_block(tmp_path, rng):
    model = residual_net()
    model.fit(*snn.datasets.spirals(90, seed=0), epochs=2, seed=0, verbose=0)
    model.save(tmp_path / "residual.npz")
    clone = snn.load(tmp_path / "residual.npz")
    assert isinstance(clone[1], ResidualBlock)
    X = rng.standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


def fit_settings():
    return dict(optimizer=snn.Adam(lr=0.01), batch_size=16, seed=4, verbose=0)


def test_an_interrupted_run_resumes_bit_identically(tmp_path):
    X, y = snn.datasets.spirals(120, seed=1)
    straight = residual_net()
    straight_history = straight.fit(X, y, epochs=4, **fit_settings())
    with pytest.raises(TrainingInterrupted):  # stopped mid-epoch (8 batches an epoch)
        residual_net().fit(
            X,
            y,
            epochs=4,
            checkpoint=tmp_path,
            callbacks=[SignalAt(13, signal.SIGINT)],
            **fit_settings(),
        )
    model, history = snn.resume(tmp_path, X, y, verbose=0)
    assert_same_run(straight, straight_history, model, history)
