"""Conv2D: the vectorised layer equals the plain-loop reference; shapes, config, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import InputError, NotFittedError, ShapeError
from scratchnn.layers import Conv2D, MaxPool2D
from scratchnn.layers.conv import conv2d_loop, conv2d_loop_backward, conv_output_size

CASES = [
    # in, out, kernel, stride, padding, (H, W)
    (1, 2, 3, 1, 0, (5, 5)),
    (3, 4, 3, 1, 1, (7, 6)),
    (2, 3, 5, 2, 2, (11, 9)),
    (3, 2, (2, 4), (1, 3), (2, 1), (5, 8)),
    (4, 3, 1, 1, 0, (3, 4)),
    (2, 2, 3, 3, 0, (8, 10)),  # stride > 1 leaves rows no window reaches
]


@pytest.mark.parametrize("layout", ["channels-first", "channels-last"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_vectorised_equals_loop_reference(case, layout, rng):
    """Both memory orders of X (images; another Conv2D's output) take their own im2col path."""
    C, F, k, s, p, (H, W) = case
    conv = Conv2D(C, F, k, stride=s, padding=p, rng=rng, dtype=np.float64)
    X = rng.standard_normal((3, C, H, W))
    if layout == "channels-last":
        X = np.ascontiguousarray(X.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    Y = conv.forward(X)
    np.testing.assert_allclose(
        Y, conv2d_loop(X, conv.params["W"], conv.params["b"], s, p), atol=1e-12
    )
    dY = rng.standard_normal(Y.shape)
    dX = conv.backward(dY)
    dX_ref, dW_ref, db_ref = conv2d_loop_backward(dY, X, conv.params["W"], s, p)
    np.testing.assert_allclose(dX, dX_ref, atol=1e-12, err_msg="dX")
    np.testing.assert_allclose(conv.grads["W"], dW_ref, atol=1e-12, err_msg="dW")
    np.testing.assert_allclose(conv.grads["b"], db_ref, atol=1e-12, err_msg="db")


def test_loop_reference_by_hand():
    """A 3×3 image, a 2×2 kernel of ones: each output is the sum of a 2×2 block."""
    X = np.arange(9.0).reshape(1, 1, 3, 3)
    Y = conv2d_loop(X, np.ones((1, 1, 2, 2)), np.array([0.5]))
    np.testing.assert_array_equal(Y[0, 0], [[8.5, 12.5], [20.5, 24.5]])
    dX, dW, db = conv2d_loop_backward(np.ones((1, 1, 2, 2)), X, np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dX[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])  # windows per pixel
    np.testing.assert_array_equal(dW[0, 0], [[8, 12], [20, 24]])
    np.testing.assert_array_equal(db, [4.0])


def test_param_grads_equal_backward_and_gradients_are_set_not_accumulated(rng):
    conv = Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64)
    X = rng.standard_normal((4, 2, 6, 6))
    dY = rng.standard_normal((4, 3, 6, 6))
    conv.forward(X)
    conv.backward(dY)
    expected = {k: g.copy() for k, g in conv.grads.items()}
    for _ in range(2):
        conv.forward(X)
        conv.param_grads(dY)
    for key in expected:
        np.testing.assert_array_equal(conv.grads[key], expected[key])


def test_output_is_nchw_shaped_channels_last_view_and_keeps_float32(rng):
    conv = Conv2D(3, 8, 3, rng=rng)
    X = rng.standard_normal((2, 3, 10, 10)).astype(np.float32)
    Y = conv.forward(X)
    assert Y.shape == (2, 8, 8, 8) and Y.dtype == np.float32
    assert Y.transpose(0, 2, 3, 1).flags.c_contiguous  # (N, OH, OW, F) in memory
    dX = conv.backward(np.ones_like(Y))
    assert dX.shape == X.shape and dX.dtype == np.float32
    assert conv.grads["W"].dtype == np.float32


def test_torch_default_initialisation_bounds():
    conv = Conv2D(6, 16, 5, rng=0)
    bound = 1 / np.sqrt(6 * 5 * 5)
    for key in ("W", "b"):
        assert np.abs(conv.params[key]).max() <= bound
        assert np.abs(conv.params[key]).max() > 0.9 * bound
    assert not Conv2D(6, 16, 5, init="he_normal", rng=0).params["b"].any()


def test_shapes_are_inferred_and_checked_at_construction():
    model = snn.Sequential(
        Conv2D(1, 4, 5, input_size=28, rng=0),
        MaxPool2D(2),
        Conv2D(4, 6, 3, stride=2, padding=1, rng=0),
        snn.Flatten(),
        snn.Dense(6 * 6 * 6, 10, rng=0),
    )
    assert model._shapes == [
        (None, 4, 24, 24),
        (None, 4, 12, 12),
        (None, 6, 6, 6),
        (None, 216),
        (None, 10),
    ]
    assert "(N, 6, 6, 6)" in model.summary()
    undeclared = snn.Sequential(Conv2D(1, 4, 3, rng=0), MaxPool2D(2), snn.Flatten())
    assert undeclared._shapes[1] == (None, 4, None, None)
    assert "(N, 4, ?, ?)" in undeclared.summary()  # without input_size: unknown, not "N"
    with pytest.raises(ShapeError, match=r"layer 1, Conv2D\(3, 4\).*expects \(N, 3, H, W\)"):
        snn.Sequential(Conv2D(1, 4, 3, input_size=8, rng=0), Conv2D(3, 4, 3, rng=0))
    with pytest.raises(ShapeError, match=r"layer 3, Dense\(100, 10\).*\(N, 216\)"):
        snn.Sequential(
            Conv2D(1, 6, 3, stride=2, padding=1, input_size=(12, 12), rng=0),
            snn.ReLU(),
            snn.Flatten(),
            snn.Dense(100, 10, rng=0),
        )
    with pytest.raises(ShapeError, match="5-wide kernel but the input H is 3"):
        Conv2D(1, 2, 5, input_size=3)


def test_forward_rejects_wrong_inputs_with_a_clear_message(rng):
    conv = Conv2D(3, 2, 3, rng=0)
    with pytest.raises(ShapeError, match=r"expected \(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ShapeError, match=r"expected \(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 192)))
    with pytest.raises(ShapeError, match="kernel but the input W is 2"):
        conv.forward(np.zeros((1, 3, 8, 2)))
    fixed = Conv2D(1, 2, 3, input_size=(28, 28), rng=0)
    with pytest.raises(ShapeError, match="declared input_size"):
        fixed.forward(np.zeros((1, 1, 32, 32)))
    with pytest.raises(NotFittedError, match="before forward"):
        Conv2D(1, 2, 3).backward(np.zeros((1, 2, 3, 3)))
    conv.forward(rng.standard_normal((2, 3, 5, 5)))
    with pytest.raises(ShapeError, match="expected"):
        conv.backward(np.zeros((2, 2, 4, 4)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"in_channels": 0}, "in_channels"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
        ({"kernel_size": 2.5}, "kernel_size"),
    ],
)
def test_bad_hyper_parameters_are_input_errors(kwargs, match):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(InputError, match=match):
        Conv2D(**args)


def test_config_is_json_and_rebuilds_the_layer():
    conv = Conv2D(
        3, 4, (3, 5), stride=2, padding=(1, 2), bias=False, init="he_uniform", input_size=(9, 11)
    )
    config = json.loads(json.dumps(conv.get_config()))
    clone = Conv2D(**config)
    assert clone.get_config() == conv.get_config()
    assert clone.kernel_size == (3, 5) and clone.padding == (1, 2) and clone.input_size == (9, 11)


def test_conv_output_size_matches_the_formula():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(28, 3, stride=2, padding=1) == 14
    assert conv_output_size(8, 3, stride=3) == 2
