"""Finite-difference checks of every layer, every loss and a whole model (float64, < 1e-7)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import gradcheck
from scratchnn.layers import (
    GELU,
    LSTM,
    RNN,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    CausalSelfAttention,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool2D,
    Identity,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    RMSNorm,
    Sigmoid,
    Softmax,
    Tanh,
)
from scratchnn.losses import MSE, BCEWithLogits, CrossEntropy, GaussianKL, SoftmaxCrossEntropy
from scratchnn.model import Sequential

TOL = 1e-7
#: The step for whole-model checks. A model's loss ``L`` is one mean over the batch, and its
#: gradient with respect to the input and the first layers is small next to ``|L|``, so at
#: gradcheck's default h = 1e-6 the centred difference is dominated by the forward pass's
#: rounding, ``u |L| / h`` per entry: the relative errors of ``dX`` were 5.8e-8 to 8.2e-8,
#: and the BLAS kernel moved them by 12 % (MSE: 7.3e-8 with OpenBLAS's SkylakeX kernels,
#: 8.2e-8 with Haswell), within 1.2x of TOL. At h = 1e-5, near ``u^(1/3)`` where rounding
#: and truncation (``h² |L'''|``) balance, the worst errors are 4.6e-9 to 1.0e-8 with both
#: kernels: TOL is 10x above them, and a wrong backward (errors of order 1) still fails.
MODEL_H = 1e-5


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Inputs at least 0.1 from the ReLU kink at 0 (so ±h never crosses it)."""
    X = rng.standard_normal(shape)
    return np.where(X >= 0, X + 0.1, X - 0.1)


def without_ties(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Distinct values 0.01 apart in random order: no two pixels of a pooling window tie."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


def with_running_statistics(layer, rng: np.random.Generator):
    """A BatchNorm whose running statistics are not the trivial 0 and 1 (for eval mode)."""
    layer.buffers["running_mean"][:] = rng.standard_normal(layer.num_features)
    layer.buffers["running_var"][:] = rng.uniform(0.5, 2.0, layer.num_features)
    return layer


def with_random_affine(layer, rng: np.random.Generator):
    """A LayerNorm/RMSNorm whose γ (and β) are not the trivial 1 (and 0), so dX sees them."""
    for key, param in layer.params.items():
        param[:] = (
            rng.uniform(0.5, 1.5, param.shape) if key == "gamma" else rng.normal(size=param.shape)
        )
    return layer


# name: (make layer, input shape[, make input, training])
LAYERS = {
    "Dense": (lambda rng: Dense(5, 4, rng=rng), (6, 5)),
    "Dense-no-bias": (lambda rng: Dense(5, 4, bias=False, init="he_normal", rng=rng), (6, 5)),
    "Dense-batch-of-one": (lambda rng: Dense(3, 2, rng=rng), (1, 3)),
    "ReLU": (lambda rng: ReLU(), (6, 5)),
    "LeakyReLU": (lambda rng: LeakyReLU(0.1), (6, 5)),
    "Sigmoid": (lambda rng: Sigmoid(), (6, 5)),
    "Tanh": (lambda rng: Tanh(), (6, 5)),
    "Softmax": (lambda rng: Softmax(), (6, 5)),
    "Identity": (lambda rng: Identity(), (6, 5)),
    "Dropout": (lambda rng: Dropout(0.3, rng=rng), (6, 5)),
    "Flatten": (lambda rng: Flatten(), (4, 2, 3, 3)),
    "Conv2D": (lambda rng: Conv2D(3, 4, 3, rng=rng), (2, 3, 6, 5)),
    "Conv2D-stride-padding-odd": (
        lambda rng: Conv2D(2, 3, 3, stride=2, padding=1, rng=rng),
        (2, 2, 7, 9),
    ),
    "Conv2D-rectangular-kernel-stride-padding": (
        lambda rng: Conv2D(3, 2, (2, 4), stride=(1, 3), padding=(2, 1), rng=rng),
        (3, 3, 5, 8),
    ),
    "Conv2D-1x1-no-bias": (lambda rng: Conv2D(4, 3, 1, bias=False, rng=rng), (2, 4, 3, 3)),
    "Conv2D-batch-of-one": (lambda rng: Conv2D(1, 2, 5, padding=2, rng=rng), (1, 1, 5, 5)),
    "MaxPool2D": (lambda rng: MaxPool2D(2), (2, 3, 6, 6), without_ties),
    "MaxPool2D-overlapping-odd": (lambda rng: MaxPool2D(3, stride=2), (2, 3, 7, 9), without_ties),
    "MaxPool2D-rectangular": (lambda rng: MaxPool2D((2, 3), (1, 2)), (2, 2, 5, 7), without_ties),
    "AvgPool2D": (lambda rng: AvgPool2D(2), (2, 3, 5, 6)),
    "AvgPool2D-overlapping-odd": (lambda rng: AvgPool2D(3, stride=2), (2, 3, 7, 9)),
    "GlobalAvgPool2D": (lambda rng: GlobalAvgPool2D(), (3, 4, 5, 3)),
    "BatchNorm1D": (lambda rng: BatchNorm1D(5), (8, 5)),
    "BatchNorm1D-eval": (
        lambda rng: with_running_statistics(BatchNorm1D(5), rng),
        (8, 5),
        away_from_zero,
        False,
    ),
    "BatchNorm2D": (lambda rng: BatchNorm2D(3), (4, 3, 5, 4)),
    "BatchNorm2D-batch-of-one": (lambda rng: BatchNorm2D(2), (1, 2, 3, 3)),
    "BatchNorm2D-eval": (
        lambda rng: with_running_statistics(BatchNorm2D(3), rng),
        (4, 3, 5, 4),
        away_from_zero,
        False,
    ),
    # sequence layers: inputs (N, T, C) unless said otherwise
    "GELU": (lambda rng: GELU(), (2, 3, 5)),
    "LayerNorm": (lambda rng: with_random_affine(LayerNorm(5), rng), (6, 5)),
    "LayerNorm-sequence": (lambda rng: with_random_affine(LayerNorm(5), rng), (2, 4, 5)),
    "LayerNorm-no-bias": (lambda rng: with_random_affine(LayerNorm(5, bias=False), rng), (2, 3, 5)),
    "LayerNorm-no-affine": (lambda rng: LayerNorm(4, elementwise_affine=False), (2, 3, 4)),
    "RMSNorm": (lambda rng: with_random_affine(RMSNorm(5), rng), (2, 4, 5)),
    "RMSNorm-eps-no-affine": (lambda rng: RMSNorm(5, eps=1e-3, elementwise_affine=False), (6, 5)),
    # with bias=False: the key bias's gradient is exactly zero, see the test of its own below
    "CausalSelfAttention-1-head": (
        lambda rng: CausalSelfAttention(6, 1, bias=False, rng=rng),
        (2, 4, 6),
    ),
    "CausalSelfAttention-4-heads": (
        lambda rng: CausalSelfAttention(8, 4, bias=False, rng=rng),
        (3, 4, 8),
    ),
    "RNN-tanh": (lambda rng: RNN(3, 4, rng=rng), (2, 5, 3)),
    "RNN-relu": (lambda rng: RNN(3, 4, nonlinearity="relu", rng=rng), (2, 5, 3)),
    "RNN-no-bias": (lambda rng: RNN(3, 4, bias=False, rng=rng), (3, 4, 3)),
    "LSTM": (lambda rng: LSTM(3, 4, rng=rng), (2, 5, 3)),
    "LSTM-no-bias": (lambda rng: LSTM(2, 3, bias=False, rng=rng), (3, 4, 2)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_gradients(name, rng):
    make, shape, make_input, training = (*LAYERS[name], away_from_zero, True)[:4]
    layer = make(rng)
    X = make_input(rng, shape)
    report = gradcheck.check_layer(layer, X, rng=rng, tol=TOL, training=training)
    assert report.passed, f"{name}: gradient check failed\n{report}"
    assert set(report.errors) >= {"dX"}


def test_embedding_weight_gradient(rng):
    """Ids are integers, not differentiable: only dW is checked (repeated ids must add up)."""
    layer = Embedding(6, 3, rng=rng, dtype=np.float64)
    ids = np.array([[0, 2, 2, 5], [2, 1, 0, 0]])
    G = rng.standard_normal((2, 4, 3))
    layer.forward(ids)
    dX = layer.backward(G)
    assert dX.shape == ids.shape and not dX.any()
    report = gradcheck.check_gradients(
        lambda: float(np.sum(layer.forward(ids) * G)),
        {"dW": layer.params["W"]},
        {"dW": layer.grads["W"].copy()},
        tol=TOL,
    )
    assert report.passed, f"Embedding: gradient check failed\n{report}"


@pytest.mark.parametrize("heads", [1, 3])
def test_attention_gradients_with_biases(heads, rng):
    """``bq, bv, bo`` checked like any parameter; ``dbk`` is zero in exact arithmetic.

    A key bias adds ``q_i · bk`` to every score of row ``i``, a shift the softmax ignores,
    so both estimates of ``dbk`` are rounding noise and their relative error means nothing:
    it is checked to vanish instead (the softmax VJP's rows sum to zero).
    """
    layer = CausalSelfAttention(3 * heads, heads, rng=rng)
    X = rng.standard_normal((2, 5, 3 * heads))
    report = gradcheck.check_layer(layer, X, rng=rng, tol=TOL)
    checked = {k: v for k, v in report.errors.items() if k != "dbk"}
    assert max(checked.values()) < TOL, f"CausalSelfAttention({heads} heads):\n{report}"
    assert {"dX", "dWk", "dbq", "dbv", "dbo"} <= set(checked)
    layer = layer.astype(np.float64)
    layer.forward(X)
    layer.backward(rng.standard_normal(X.shape))
    assert np.abs(layer.grads["bk"]).max() < 1e-12 * np.abs(layer.grads["bq"]).max()


RECURRENT = {
    "RNN-tanh": lambda rng: RNN(3, 4, rng=rng),
    "RNN-relu": lambda rng: RNN(3, 4, nonlinearity="relu", rng=rng),
    "LSTM": lambda rng: LSTM(3, 4, rng=rng),
}


@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_gradients_through_initial_and_final_state(name, rng):
    """A chunk of truncated BPTT: gradient flows in through h_n (c_n) and out to h0 (c0)."""
    layer = RECURRENT[name](rng).astype(np.float64)
    is_lstm = isinstance(layer, LSTM)
    X = rng.standard_normal((2, 5, 3))
    state = [rng.standard_normal((2, 4)) for _ in range(2 if is_lstm else 1)]
    G = rng.standard_normal((2, 5, 4))
    G_final = [rng.standard_normal((2, 4)) for _ in state]

    def as_state(arrays):  # the form forward(state=) and backward(dstate=) take
        return tuple(arrays) if is_lstm else arrays[0]

    def f() -> float:
        Y = layer.forward(X, state=as_state(state))
        finals = [layer.h_n, layer.c_n] if is_lstm else [layer.h_n]
        return float(np.sum(Y * G) + sum(np.sum(s * g) for s, g in zip(finals, G_final)))

    layer.forward(X, state=as_state(state))
    analytic = {"dX": layer.backward(G, dstate=as_state(G_final)), "dh0": layer.dh0.copy()}
    inputs = {"dX": X, "dh0": state[0]}
    if is_lstm:
        analytic["dc0"], inputs["dc0"] = layer.dc0.copy(), state[1]
    analytic.update({f"d{k}": g.copy() for k, g in layer.grads.items()})
    inputs.update({f"d{k}": p for k, p in layer.params.items()})
    report = gradcheck.check_gradients(f, inputs, analytic, tol=TOL)
    assert report.passed, f"{name} with initial and final state: gradient check failed\n{report}"
    assert {"dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"} <= set(report.errors)


def test_layer_gradients_in_float32_layer_are_checked_in_float64(rng):
    layer = Dense(4, 3, rng=rng)  # float32 parameters
    report = gradcheck.check_layer(layer, rng.standard_normal((5, 4)), rng=rng)
    assert report.passed, str(report)
    assert layer.params["W"].dtype == np.float32  # the original is untouched


def _labels(rng, n, c):
    return rng.integers(0, c, n)


LOSSES = {
    "SoftmaxCrossEntropy-labels": (
        SoftmaxCrossEntropy(),
        lambda rng: (rng.standard_normal((7, 4)), _labels(rng, 7, 4)),
    ),
    "SoftmaxCrossEntropy-soft-targets": (
        SoftmaxCrossEntropy(),
        lambda rng: (rng.standard_normal((7, 4)), rng.dirichlet(np.ones(4), 7)),
    ),
    "BCEWithLogits-binary": (
        BCEWithLogits(),
        lambda rng: (rng.standard_normal((7, 1)), _labels(rng, 7, 2).reshape(-1, 1).astype(float)),
    ),
    "BCEWithLogits-multilabel-batchmean": (
        BCEWithLogits("batchmean"),
        lambda rng: (rng.standard_normal((7, 3)), rng.uniform(size=(7, 3))),
    ),
    "MSE": (MSE(), lambda rng: (rng.standard_normal((7, 3)), rng.standard_normal((7, 3)))),
    "MSE-sum": (MSE("sum"), lambda rng: (rng.standard_normal((7, 2)), rng.standard_normal((7, 2)))),
    "CrossEntropy-on-probabilities": (
        CrossEntropy(),
        lambda rng: (rng.dirichlet(np.ones(4), 7), _labels(rng, 7, 4)),
    ),
    "SoftmaxCrossEntropy-sequence-labels": (
        SoftmaxCrossEntropy(),
        lambda rng: (rng.standard_normal((3, 4, 5)), _labels(rng, (3, 4), 5)),
    ),
    "SoftmaxCrossEntropy-sequence-soft-targets": (
        SoftmaxCrossEntropy(),
        lambda rng: (rng.standard_normal((3, 4, 5)), rng.dirichlet(np.ones(5), (3, 4))),
    ),
    "CrossEntropy-sequence-probabilities": (
        CrossEntropy(),
        lambda rng: (rng.dirichlet(np.ones(5), (3, 4)), _labels(rng, (3, 4), 5)),
    ),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradients(name, rng):
    loss, make = LOSSES[name]
    Y, T = make(rng)
    report = gradcheck.check_loss(loss, Y, T, tol=TOL)
    assert report.passed, f"{name}: gradient check failed\n{report}"


def test_gaussian_kl_gradients(rng):
    mu, logvar = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    kl = GaussianKL()
    _, (dmu, dlogvar) = kl(mu, logvar)
    report = gradcheck.check_gradients(
        lambda: kl(mu, logvar)[0],
        {"dmu": mu, "dlogvar": logvar},
        {"dmu": dmu, "dlogvar": dlogvar},
        tol=TOL,
    )
    assert report.passed, str(report)


@pytest.mark.parametrize("loss_name", ["ce", "bce", "mse"])
def test_whole_model_gradients(loss_name, rng):
    outputs = {"ce": 3, "bce": 1, "mse": 2}[loss_name]
    model = Sequential(
        Dense(4, 8, rng=rng),
        Tanh(),
        Dense(8, 6, rng=rng),
        LeakyReLU(0.2),
        Dropout(0.25, rng=rng),
        Dense(6, 5, rng=rng),
        Sigmoid(),
        Dense(5, outputs, rng=rng),
        dtype=np.float64,
    )
    X = rng.standard_normal((9, 4))
    loss, y = {
        "ce": (SoftmaxCrossEntropy(), _labels(rng, 9, 3)),
        "bce": (BCEWithLogits(), _labels(rng, 9, 2).astype(float).reshape(-1, 1)),
        "mse": (MSE(), rng.standard_normal((9, 2))),
    }[loss_name]
    report = gradcheck.check_model(model, X, y, loss, h=MODEL_H, tol=TOL)
    assert report.passed, f"model with {loss_name}:\n{report}"
    assert {"0.W", "0.b", "2.W", "5.W", "7.b", "dX"} <= set(report.errors)


def test_whole_cnn_gradients(rng):
    """Every new layer in one model, checked end to end through the loss (float64)."""
    model = Sequential(
        Conv2D(2, 4, 3, padding=1, bias=False, input_size=(9, 8), rng=rng),  # BN shifts
        BatchNorm2D(4),
        Tanh(),  # smooth, so no ReLU kink can be crossed by ±h
        MaxPool2D(2),
        Conv2D(4, 5, 3, stride=2, padding=1, rng=rng),
        Tanh(),
        AvgPool2D(2, stride=1),
        Conv2D(5, 6, 1, rng=rng),
        Tanh(),
        GlobalAvgPool2D(),
        Dense(6, 7, bias=False, rng=rng),
        BatchNorm1D(7),
        Tanh(),
        Dense(7, 3, rng=rng),
        dtype=np.float64,
    )
    X = rng.standard_normal((4, 2, 9, 8))
    labels = _labels(rng, 4, 3)
    report = gradcheck.check_model(model, X, labels, SoftmaxCrossEntropy(), h=MODEL_H, tol=TOL)
    assert report.passed, f"CNN:\n{report}"
    assert {"0.W", "1.gamma", "1.beta", "4.W", "4.b", "7.b", "11.gamma", "dX"} <= set(report.errors)


def test_whole_sequence_model_gradients(rng):
    """Every sequence layer in one model, through the token-mean cross-entropy (float64).

    The input is token ids, so every parameter is checked but not dX; both backward modes
    (returning the zero dX, or skipping it as fit does) must set the same gradients. The
    step is h = 1e-5: at 1e-6 the rounding of f/h dominates for the smallest gradients here
    (‖dWq‖ ≈ 1e-2) and their error sits near 2e-7, falling tenfold at 1e-5 as rounding does.
    """
    V = 7
    model = Sequential(
        Embedding(V, 6, rng=rng),
        LSTM(6, 8, rng=rng),
        LayerNorm(8),
        CausalSelfAttention(8, 2, bias=False, rng=rng),  # no key bias: its gradient is 0
        GELU(),
        RNN(8, V, rng=rng),
        RMSNorm(V),
        dtype=np.float64,
    )
    ids, targets = _labels(rng, (3, 5), V), _labels(rng, (3, 5), V)
    loss = SoftmaxCrossEntropy()

    def f() -> float:
        return loss(model.forward(ids), targets)[0]

    _, dY = loss(model.forward(ids), targets)
    assert model.backward(dY, input_grad=False) is None
    skipped = {name: g.copy() for name, _, g in model.parameters()}
    dX = model.backward(dY)
    assert dX.shape == ids.shape and not dX.any()
    analytic = {name: g.copy() for name, _, g in model.parameters()}
    for name, g in analytic.items():
        np.testing.assert_array_equal(g, skipped[name], err_msg=name)
    inputs = {name: p for name, p, _ in model.parameters()}
    report = gradcheck.check_gradients(f, inputs, analytic, h=1e-5, tol=TOL)
    assert report.passed, f"sequence model:\n{report}"
    assert {"0.W", "1.W_hh", "2.gamma", "3.Wq", "3.Wo", "5.W_ih", "6.gamma"} <= set(report.errors)


def test_gradcheck_detects_a_wrong_backward(rng):
    class WrongTanh(Tanh):
        def backward(self, dY):
            return dY * (1 - self._Y)  # forgot the square

    report = gradcheck.check_layer(WrongTanh(), rng.standard_normal((4, 3)), rng=rng)
    assert not report.passed
    assert report.failures() == {"dX": report.errors["dX"]}
    assert "NO" in str(report)


def test_numerical_gradient_restores_its_input():
    x = np.array([1.0, -2.0, 3.0])
    before = x.copy()
    gradcheck.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_array_equal(x, before)
