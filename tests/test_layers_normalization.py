"""BatchNorm: training and evaluation behaviour, running statistics as buffers."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import InputError, ShapeError
from scratchnn.layers import BatchNorm1D, BatchNorm2D


@pytest.mark.parametrize("kind", [BatchNorm1D, BatchNorm2D])
def test_training_mode_normalises_with_the_batch_statistics(kind, rng):
    shape = (64, 3) if kind is BatchNorm1D else (16, 3, 5, 5)
    axes = (0,) if kind is BatchNorm1D else (0, 2, 3)
    layer = kind(3, dtype=np.float64)
    layer.params["gamma"][:] = [1.0, 2.0, 0.5]
    layer.params["beta"][:] = [0.0, -1.0, 3.0]
    X = rng.normal(10.0, 4.0, shape)
    Y = layer.forward(X, training=True)
    np.testing.assert_allclose(Y.mean(axis=axes), [0.0, -1.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(Y.std(axis=axes), [1.0, 2.0, 0.5], rtol=1e-4)


def test_running_statistics_follow_pytorchs_momentum_and_unbiased_variance(rng):
    layer = BatchNorm1D(2, momentum=0.25, dtype=np.float64)
    running_mean, running_var = np.zeros(2), np.ones(2)
    for _ in range(4):
        X = rng.normal(3.0, 2.0, (10, 2))
        layer.forward(X, training=True)
        running_mean = 0.75 * running_mean + 0.25 * X.mean(axis=0)
        running_var = 0.75 * running_var + 0.25 * X.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.buffers["running_mean"], running_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], running_var, rtol=1e-12)


def test_eval_mode_uses_running_statistics_and_leaves_them_alone(rng):
    layer = BatchNorm2D(2, dtype=np.float64)
    layer.buffers["running_mean"][:] = [1.0, -2.0]
    layer.buffers["running_var"][:] = [4.0, 0.25]
    X = rng.standard_normal((3, 2, 4, 4))
    Y = layer.forward(X, training=False)
    expected = (X - np.array([1.0, -2.0])[None, :, None, None]) / np.sqrt(
        np.array([4.0, 0.25]) + 1e-5
    )[None, :, None, None]
    np.testing.assert_allclose(Y, expected)
    np.testing.assert_array_equal(layer.buffers["running_mean"], [1.0, -2.0])
    # in eval mode an example's output does not depend on the rest of its batch
    np.testing.assert_allclose(layer.forward(X[:1], training=False), Y[:1])


def test_buffers_are_state_not_parameters(rng):
    model = snn.Sequential(
        snn.Dense(4, 3, rng=rng), BatchNorm1D(3), snn.ReLU(), snn.Dense(3, 2, rng=rng)
    )
    names = [name for name, _, _ in model.parameters()]
    assert names == ["0.W", "0.b", "1.gamma", "1.beta", "3.W", "3.b"]  # what optimizers see
    assert [name for name, _ in model.named_buffers()] == [
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert {"1.running_mean", "1.running_var"} <= set(model.state_dict())
    assert model.num_parameters == 4 * 3 + 3 + 3 + 3 + 3 * 2 + 2

    model.fit(rng.standard_normal((64, 4)), rng.integers(0, 2, 64), epochs=2, verbose=0, seed=0)
    trained = model.state_dict()
    assert not np.allclose(trained["1.running_mean"], 0)  # updated by training, not by Adam
    fresh = snn.Sequential(
        snn.Dense(4, 3, rng=1), BatchNorm1D(3), snn.ReLU(), snn.Dense(3, 2, rng=1)
    )
    fresh.load_state_dict(trained)
    np.testing.assert_array_equal(fresh[1].buffers["running_var"], trained["1.running_var"])
    X = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))
    with pytest.raises(ShapeError, match=r"missing \['1.running_var'\]"):
        fresh.load_state_dict({k: v for k, v in trained.items() if k != "1.running_var"})


def test_astype_converts_buffers():
    model = snn.Sequential(snn.Dense(2, 3, rng=0), BatchNorm1D(3))
    assert model[1].buffers["running_var"].dtype == np.float32
    model.astype(np.float64)
    assert model[1].buffers["running_var"].dtype == np.float64
    assert model[1].params["gamma"].dtype == np.float64


def test_float32_stays_float32(rng):
    layer = BatchNorm2D(4)
    X = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    Y = layer.forward(X)
    assert Y.dtype == np.float32
    assert layer.backward(np.ones_like(Y)).dtype == np.float32
    assert layer.buffers["running_mean"].dtype == np.float32


def test_errors():
    with pytest.raises(ShapeError, match="at least 2"):
        BatchNorm1D(3).forward(np.ones((1, 3)), training=True)
    BatchNorm1D(3).forward(np.ones((1, 3)), training=False)  # a single example is fine in eval
    with pytest.raises(ShapeError, match=r"expected \(N, 3, H, W\)"):
        BatchNorm2D(3).forward(np.ones((4, 3)))
    with pytest.raises(ShapeError, match=r"expected \(N, 3\)"):
        BatchNorm1D(3).forward(np.ones((4, 2)))
    with pytest.raises(ShapeError, match=r"layer 1, BatchNorm1D\(5\)"):
        snn.Sequential(snn.Dense(2, 4, rng=0), BatchNorm1D(5))
    with pytest.raises(InputError, match="momentum"):
        BatchNorm1D(3, momentum=1.5)
    with pytest.raises(InputError, match="eps"):
        BatchNorm1D(3, eps=0)
    with pytest.raises(InputError, match="num_features"):
        BatchNorm2D(0)


def test_config_rebuilds():
    layer = BatchNorm2D(8, eps=1e-3, momentum=0.05)
    clone = BatchNorm2D(**layer.get_config())
    assert clone.get_config() == {"num_features": 8, "eps": 1e-3, "momentum": 0.05}


def test_num_batches_tracked_counts_training_passes_as_torch_does(rng):
    layer = BatchNorm2D(3)
    X = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    for _ in range(3):
        layer.forward(X)
    layer.forward(X, training=False)  # evaluation does not count
    count = layer.buffers["num_batches_tracked"]
    assert count.dtype == np.int64 and count.shape == () and int(count) == 3
    layer.astype(np.float64)  # a count, not a statistic: it stays an integer
    assert layer.buffers["num_batches_tracked"].dtype == np.int64


def test_a_state_without_num_batches_tracked_still_loads(rng):
    """Files written before the count existed lack it; they load, the count left at 0."""
    model = snn.Sequential(snn.Dense(2, 3, rng=0), BatchNorm1D(3))
    old = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    fresh = snn.Sequential(snn.Dense(2, 3, rng=1), BatchNorm1D(3))
    fresh.load_state_dict(old, strict=True)
    assert int(fresh[1].buffers["num_batches_tracked"]) == 0
