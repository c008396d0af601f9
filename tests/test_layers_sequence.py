"""Sequence layers: known values, stability, causality, the state API, dtypes and configs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import layers as L
from scratchnn.errors import InputError, NotFittedError, ShapeError

# name: (make layer, make an input for it)
LAYERS = {
    "Embedding": (lambda: L.Embedding(10, 4, rng=0), lambda rng: rng.integers(0, 10, (3, 5))),
    "LayerNorm": (lambda: L.LayerNorm(4), lambda rng: rng.standard_normal((3, 5, 4))),
    "RMSNorm": (lambda: L.RMSNorm(4), lambda rng: rng.standard_normal((3, 5, 4))),
    "GELU": (lambda: L.GELU(), lambda rng: rng.standard_normal((3, 5, 4))),
    "CausalSelfAttention": (
        lambda: L.CausalSelfAttention(4, 2, rng=0),
        lambda rng: rng.standard_normal((3, 5, 4)),
    ),
    "RNN": (lambda: L.RNN(4, 6, rng=0), lambda rng: rng.standard_normal((3, 5, 4))),
    "LSTM": (lambda: L.LSTM(4, 6, rng=0), lambda rng: rng.standard_normal((3, 5, 4))),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_backward_before_forward_is_a_clear_error(name):
    layer = LAYERS[name][0]()
    with pytest.raises(NotFittedError, match=rf"^{name}\.backward was called before forward"):
        layer.backward(np.ones((3, 5, 4), dtype=np.float32))


@pytest.mark.parametrize("name", list(LAYERS))
def test_float32_forward_and_backward_stay_float32(name, rng):
    make, make_input = LAYERS[name]
    layer = make()
    X = make_input(rng)
    X = X if X.dtype.kind == "i" else X.astype(np.float32)
    Y = layer.forward(X)
    assert Y.dtype == np.float32, f"{name}: output is {Y.dtype}"
    dX = layer.backward(np.ones_like(Y))
    assert dX.dtype == np.float32, f"{name}: dX is {dX.dtype}"
    for key, grad in layer.grads.items():
        assert grad.dtype == np.float32, f"{name}: d{key} is {grad.dtype}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_get_config_rebuilds_the_layer(name, rng):
    layer = LAYERS[name][0]()
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config  # plain JSON values
    twin = type(layer)(**config)
    assert twin.get_config() == config
    assert {k: p.shape for k, p in twin.params.items()} == {
        k: p.shape for k, p in layer.params.items()
    }


@pytest.mark.parametrize(
    "layer",
    [
        L.LayerNorm((6,), eps=1e-3, elementwise_affine=False, bias=False),
        L.RMSNorm(6, eps=1e-6, elementwise_affine=False),
        L.CausalSelfAttention(6, 3, bias=False),
        L.RNN(3, 6, nonlinearity="relu", bias=False),
        L.LSTM(3, 6, bias=False),
    ],
    ids=repr,
)
def test_get_config_keeps_every_option(layer):
    twin = type(layer)(**layer.get_config())
    assert twin.get_config() == layer.get_config()
    assert set(twin.params) == set(layer.params)


# -- Embedding --------------------------------------------------------------------------------
def test_embedding_looks_rows_up_and_adds_gradients_of_repeated_ids():
    emb = L.Embedding(4, 2, dtype=np.float64)
    emb.params["W"][:] = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(emb.forward(np.array([3, 0, 3])), [[6, 7], [0, 1], [6, 7]])
    emb.backward(np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]]))
    np.testing.assert_array_equal(emb.grads["W"], [[10, 20], [0, 0], [0, 0], [101, 202]])
    emb.forward(np.array([[1]]))
    emb.backward(np.ones((1, 1, 2)))
    np.testing.assert_array_equal(emb.grads["W"], [[0, 0], [1, 1], [0, 0], [0, 0]])  # set


@pytest.mark.parametrize("vocab, shape", [(4, (3, 5)), (27, (32, 16)), (1000, (2, 3)), (5, (0, 4))])
def test_embedding_gradient_equals_the_plain_add_at_form(vocab, shape):
    """The sorted reduceat of param_grads against its plain form, np.add.at(dW, ids, dY)."""
    rng = np.random.default_rng(0)
    emb = L.Embedding(vocab, 6, dtype=np.float64, rng=0)
    ids = rng.integers(0, min(vocab, 7), shape)  # few distinct ids: many repeats
    dY = rng.standard_normal((*shape, 6))
    emb.forward(ids)
    emb.backward(dY)
    plain = np.zeros((vocab, 6))
    np.add.at(plain, ids.reshape(-1), dY.reshape(-1, 6))
    np.testing.assert_allclose(emb.grads["W"], plain, rtol=1e-13, atol=1e-13)


def test_embedding_starts_like_torch_and_accepts_whole_float_ids():
    W = L.Embedding(1000, 8, rng=0).params["W"]
    assert W.shape == (1000, 8) and abs(W.std() - 1) < 0.05  # N(0, 1)
    emb = L.Embedding(5, 3, rng=0)
    ids = np.array([[0, 4], [2, 2]])
    np.testing.assert_array_equal(emb.forward(ids.astype(np.float32)), emb.forward(ids))


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (np.array([[0, 5]]), r"^Embedding\(5, 3\) got id 5; ids must be in \[0, 5\)$"),
        (np.array([[-1, 0]]), r"got id -1; ids must be in \[0, 5\)"),
        (np.array([[0.5, 1.0]]), "non-integer ids"),
        (np.array([[np.nan, 1.0]]), "non-integer ids"),
        (np.array([["a"]]), "pass integer token ids"),
    ],
)
def test_embedding_rejects_bad_ids_in_one_line(ids, message):
    with pytest.raises(InputError, match=message):
        L.Embedding(5, 3, rng=0).forward(ids)


# -- LayerNorm and RMSNorm --------------------------------------------------------------------
def test_layernorm_normalises_every_position_over_its_features(rng):
    ln = L.LayerNorm(8, dtype=np.float64)
    ln.params["gamma"][:] = 2.0
    ln.params["beta"][:] = -1.0
    X = rng.normal(5.0, 3.0, (4, 6, 8))
    Y = ln.forward(X)
    np.testing.assert_allclose(Y.mean(axis=-1), -1.0, atol=1e-12)
    np.testing.assert_allclose(Y.std(axis=-1), 2.0, rtol=1e-5)
    # one example's output does not depend on the rest of the batch (unlike BatchNorm)
    np.testing.assert_array_equal(ln.forward(X[:1, :2]), Y[:1, :2])


def test_rmsnorm_divides_by_the_rms_and_defaults_eps_to_the_dtypes_epsilon():
    X = np.array([[3.0, 4.0]])
    np.testing.assert_allclose(L.RMSNorm(2).forward(X), X / np.sqrt(12.5 + 2.0**-52))
    Y32 = L.RMSNorm(2).forward(X.astype(np.float32))
    np.testing.assert_allclose(Y32, X / np.sqrt(12.5 + 2.0**-23), rtol=1e-6)
    assert L.RMSNorm(2, eps=0.5).forward(np.zeros((1, 2))).tolist() == [[0.0, 0.0]]


def test_norms_check_sizes_and_shapes():
    with pytest.raises(InputError, match="last axis only"):
        L.LayerNorm((2, 3))
    with pytest.raises(InputError, match="positive"):
        L.RMSNorm(4, eps=0)
    with pytest.raises(ShapeError, match=r"LayerNorm\(4\) got input of shape \(2, 3\); expected"):
        L.LayerNorm(4).forward(np.zeros((2, 3)))


# -- CausalSelfAttention ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_with_huge_logits_has_no_nan_or_inf(dtype, rng):
    attn = L.CausalSelfAttention(4, 2, rng=rng, dtype=dtype)
    for key in ("Wq", "Wk"):
        attn.params[key][:] = 10 * np.eye(4)
    X = (rng.standard_normal((2, 6, 4)) * 30).astype(dtype)
    Q = X @ attn.params["Wq"].T + attn.params["bq"]
    K = X @ attn.params["Wk"].T + attn.params["bk"]
    logits = (Q[..., :2] @ K[..., :2].swapaxes(-1, -2)) / np.sqrt(2)
    assert logits.max() > 1e4 and logits.min() < -1e4  # the case the test is about
    Y = attn.forward(X)
    dX = attn.backward(np.ones_like(Y))
    P = attn.last_attention
    assert np.isfinite(Y).all() and np.isfinite(dX).all() and np.isfinite(P).all()
    assert all(np.isfinite(g).all() for g in attn.grads.values())
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-6)
    assert Y.dtype == dtype


def test_attention_probabilities_are_causal_and_kept_for_plots(rng):
    attn = L.CausalSelfAttention(6, 3, rng=rng, dtype=np.float64)
    attn.forward(rng.standard_normal((2, 5, 6)))
    P = attn.last_attention
    assert P.shape == (2, 3, 5, 5)
    future = np.triu(np.ones((5, 5), dtype=bool), k=1)
    assert (P[..., future] == 0).all()  # exactly zero, not merely small
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(P[..., 0, 0], 1.0)  # the first position sees only itself


CAUSAL = {
    "CausalSelfAttention": lambda rng: L.CausalSelfAttention(6, 2, rng=rng, dtype=np.float64),
    "RNN": lambda rng: L.RNN(6, 4, rng=rng, dtype=np.float64),
    "LSTM": lambda rng: L.LSTM(6, 4, rng=rng, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(CAUSAL))
@pytest.mark.parametrize("t", [0, 3])
def test_the_future_cannot_reach_the_past(name, t, rng):
    """Changing X after t leaves outputs up to t unchanged; dY at t sends nothing after t."""
    layer = CAUSAL[name](rng)
    X = rng.standard_normal((2, 6, 6))
    Y = layer.forward(X)
    changed = X.copy()
    changed[:, t + 1 :] = rng.standard_normal(changed[:, t + 1 :].shape) * 10
    Y_changed = layer.forward(changed)
    np.testing.assert_allclose(Y_changed[:, : t + 1], Y[:, : t + 1], rtol=0, atol=1e-13)
    assert not np.allclose(Y_changed[:, t + 1 :], Y[:, t + 1 :])
    dY = np.zeros_like(Y)
    dY[:, t] = rng.standard_normal(dY[:, t].shape)
    dX = layer.backward(dY)
    assert not dX[:, t + 1 :].any()
    assert np.abs(dX[:, t]).max() > 0


def test_attention_checks_its_sizes():
    with pytest.raises(InputError, match="not a multiple of num_heads"):
        L.CausalSelfAttention(6, 4)
    with pytest.raises(ShapeError, match=r"expected \(N, T, 6\)"):
        L.CausalSelfAttention(6, 2).forward(np.zeros((2, 6)))


# -- RNN and LSTM: shapes, the state API ------------------------------------------------------
def test_recurrent_parameters_are_shaped_like_torch():
    lstm, rnn = L.LSTM(3, 5, rng=0), L.RNN(3, 5, rng=0)
    assert {k: v.shape for k, v in lstm.params.items()} == {
        "W_ih": (20, 3),
        "W_hh": (20, 5),
        "b_ih": (20,),
        "b_hh": (20,),
    }
    assert {k: v.shape for k, v in rnn.params.items()} == {
        "W_ih": (5, 3),
        "W_hh": (5, 5),
        "b_ih": (5,),
        "b_hh": (5,),
    }
    bound = 1 / np.sqrt(5)  # torch's U(±1/√H) for every parameter
    assert all(np.abs(p).max() <= bound for p in lstm.params.values())


@pytest.mark.parametrize("make", [L.RNN, L.LSTM], ids=["RNN", "LSTM"])
def test_a_sequence_fed_in_two_chunks_equals_one_pass(make, rng):
    """forward(state=final_state) continues a sequence; backward(dstate=dh0...) chains BPTT."""
    layer = make(3, 4, rng=rng, dtype=np.float64)
    X = rng.standard_normal((2, 7, 3))
    dY = rng.standard_normal((2, 7, 4))
    Y = layer.forward(X)
    final = layer.final_state
    dX = layer.backward(dY)
    grads = {k: g.copy() for k, g in layer.grads.items()}

    first = make(3, 4, dtype=np.float64)
    second = make(3, 4, dtype=np.float64)
    for chunk in (first, second):
        for key, param in chunk.params.items():
            param[:] = layer.params[key]
    Y1 = first.forward(X[:, :3])
    Y2 = second.forward(X[:, 3:], state=first.final_state)
    np.testing.assert_allclose(np.concatenate([Y1, Y2], axis=1), Y, atol=1e-14)
    for ours, whole in zip(np.atleast_1d(second.final_state), np.atleast_1d(final)):
        np.testing.assert_allclose(ours, whole, atol=1e-14)
    dX2 = second.backward(dY[:, 3:])
    dstate = (second.dh0, second.dc0) if make is L.LSTM else second.dh0
    dX1 = first.backward(dY[:, :3], dstate=dstate)
    np.testing.assert_allclose(np.concatenate([dX1, dX2], axis=1), dX, atol=1e-13)
    for key, grad in grads.items():
        np.testing.assert_allclose(first.grads[key] + second.grads[key], grad, atol=1e-13)


def test_recurrent_final_state_is_the_last_output(rng):
    lstm = L.LSTM(3, 4, rng=rng)
    Y = lstm.forward(rng.standard_normal((2, 5, 3)).astype(np.float32))
    np.testing.assert_array_equal(lstm.h_n, Y[:, -1])
    h_n, c_n = lstm.final_state
    assert h_n is lstm.h_n and c_n is lstm.c_n and c_n.shape == (2, 4)


def test_recurrent_state_errors_are_one_line(rng):
    X = rng.standard_normal((2, 5, 3))
    with pytest.raises(ShapeError, match=r"RNN\(3, 4\) got state h0 of shape \(1, 2, 4\)"):
        L.RNN(3, 4).forward(X, state=np.zeros((1, 2, 4)))
    with pytest.raises(InputError, match=r"LSTM state must be a pair \(h0, c0\)"):
        L.LSTM(3, 4).forward(X, state=np.zeros((2, 4)))
    with pytest.raises(ShapeError, match=r"LSTM\(3, 4\) got input of shape \(2, 5\)"):
        L.LSTM(3, 4).forward(X[..., 0])
    with pytest.raises(InputError, match="nonlinearity must be 'tanh' or 'relu'"):
        L.RNN(3, 4, nonlinearity="sigmoid")


# -- in a model ---------------------------------------------------------------------------------
def _language_model(rng, V=6):
    return snn.Sequential(
        L.Embedding(V, 8, rng=rng),
        L.CausalSelfAttention(8, 2, rng=rng),
        L.LayerNorm(8),
        L.GELU(),
        L.LSTM(8, V, rng=rng),
        L.RMSNorm(V),
    )


def test_sequential_infers_the_shapes_of_a_sequence_model(rng):
    model = _language_model(rng)
    assert model.output_dim == 6
    assert "(N, ?, 6)" in model.summary()
    with pytest.raises(ShapeError, match=r"^layer 1, LSTM\(6, 4\), cannot follow .* \(N, \?, 8\)"):
        snn.Sequential(L.Embedding(5, 8), L.LSTM(6, 4))


def test_fit_trains_a_sequence_model_on_token_targets(rng):
    """Ids in, one label per position out: fit, evaluate, save and load work end to end."""
    ids = rng.integers(0, 6, (64, 8))
    targets = ids.copy()  # copy the current token: learnable by any of the layers
    model = _language_model(rng)
    history = model.fit(ids, targets, optimizer=snn.Adam(lr=0.02), epochs=30, seed=0, verbose=0)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.evaluate(ids, targets).accuracy > 0.9
    assert model.predict(ids).shape == (64, 8, 6)


def test_a_sequence_model_saves_and_loads(rng, tmp_path):
    model = _language_model(rng)
    ids = rng.integers(0, 6, (3, 5))
    model.save(tmp_path / "lm.npz")
    loaded = snn.load(tmp_path / "lm.npz")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))


def test_gelu_in_place_passes_equal_the_textbook_expressions():
    """GELU's forward and backward are written in place; these are the plain formulas."""
    rng = np.random.default_rng(0)
    X, dY = rng.standard_normal((2, 64, 48)) * 3, rng.standard_normal((2, 64, 48))
    k, a = math.sqrt(2 / math.pi), 0.044715
    t = np.tanh(k * (X + a * X**3))
    gelu = L.GELU()
    np.testing.assert_allclose(gelu.forward(X), 0.5 * X * (1 + t), rtol=1e-14, atol=1e-15)
    plain_dX = dY * (0.5 * (1 + t) + 0.5 * X * (1 - t * t) * k * (1 + 3 * a * X * X))
    np.testing.assert_allclose(gelu.backward(dY), plain_dX, rtol=1e-13, atol=1e-14)
