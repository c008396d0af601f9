"""Pooling layers: reference loops, the tie rule, shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import InputError, NotFittedError, ShapeError
from scratchnn.layers import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from scratchnn.layers.pooling import maxpool2d_loop

GEOMETRIES = [
    (2, None, (8, 8)),
    (2, None, (7, 9)),
    (3, 2, (9, 7)),
    (3, 1, (6, 6)),
    ((2, 3), (1, 2), (5, 8)),
]


@pytest.mark.parametrize("kernel,stride,size", GEOMETRIES, ids=str)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_maxpool_equals_the_loop_reference(kernel, stride, size, ties, rng):
    shape = (2, 3, *size)
    if ties:
        X = rng.integers(0, 3, shape).astype(np.float64)  # most windows hold ties
    else:
        X = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)
    pool = MaxPool2D(kernel, stride)
    Y = pool.forward(X)
    dY = rng.standard_normal(Y.shape)
    dX = pool.backward(dY)
    Y_ref, dX_ref = maxpool2d_loop(X, dY, kernel, stride)
    np.testing.assert_array_equal(Y, Y_ref)
    np.testing.assert_allclose(dX, dX_ref, atol=1e-15)


def test_maxpool_tie_goes_to_the_first_pixel_in_row_major_order():
    X = np.array([[[[0.0, 5.0, 5.0, 1.0], [5.0, 5.0, 1.0, 5.0]]]])
    pool = MaxPool2D(2)
    np.testing.assert_array_equal(pool.forward(X), [[[[5.0, 5.0]]]])
    dX = pool.backward(np.array([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(dX, [[[[0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    # a flat window: everything to pixel (0, 0), nothing split
    pool.forward(np.zeros((1, 1, 2, 2)))
    np.testing.assert_array_equal(
        pool.backward(np.ones((1, 1, 1, 1))), [[[[1.0, 0.0], [0.0, 0.0]]]]
    )


def test_maxpool_gradient_sums_where_overlapping_windows_share_a_winner():
    X = np.zeros((1, 1, 3, 3))
    X[0, 0, 1, 1] = 9.0  # the centre wins all four 2×2 windows of stride 1
    pool = MaxPool2D(2, stride=1)
    pool.forward(X)
    dX = pool.backward(np.ones((1, 1, 2, 2)))
    assert dX[0, 0, 1, 1] == 4.0 and dX.sum() == 4.0


def test_maxpool_is_deterministic_and_keeps_dtype(rng):
    X = rng.integers(0, 2, (4, 3, 6, 6)).astype(np.float32)
    dY = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    pool = MaxPool2D(2)
    runs = []
    for _ in range(3):
        pool.forward(X)
        runs.append(pool.backward(dY))
    assert runs[0].dtype == np.float32
    for dX in runs[1:]:
        np.testing.assert_array_equal(dX, runs[0])


def test_avgpool_spreads_the_gradient_evenly():
    pool = AvgPool2D(2)
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(pool.forward(X), [[[[2.5, 4.5], [10.5, 12.5]]]])
    dX = pool.backward(np.full((1, 1, 2, 2), 4.0))
    np.testing.assert_array_equal(dX, np.ones((1, 1, 4, 4)))
    overlapping = AvgPool2D(2, stride=1)
    overlapping.forward(np.zeros((1, 1, 3, 3)))
    dX = overlapping.backward(np.full((1, 1, 2, 2), 4.0))
    np.testing.assert_array_equal(dX[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_global_avgpool(rng):
    X = rng.standard_normal((3, 4, 5, 6))
    layer = GlobalAvgPool2D()
    np.testing.assert_allclose(layer.forward(X), X.mean(axis=(2, 3)))
    dX = layer.backward(np.ones((3, 4)))
    np.testing.assert_allclose(dX, np.full(X.shape, 1 / 30))
    assert dX.flags.writeable


def test_pooling_shapes_in_a_model():
    model = snn.Sequential(
        snn.Conv2D(1, 2, 3, input_size=(11, 10), rng=0),
        MaxPool2D(2),
        AvgPool2D(3, stride=1),
        GlobalAvgPool2D(),
        snn.Dense(2, 3, rng=0),
    )
    assert model._shapes == [
        (None, 2, 9, 8),
        (None, 2, 4, 4),
        (None, 2, 2, 2),
        (None, 2),
        (None, 3),
    ]
    with pytest.raises(ShapeError, match=r"layer 1, MaxPool2D\(2\).*expects images"):
        snn.Sequential(snn.Dense(4, 4, rng=0), MaxPool2D(2))
    with pytest.raises(ShapeError, match="3-wide window but the input H is 2"):
        snn.Sequential(snn.Conv2D(1, 1, 3, input_size=4, rng=0), MaxPool2D(3))


def test_pooling_errors():
    with pytest.raises(ShapeError, match=r"expected \(N, C, H, W\)"):
        MaxPool2D(2).forward(np.zeros((4, 4)))
    with pytest.raises(ShapeError, match=r"expected \(N, C, H, W\)"):
        GlobalAvgPool2D().forward(np.zeros((4, 4)))
    with pytest.raises(NotFittedError):
        MaxPool2D(2).backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(NotFittedError):
        AvgPool2D(2).backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(InputError, match="kernel_size"):
        MaxPool2D(0)
    with pytest.raises(InputError, match="stride"):
        AvgPool2D(2, stride=(1, 0))
    pool = MaxPool2D(2)
    pool.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ShapeError, match="expected"):
        pool.backward(np.zeros((1, 1, 4, 4)))


def test_pooling_config_rebuilds():
    for layer in (MaxPool2D(3, 2), AvgPool2D((2, 3)), GlobalAvgPool2D()):
        clone = type(layer)(**layer.get_config())
        assert clone.get_config() == layer.get_config()
    assert MaxPool2D(2).get_config() == {"kernel_size": 2, "stride": 2}
