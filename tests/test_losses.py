"""Known values and numerical stability of the losses."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import losses
from scratchnn.errors import InputError, ShapeError


@pytest.mark.parametrize("C", [2, 3, 10])
def test_zero_logits_give_log_C(C):
    value, dZ = losses.SoftmaxCrossEntropy()(np.zeros((5, C)), np.arange(5) % C)
    assert value == pytest.approx(np.log(C), rel=1e-12)
    # gradient: (1/C - onehot) / N
    expected = np.full((5, C), 1 / C)
    expected[np.arange(5), np.arange(5) % C] -= 1
    np.testing.assert_allclose(dZ, expected / 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_give_finite_loss_and_gradient(dtype):
    Z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype=dtype)
    y = np.array([1, 0])
    value, dZ = losses.SoftmaxCrossEntropy()(Z, y)
    assert np.isfinite(value) and np.isfinite(dZ).all()
    assert value == pytest.approx(2000.0 / 2 + (2000.0 - np.log(0.5)) / 2, rel=1e-6)
    assert dZ.dtype == dtype


def test_one_hot_and_label_targets_agree(rng):
    Z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    a = losses.SoftmaxCrossEntropy()(Z, y)
    b = losses.SoftmaxCrossEntropy()(Z, losses.one_hot(y, 4, dtype=np.float64))
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(a[1], b[1], atol=1e-15)


def test_softmax_cross_entropy_keeps_float32(rng):
    Z = rng.standard_normal((4, 3)).astype(np.float32)
    _, dZ = losses.SoftmaxCrossEntropy()(Z, np.array([0, 1, 2, 0]))
    assert dZ.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_at_plus_minus_1000(dtype):
    Z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype=dtype)
    T = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=dtype)
    value, dZ = losses.BCEWithLogits()(Z, T)
    assert np.isfinite(value) and np.isfinite(dZ).all()
    assert value == pytest.approx(500.0)  # two right (0) and two wrong by 1000 nats, mean of 4
    np.testing.assert_allclose(dZ.ravel(), [0.0, 0.0, 0.25, -0.25])


def test_bce_zero_logits_give_log_2():
    value, _ = losses.BCEWithLogits()(np.zeros((3, 2)), np.array([[0, 1], [1, 1], [0, 0]]))
    assert value == pytest.approx(np.log(2))


def test_bce_batchmean_sums_over_features():
    Z, T = np.zeros((4, 5)), np.zeros((4, 5))
    assert losses.BCEWithLogits("batchmean")(Z, T)[0] == pytest.approx(5 * np.log(2))


def test_mse_value_and_reductions():
    Y, T = np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))
    assert losses.MSE()(Y, T)[0] == pytest.approx(30 / 4)
    assert losses.MSE("sum")(Y, T)[0] == pytest.approx(30)
    assert losses.MSE("batchmean")(Y, T)[0] == pytest.approx(15)


def test_probability_cross_entropy_is_clipped_not_infinite():
    value, dP = losses.CrossEntropy()(np.array([[1.0, 0.0]]), np.array([1]))
    assert np.isfinite(value) and np.isfinite(dP).all()
    assert value == pytest.approx(-np.log(1e-7))


def test_gaussian_kl_closed_form_against_monte_carlo(rng):
    mu, logvar = np.array([[0.5, -1.0]]), np.array([[0.3, -0.7]])
    value, _ = losses.GaussianKL()(mu, logvar)
    std = np.exp(0.5 * logvar)
    z = mu + std * rng.standard_normal((400_000, 2))
    log_q = -0.5 * (((z - mu) / std) ** 2 + logvar + np.log(2 * np.pi))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    assert value == pytest.approx(np.mean(np.sum(log_q - log_p, axis=1)), abs=5e-3)


def test_gaussian_kl_of_standard_normal_is_zero():
    value, (dmu, dlv) = losses.GaussianKL()(np.zeros((3, 4)), np.zeros((3, 4)))
    assert value == 0 and not dmu.any() and not dlv.any()


def test_one_hot():
    np.testing.assert_array_equal(losses.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(InputError, match="label 3"):
        losses.one_hot(np.array([3]), 3)


def test_prepare_target_rejects_bad_labels():
    ce = losses.SoftmaxCrossEntropy()
    with pytest.raises(InputError, match=r"label 5 .* \[0, 3\)"):
        ce.prepare_target(np.array([0, 5]), 2, 3, np.float32)
    with pytest.raises(InputError, match="negative label"):
        ce.prepare_target(np.array([0, -1]), 2, 3, np.float32)
    with pytest.raises(InputError, match="non-integer"):
        ce.prepare_target(np.array([0.5, 1.0]), 2, 3, np.float32)
    with pytest.raises(ShapeError, match="must match"):
        ce.prepare_target(np.array([0, 1, 2]), 2, 3, np.float32)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        losses.BCEWithLogits().prepare_target(np.array([0, 2]), 2, 1, np.float32)


def test_get_by_name():
    assert isinstance(losses.get("ce"), losses.SoftmaxCrossEntropy)
    assert isinstance(losses.get("bce"), losses.BCEWithLogits)
    with pytest.raises(InputError, match="unknown loss"):
        losses.get("hinge")
