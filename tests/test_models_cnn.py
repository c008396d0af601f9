"""The LeNet-like builder, image preparation, saving, and learning on real MNIST."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import InputError, ShapeError
from scratchnn.models.cnn import TRAINING_DEFAULTS, as_images, cnn, fit_settings


def test_default_architecture_and_shapes():
    model = cnn(rng=0)
    assert [type(layer).__name__ for layer in model] == [
        "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense",
    ]  # fmt: skip
    assert model._shapes[2] == (None, 16, 12, 12) and model._shapes[5] == (None, 32, 4, 4)
    assert model.output_dim == 10
    assert model.predict(np.zeros((3, 1, 28, 28))).shape == (3, 10)


def test_options_batchnorm_dropout_and_other_image_sizes():
    model = cnn(
        input_shape=(3, 32, 32),
        num_classes=4,
        channels=(8, 8, 8),
        kernel_size=3,
        hidden=16,
        batchnorm=True,
        dropout=0.25,
        rng=0,
    )
    names = [type(layer).__name__ for layer in model]
    assert names.count("BatchNorm2D") == 3 and names.count("BatchNorm1D") == 1
    assert "Dropout" in names and model.output_dim == 4
    assert not model[0].bias  # BatchNorm's β replaces the bias
    with pytest.raises(ShapeError, match="shrink to nothing"):
        cnn(input_shape=(1, 12, 12), channels=(4, 4, 4))
    with pytest.raises(InputError, match="input_shape"):
        cnn(input_shape=(28, 28))


def test_same_seed_same_model():
    a, b = cnn(rng=3), cnn(rng=np.random.default_rng(3))
    for (_, pa, _), (_, pb, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa, pb)


def test_as_images_accepts_mnist_as_loaded():
    raw = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    images = as_images(raw.astype(np.uint8))
    assert images.shape == (2, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images[0, 0], raw[0] / 255, rtol=1e-6)
    np.testing.assert_array_equal(as_images(images.reshape(2, -1)), images)  # floats kept
    assert as_images(images).shape == (2, 1, 28, 28)
    with pytest.raises(ShapeError, match="do not fit 1×28×28"):
        as_images(np.zeros((2, 27, 27)))


def test_fit_settings_follow_the_defaults_and_take_overrides():
    settings = fit_settings()
    assert settings["epochs"] == TRAINING_DEFAULTS["epochs"] == 3
    assert settings["batch_size"] == TRAINING_DEFAULTS["batch_size"]
    assert isinstance(settings["optimizer"], snn.Adam)
    assert settings["optimizer"].lr == TRAINING_DEFAULTS["lr"]
    lrs = [settings["lr_schedule"].lr_at(e, 2e-3) for e in range(3)]
    assert lrs == pytest.approx([2e-3, 1.5e-3, 5e-4])
    custom = fit_settings(epochs=6, lr=1e-3, batch_size=128)
    assert (custom["epochs"], custom["batch_size"], custom["optimizer"].lr) == (6, 128, 1e-3)
    assert custom["lr_schedule"].T_max == 6


def test_small_cnn_overfits_32_images(rng):
    X = rng.uniform(0, 1, (32, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    model = cnn(
        input_shape=(1, 12, 12), num_classes=4, channels=(6,), kernel_size=3, hidden=32, rng=0
    )
    model.fit(X, y, optimizer=snn.Adam(lr=3e-3), epochs=60, batch_size=8, seed=0, verbose=0)
    assert model.evaluate(X, y).accuracy == 1.0


def test_save_load_roundtrip_with_batchnorm(tmp_path, rng):
    model = cnn(
        input_shape=(1, 12, 12),
        num_classes=3,
        channels=(4, 6),
        kernel_size=3,
        hidden=8,
        batchnorm=True,
        dropout=0.1,
        rng=0,
    )
    X = rng.uniform(0, 1, (40, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model.fit(X, y, epochs=2, batch_size=8, seed=0, verbose=0)
    running = model[1].buffers["running_mean"].copy()
    assert running.any()
    model.metadata = {"note": "cnn"}
    model.save(tmp_path / "cnn.npz")

    clone = snn.load(tmp_path / "cnn.npz")
    assert [type(layer) for layer in clone] == [type(layer) for layer in model]
    np.testing.assert_array_equal(clone[1].buffers["running_mean"], running)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(clone.state_dict()[name], value, err_msg=name)
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))
    assert clone.metadata == {"note": "cnn"}
    assert clone[0].input_size == (12, 12)


@pytest.mark.slow
def test_cnn_learns_real_mnist(mnist_dir):
    """Two epochs on 6,000 real training images: > 90 % on 2,000 test images (a smoke
    check that conv learning works; the 99 % run is in the README).

    Why two epochs: after one, accuracy sits on the bar. Over seeds 0-9 it spans
    87.8-93.0 %, and float32 rounding alone moves one seed by up to 0.55 points (seed 0:
    89.85 % with OpenBLAS's SkylakeX kernels, 90.4 % with Haswell), so the kernel decided
    whether this passed. After two, seeds 0-9 give 93.35-95.65 % with both kernels and 1
    or 2 threads (seed 0, used here: 93.85-94.0 %), and rounding moves a seed by at most 0.5
    points: the bar is 3.35 points below the worst of the 40 runs.
    """
    (X, y), (Xt, yt) = snn.datasets.load_mnist(mnist_dir)
    X, Xt = as_images(X[:6000]), as_images(Xt[:2000])
    model = cnn(rng=0)
    model.fit(X, y[:6000], optimizer=snn.Adam(lr=2e-3), epochs=2, batch_size=64, seed=0, verbose=0)
    assert model.evaluate(Xt, yt[:2000]).accuracy > 0.90
