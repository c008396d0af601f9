"""PyTorch parity of the sequence layers and loss (float64, same weights -> same numbers within 1e-10).

Skipped without PyTorch (``pip install torch==2.13.0``); required in CI.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchnn import layers as L
from scratchnn import losses

pytestmark = pytest.mark.torch
ATOL = 1e-10


def _t(torch, a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=grad)


def assert_close(ours, theirs, what, atol=ATOL):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol, err_msg=what)


def copy_params(torch, layer, twin, names):
    """Copy our parameters into ``twin``; ``names`` maps our key to the torch attribute."""
    with torch.no_grad():
        for ours, theirs in names.items():
            getattr(twin, theirs).copy_(_t(torch, layer.params[ours]))


def assert_param_grads(layer, twin, names, what):
    for ours, theirs in names.items():
        assert_close(layer.grads[ours], getattr(twin, theirs).grad, f"{what}: d{ours}")


# -- Embedding ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 7), (9,)])
def test_embedding_matches_torch(shape, torch, rng):
    layer = L.Embedding(11, 4, rng=rng, dtype=np.float64)
    ids = rng.integers(0, 11, shape)
    ids.reshape(-1)[:4] = 3  # a repeated id: its gradient rows must add up
    twin = torch.nn.Embedding(11, 4)
    copy_params(torch, layer, twin, {"W": "weight"})
    Y = layer.forward(ids)
    dY = rng.standard_normal(Y.shape)
    layer.backward(dY)
    tY = twin(torch.as_tensor(ids))
    tY.backward(_t(torch, dY))
    assert_close(Y, tY, f"Embedding {shape}: output")
    assert_close(layer.grads["W"], twin.weight.grad, f"Embedding {shape}: dW")


# -- LayerNorm, RMSNorm, GELU -----------------------------------------------------------------
NORMS = {
    "LayerNorm": (lambda: L.LayerNorm(6), lambda nn: nn.LayerNorm(6), (3, 4, 6)),
    "LayerNorm-2d": (lambda: L.LayerNorm(6), lambda nn: nn.LayerNorm(6), (5, 6)),
    "LayerNorm-eps-no-bias": (
        lambda: L.LayerNorm(6, eps=1e-3, bias=False),
        lambda nn: nn.LayerNorm(6, eps=1e-3, bias=False),
        (3, 4, 6),
    ),
    "LayerNorm-no-affine": (
        lambda: L.LayerNorm(6, elementwise_affine=False),
        lambda nn: nn.LayerNorm(6, elementwise_affine=False),
        (2, 3, 2, 6),
    ),
    "RMSNorm": (lambda: L.RMSNorm(6), lambda nn: nn.RMSNorm(6), (3, 4, 6)),
    "RMSNorm-eps": (lambda: L.RMSNorm(6, eps=1e-6), lambda nn: nn.RMSNorm(6, eps=1e-6), (5, 6)),
    "RMSNorm-no-affine": (
        lambda: L.RMSNorm(6, elementwise_affine=False),
        lambda nn: nn.RMSNorm(6, elementwise_affine=False),
        (3, 4, 6),
    ),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_norm_matches_torch(name, torch, rng):
    make, make_twin, shape = NORMS[name]
    layer, twin = make().astype(np.float64), make_twin(torch.nn)
    names = {k: {"gamma": "weight", "beta": "bias"}[k] for k in layer.params}
    for param in layer.params.values():  # not the trivial ones and zeros
        param[:] = rng.uniform(0.5, 1.5, param.shape)
    copy_params(torch, layer, twin, names)
    X = rng.standard_normal(shape) * 3 + 1
    Y = layer.forward(X)
    dY = rng.standard_normal(Y.shape)
    dX = layer.backward(dY)
    tX = _t(torch, X, grad=True)
    tY = twin(tX)
    tY.backward(_t(torch, dY))
    assert_close(Y, tY, f"{name}: output")
    assert_close(dX, tX.grad, f"{name}: dX")
    assert_param_grads(layer, twin, names, name)


def test_gelu_matches_torch_tanh_form(torch, rng):
    X = rng.standard_normal((4, 3, 5)) * 3
    X[0, 0, :4] = [-30.0, -6.0, 6.0, 30.0]  # saturated tails
    layer = L.GELU()
    Y = layer.forward(X)
    dY = rng.standard_normal(Y.shape)
    dX = layer.backward(dY)
    tX = _t(torch, X, grad=True)
    tY = torch.nn.functional.gelu(tX, approximate="tanh")
    tY.backward(_t(torch, dY))
    assert_close(Y, tY, "GELU: output")
    assert_close(dX, tX.grad, "GELU: dX")


# -- CausalSelfAttention ----------------------------------------------------------------------
def torch_attention(torch, X, P, heads, bias, sdpa):
    """The same computation in torch ops with autograd; ``P`` holds the parameter tensors."""
    N, T, C = X.shape
    d = C // heads

    def project(Z, p):
        return Z @ P[f"W{p}"].T + (P[f"b{p}"] if bias else 0)

    def split(Z):
        return Z.reshape(N, T, heads, d).transpose(1, 2)

    Q, K, V = (split(project(X, p)) for p in "qkv")
    if sdpa:
        A = torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=True)
        probs = None
    else:
        S = Q @ K.transpose(-2, -1) / math.sqrt(d)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        probs = torch.softmax(S.masked_fill(future, float("-inf")), dim=-1)
        A = probs @ V
    return project(A.transpose(1, 2).reshape(N, T, C), "o"), probs


@pytest.mark.parametrize("sdpa", [False, True], ids=["explicit", "sdpa"])
@pytest.mark.parametrize(("heads", "bias"), [(1, True), (2, True), (4, True), (4, False)])
def test_attention_matches_torch(heads, bias, sdpa, torch, rng):
    name = f"CausalSelfAttention({heads} heads, bias={bias}, {'sdpa' if sdpa else 'explicit'})"
    layer = L.CausalSelfAttention(8, heads, bias=bias, rng=rng, dtype=np.float64)
    X = rng.standard_normal((3, 6, 8)) * 2
    Y = layer.forward(X)
    dY = rng.standard_normal(Y.shape)
    dX = layer.backward(dY)
    tX = _t(torch, X, grad=True)
    P = {k: _t(torch, v, grad=True) for k, v in layer.params.items()}
    tY, probs = torch_attention(torch, tX, P, heads, bias, sdpa)
    tY.backward(_t(torch, dY))
    assert_close(Y, tY, f"{name}: output")
    assert_close(dX, tX.grad, f"{name}: dX")
    for key, param in P.items():
        assert_close(layer.grads[key], param.grad, f"{name}: d{key}")
    if probs is not None:
        assert_close(layer.last_attention, probs, f"{name}: last_attention")


# -- RNN and LSTM -----------------------------------------------------------------------------
RECURRENT_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0"}
BIAS_NAMES = {"b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}


def recurrent_twin(torch, layer):
    kwargs = {"bias": layer.bias, "batch_first": True}
    if isinstance(layer, L.LSTM):
        twin = torch.nn.LSTM(layer.input_size, layer.hidden_size, **kwargs)
    else:
        twin = torch.nn.RNN(
            layer.input_size, layer.hidden_size, nonlinearity=layer.nonlinearity, **kwargs
        )
    names = {**RECURRENT_NAMES, **(BIAS_NAMES if layer.bias else {})}
    copy_params(torch, layer, twin, names)
    return twin, names


RECURRENT = {
    "RNN-tanh": lambda rng: L.RNN(4, 5, rng=rng),
    "RNN-relu": lambda rng: L.RNN(4, 5, nonlinearity="relu", rng=rng),
    "RNN-tanh-no-bias": lambda rng: L.RNN(4, 5, bias=False, rng=rng),
    "LSTM": lambda rng: L.LSTM(4, 5, rng=rng),
    "LSTM-no-bias": lambda rng: L.LSTM(4, 5, bias=False, rng=rng),
}


@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_matches_torch(name, with_state, torch, rng):
    """Outputs, final state, dX, every parameter gradient and, with a state, dh0 (dc0).

    With an initial state, a gradient also reaches the final state (``dstate``), as when
    the next chunk of a long sequence starts from it.
    """
    layer = RECURRENT[name](rng).astype(np.float64)
    what = f"{name} ({'initial state' if with_state else 'zero state'})"
    is_lstm = isinstance(layer, L.LSTM)
    N, T, H = 3, 7, layer.hidden_size
    X = rng.standard_normal((N, T, layer.input_size)) * 1.5
    states = [rng.standard_normal((N, H)) for _ in range(2 if is_lstm else 1)]
    dfinal = [rng.standard_normal((N, H)) for _ in states]

    def as_state(arrays):
        return tuple(arrays) if is_lstm else arrays[0]

    Y = layer.forward(X, state=as_state(states) if with_state else None)
    dY = rng.standard_normal(Y.shape)
    dX = layer.backward(dY, dstate=as_state(dfinal) if with_state else None)

    twin, names = recurrent_twin(torch, layer)
    tX = _t(torch, X, grad=True)
    tstates = [_t(torch, s[None], grad=True) for s in states]  # torch's (layers, N, H)
    if with_state:
        tY, tfinal = twin(tX, as_state(tstates))
    else:
        tY, tfinal = twin(tX)
    tfinal = list(tfinal) if is_lstm else [tfinal]
    objective = (tY * _t(torch, dY)).sum()
    if with_state:
        objective = objective + sum((f[0] * _t(torch, g)).sum() for f, g in zip(tfinal, dfinal))
    objective.backward()

    assert_close(Y, tY, f"{what}: output")
    assert_close(layer.h_n, tfinal[0][0], f"{what}: h_n")
    if is_lstm:
        assert_close(layer.c_n, tfinal[1][0], f"{what}: c_n")
    assert_close(dX, tX.grad, f"{what}: dX")
    assert_param_grads(layer, twin, names, what)
    if with_state:
        assert_close(layer.dh0, tstates[0].grad[0], f"{what}: dh0")
        if is_lstm:
            assert_close(layer.dc0, tstates[1].grad[0], f"{what}: dc0")


# -- the sequence loss ------------------------------------------------------------------------
@pytest.mark.parametrize("targets", ["labels", "probabilities"])
def test_sequence_cross_entropy_matches_torch(targets, torch, rng):
    Z = rng.standard_normal((3, 5, 7)) * 4
    if targets == "labels":
        T = rng.integers(0, 7, (3, 5))
        tT = torch.as_tensor(T)
    else:
        T = rng.dirichlet(np.ones(7), (3, 5))
        tT = _t(torch, T).permute(0, 2, 1)
    value, dZ = losses.SoftmaxCrossEntropy()(Z.copy(), T)
    tZ = _t(torch, Z, grad=True)
    # torch's sequence layout puts the classes second: (N, V, T)
    tvalue = torch.nn.functional.cross_entropy(tZ.permute(0, 2, 1), tT)
    tvalue.backward()
    assert_close(value, tvalue, f"SoftmaxCrossEntropy (N, T, V) {targets}: value")
    assert_close(dZ, tZ.grad, f"SoftmaxCrossEntropy (N, T, V) {targets}: gradient")
