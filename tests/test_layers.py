"""Layer behaviour beyond gradients: shapes, modes, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import initializers
from scratchnn.errors import InputError, NotFittedError, ShapeError
from scratchnn.layers import (
    Dense,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)

# Identity keeps nothing, so its backward needs no forward.
WITH_CACHE = [
    lambda: Dense(3, 2, rng=0),
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    Softmax,
    lambda: Dropout(0.5, rng=0),
    Flatten,
]


@pytest.mark.parametrize("make", WITH_CACHE)
def test_backward_before_forward_is_a_clear_error(make):
    layer = make()
    with pytest.raises(NotFittedError, match="before forward"):
        layer.backward(np.ones((2, 2)))


@pytest.mark.parametrize("make", [ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Identity])
def test_activations_keep_float32(make):
    X = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    layer = make()
    assert layer.forward(X).dtype == np.float32
    assert layer.backward(np.ones_like(X)).dtype == np.float32


def test_dense_shapes_and_pytorch_layout():
    layer = Dense(4, 3, rng=0)
    assert layer.params["W"].shape == (3, 4)
    assert layer.params["W"].dtype == np.float32
    X = np.ones((5, 4), dtype=np.float32)
    Y = layer.forward(X)
    np.testing.assert_allclose(Y, X @ layer.params["W"].T + layer.params["b"], rtol=1e-6)
    with pytest.raises(ShapeError, match=r"expected \(N, 4\)"):
        layer.forward(np.ones((5, 3), dtype=np.float32))


def test_dense_rejects_bad_sizes():
    with pytest.raises(InputError, match="in_features"):
        Dense(0, 3)
    with pytest.raises(InputError, match="out_features"):
        Dense(3, 2.5)


def test_dense_gradients_are_set_not_accumulated(rng):
    layer = Dense(3, 2, rng=rng, dtype=np.float64)
    X, dY = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    for _ in range(3):
        layer.forward(X)
        layer.backward(dY)
    np.testing.assert_allclose(layer.grads["W"], dY.T @ X)


def test_dense_is_reproducible_from_a_seed():
    a, b = Dense(5, 4, rng=42), Dense(5, 4, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        for dtype in (np.float32, np.float64):
            Y = Sigmoid().forward(np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=dtype))
            assert np.isfinite(Y).all()
            assert Y[0, 0] == 0 and Y[0, 2] == 0.5 and Y[0, -1] == 1


def test_softmax_rows_sum_to_one_and_never_build_a_jacobian(rng):
    X = rng.standard_normal((1000, 50)) * 30
    layer = Softmax()
    Y = layer.forward(X)
    np.testing.assert_allclose(Y.sum(axis=1), 1.0)
    dX = layer.backward(rng.standard_normal(X.shape))
    assert dX.shape == X.shape  # O(N·C) work; an (N, C, C) Jacobian would be 2.5e6 entries


def test_dropout_train_and_eval(rng):
    layer = Dropout(0.25, rng=rng)
    X = np.ones((2000, 50))
    Y = layer.forward(X, training=True)
    assert abs((Y == 0).mean() - 0.25) < 0.01
    assert Y.mean() == pytest.approx(1.0, abs=0.02)  # inverted: expectation preserved
    np.testing.assert_array_equal(layer.backward(np.ones_like(X)), Y)  # same mask
    np.testing.assert_array_equal(layer.forward(X, training=False), X)
    np.testing.assert_array_equal(layer.backward(np.ones_like(X)), np.ones_like(X))
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        Dropout(1.0)


def test_dropout_keeps_float32(rng):
    Y = Dropout(0.5, rng=rng).forward(np.ones((4, 4), dtype=np.float32))
    assert Y.dtype == np.float32


def test_flatten_roundtrip(rng):
    X = rng.standard_normal((3, 2, 4, 5))
    layer = Flatten()
    assert layer.forward(X).shape == (3, 40)
    assert layer.backward(np.ones((3, 40))).shape == X.shape


def test_leaky_relu_slope():
    layer = LeakyReLU(0.2)
    np.testing.assert_allclose(layer.forward(np.array([[-5.0, 5.0]])), [[-1.0, 5.0]])
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 1.0]])), [[0.2, 1.0]])


@pytest.mark.parametrize(
    "name,expected_std",
    [
        ("he_normal", np.sqrt(2 / 400)),
        ("glorot_normal", np.sqrt(2 / 500)),
        ("he_uniform", np.sqrt(2 / 400)),
        ("glorot_uniform", np.sqrt(2 / 500)),
        ("torch", np.sqrt(1 / (3 * 400))),
    ],
)
def test_initializer_scales(name, expected_std):
    W = initializers.get(name)((100, 400), np.random.default_rng(0), dtype=np.float64)
    assert W.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(W.mean()) < 0.01


def test_initializer_defaults_and_errors():
    assert initializers.default_for("relu") == "he_normal"
    assert initializers.default_for("sigmoid") == "glorot_uniform"
    assert initializers.get("kaiming_uniform") is initializers.he_uniform
    with pytest.raises(InputError, match="unknown initialiser"):
        initializers.get("orthogonal")
    assert not Dense(3, 2, init="he_normal", rng=0).params["b"].any()
