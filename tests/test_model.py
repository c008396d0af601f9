"""Sequential: construction checks, parameters, summary, state."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import InputError, ShapeError
from scratchnn.layers import Dense, Dropout, Flatten, ReLU


def test_shape_mismatch_is_caught_at_construction():
    with pytest.raises(ShapeError, match=r"layer 2, Dense\(8, 1\).*\(N, 16\)"):
        snn.Sequential(Dense(2, 16, rng=0), ReLU(), Dense(8, 1, rng=0))


def test_non_layers_are_rejected():
    with pytest.raises(InputError, match="not a Layer"):
        snn.Sequential(Dense(2, 3, rng=0), "relu")
    with pytest.raises(InputError, match="at least one layer"):
        snn.Sequential()


def test_parameters_are_unique_named_triples():
    model = snn.Sequential(Dense(2, 4, rng=0), ReLU(), Dense(4, 3, bias=False, rng=0))
    names = [n for n, _, _ in model.parameters()]
    assert names == ["0.W", "0.b", "2.W"]
    for _, p, g in model.parameters():
        assert p.shape == g.shape


def test_one_dtype_switch():
    model = snn.Sequential(Dense(2, 4, rng=0), ReLU(), Dense(4, 3, rng=0), dtype=np.float64)
    assert all(p.dtype == np.float64 for _, p, _ in model.parameters())
    model.astype(np.float32)
    assert all(p.dtype == g.dtype == np.float32 for _, p, g in model.parameters())
    assert model.predict(np.zeros((2, 2))).dtype == np.float32


def test_predict_is_batched_and_in_eval_mode(rng):
    model = snn.Sequential(Dense(3, 5, rng=rng), Dropout(0.9, rng=rng), Dense(5, 2, rng=rng))
    X = rng.standard_normal((2500, 3))
    a = model.predict(X, batch_size=100)
    b = model.predict(X, batch_size=4096)
    np.testing.assert_allclose(a, b, rtol=1e-6)  # no dropout noise in evaluation
    assert model.predict_classes(X).shape == (2500,)


def test_predict_rejects_wrong_feature_count():
    model = snn.mlp([4, 3, 2], rng=0)
    with pytest.raises(ShapeError, match="3 features per example but the model expects 4"):
        model.predict(np.zeros((5, 3)))


def test_summary_lists_layers_shapes_and_counts():
    model = snn.Sequential(Flatten(), Dense(784, 64, rng=0), ReLU(), Dense(64, 10, rng=0))
    text = model.summary()
    assert "(N, 64)" in text and "(N, 10)" in text
    assert "50,240" in text and f"{784 * 64 + 64 + 64 * 10 + 10:,}" in text


def test_state_dict_roundtrip_and_mismatch():
    a, b = snn.mlp([3, 4, 2], rng=0), snn.mlp([3, 4, 2], rng=1)
    b.load_state_dict(a.state_dict())
    for (_, pa, _), (_, pb, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa, pb)
    state = a.state_dict()
    state["0.W"] = np.zeros((5, 3))
    with pytest.raises(ShapeError, match=r"0\.W"):
        b.load_state_dict(state)
    with pytest.raises(ShapeError, match="missing"):
        b.load_state_dict({"0.W": a[0].params["W"]})


def test_config_roundtrip_rebuilds_the_architecture():
    model = snn.mlp([3, 8, 2], activation="tanh", dropout=0.1, rng=0)
    clone = snn.Sequential.from_config(model.get_config())
    assert [type(layer) for layer in clone] == [type(layer) for layer in model]
    clone.load_state_dict(model.state_dict())
    X = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


def test_backward_without_input_grad_skips_dX(rng):
    model = snn.mlp([3, 4, 2], rng=0, dtype=np.float64)
    X = rng.standard_normal((5, 3))
    model.forward(X)
    assert model.backward(np.ones((5, 2)), input_grad=False) is None
    grads = {n: g.copy() for n, _, g in model.parameters()}
    model.forward(X)
    assert model.backward(np.ones((5, 2))).shape == (5, 3)
    for n, _, g in model.parameters():
        np.testing.assert_array_equal(g, grads[n])
