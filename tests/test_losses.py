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


# -- sequence logits (N, T, V): one row per token ----------------------------------------
def test_sequence_cross_entropy_is_the_mean_over_every_token(rng):
    Z, y = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, (3, 4))
    value, dZ = losses.SoftmaxCrossEntropy()(Z, y)
    flat_value, flat_dZ = losses.SoftmaxCrossEntropy()(Z.reshape(12, 5), y.reshape(12))
    assert value == pytest.approx(flat_value, rel=1e-15)
    np.testing.assert_array_equal(dZ, flat_dZ.reshape(3, 4, 5))
    S = np.exp(Z) / np.exp(Z).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(dZ, (S - np.eye(5)[y]) / 12, atol=1e-15)  # (softmax - onehot)/(N·T)


def test_sequence_cross_entropy_known_values_and_float32():
    value, dZ = losses.SoftmaxCrossEntropy()(np.zeros((2, 3, 7), np.float32), np.zeros((2, 3), int))
    assert value == pytest.approx(np.log(7), rel=1e-6) and dZ.dtype == np.float32
    huge = np.array([[[1000.0, -1000.0], [-1000.0, 1000.0]]])
    value, dZ = losses.SoftmaxCrossEntropy()(huge, np.array([[0, 0]]))
    assert np.isfinite(value) and np.isfinite(dZ).all()
    assert value == pytest.approx(1000.0)  # one token right, one wrong by 2000 nats


def test_sequence_targets_of_the_wrong_shape_are_a_one_line_error(rng):
    with pytest.raises(ShapeError, match=r"do not match sequence outputs \(2, 3, 4\)"):
        losses.SoftmaxCrossEntropy()(rng.standard_normal((2, 3, 4)), np.zeros((2, 4), int))


def test_sequence_accuracy_counts_tokens():
    Z = np.zeros((2, 2, 3))
    Z[0, 0, 1] = Z[0, 1, 2] = Z[1, 0, 0] = Z[1, 1, 0] = 1.0  # predictions [[1, 2], [0, 0]]
    assert losses.SoftmaxCrossEntropy().accuracy(Z, np.array([[1, 2], [0, 1]])) == 0.75
    assert losses.SoftmaxCrossEntropy().accuracy(Z, np.eye(3)[[[1, 2], [0, 1]]]) == 0.75


def test_prepare_target_accepts_token_labels_and_checks_them():
    ce = losses.SoftmaxCrossEntropy()
    y = ce.prepare_target(np.array([[0, 4, 2], [1, 1, 3]]), 2, 5, np.float32)
    assert y.shape == (2, 3) and y.dtype == np.intp
    with pytest.raises(InputError, match=r"^y has label 5 but the model has 5 outputs"):
        ce.prepare_target(np.array([[0, 5, 2]]), 1, 5, np.float32)
    with pytest.raises(InputError, match="negative label"):
        ce.prepare_target(np.array([[0, -1]]), 1, 5, np.float32)
    with pytest.raises(ShapeError, match="X has 3 sequences but the targets have 2"):
        ce.prepare_target(np.zeros((2, 4), int), 3, 5, np.float32)
    # float 2-D targets keep their meaning: class probabilities, one row per example
    P = ce.prepare_target(np.eye(5)[[0, 3]], 2, 5, np.float32)
    assert P.dtype == np.float32 and P.shape == (2, 5)


def test_integer_one_hot_rows_still_train_and_keep_the_dtype(rng):
    """Integer 2-D targets are read as token labels; one-hot rows still give the same loss."""
    Z, y = rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 2, 1, 2])
    ce = losses.SoftmaxCrossEntropy()
    T = ce.prepare_target(np.eye(3, dtype=int)[y], 4, 3, np.float32)
    (a, dA), (b, dB) = ce(Z, T), ce(Z, y)
    assert a == pytest.approx(b, rel=1e-6) and dA.dtype == np.float32
    np.testing.assert_allclose(dA, dB, atol=1e-7)


def test_probability_cross_entropy_on_sequences(rng):
    P, y = rng.dirichlet(np.ones(4), (2, 3)), rng.integers(0, 4, (2, 3))
    value, dP = losses.CrossEntropy()(P, y)
    assert value == pytest.approx(-np.mean(np.log(np.take_along_axis(P, y[..., None], -1))))
    assert dP.shape == P.shape
