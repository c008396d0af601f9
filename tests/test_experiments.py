"""Named datasets, splits, scaling fitted on train only, the model registry, run folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scratchnn import experiments
from scratchnn.errors import InputError, ShapeError
from scratchnn.experiments import (
    DATASETS,
    MODELS,
    ModelSpec,
    apply_preprocess,
    fit_preprocess,
    load_dataset,
    make_run_dir,
    register_model,
    resolve_config,
    rng_for,
    run_training,
)
from scratchnn.io import load_model
from scratchnn.layers import Dense, Tanh
from scratchnn.model import Sequential


def test_rng_streams_are_independent_and_reproducible():
    a = rng_for(3, "data").random(5)
    np.testing.assert_array_equal(a, rng_for(3, "data").random(5))
    for purpose in ("split", "init", "shuffle", "evaluate"):
        assert not np.array_equal(a, rng_for(3, purpose).random(5))
    with pytest.raises(InputError, match="unknown random stream"):
        rng_for(0, "other")
    with pytest.raises(InputError, match="non-negative integer"):
        rng_for(-1, "data")


@pytest.mark.parametrize("name", [n for n, d in DATASETS.items() if d.kind == "synthetic"])
def test_synthetic_datasets_split_stratified_and_seeded(name):
    data = load_dataset(name, n=1000, seed=1, val_split=0.1, test_split=0.2)
    # stratification rounds each class's share, so a part may be off by one per class
    assert np.abs(np.subtract(data.sizes, (700, 100, 200))).max() <= 3 and sum(data.sizes) == 1000
    if data.task == "classification":
        for part in (data.y_train, data.y_val, data.y_test):
            counts = np.bincount(part, minlength=data.num_classes)
            assert counts.max() - counts.min() <= 1  # balanced classes stay balanced
    again = load_dataset(name, n=1000, seed=1, val_split=0.1, test_split=0.2)
    np.testing.assert_array_equal(data.X_test, again.X_test)
    other = load_dataset(name, n=1000, seed=2, val_split=0.1, test_split=0.2)
    assert not np.array_equal(data.X_test, other.X_test)
    # the three parts are disjoint and together are the whole sample
    whole = np.concatenate([data.X_train, data.X_val, data.X_test])
    assert len(np.unique(whole, axis=0)) == 1000


def test_scaling_uses_the_training_split_only():
    data = load_dataset("square", n=2000, seed=0)
    pre = fit_preprocess(data)
    assert pre["scaler"]["kind"] == "standardize"
    np.testing.assert_allclose(pre["scaler"]["mean"], data.X_train.mean(axis=0))
    np.testing.assert_allclose(pre["scaler"]["scale"], data.X_train.std(axis=0))
    Z = apply_preprocess(pre, data.X_train)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-6)
    assert not np.allclose(
        apply_preprocess(pre, data.X_test, np.float64).mean(axis=0), 0, atol=1e-9
    )
    # JSON round trip (it is saved in the model's metadata)
    np.testing.assert_array_equal(
        apply_preprocess(json.loads(json.dumps(pre)), data.X_test),
        apply_preprocess(pre, data.X_test),
    )


def test_images_are_scaled_by_1_over_255_and_can_be_tensors():
    from scratchnn.experiments.data import Data

    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    y = np.array([0, 1])
    data = Data(
        "tiny",
        "classification",
        images,
        y,
        images[:0],
        y[:0],
        images,
        y,
        classes=[0, 1],
        image_shape=(1, 28, 28),
    )
    flat = apply_preprocess(fit_preprocess(data), images)
    assert flat.shape == (2, 784) and flat.dtype == np.float32
    np.testing.assert_allclose(flat.ravel(), images.ravel() / np.float32(255), rtol=1e-6)
    tensors = apply_preprocess(fit_preprocess(data, "image"), images)
    assert tensors.shape == (2, 1, 28, 28)
    with pytest.raises(
        InputError, match="not images, which a convolutional model cannot read; use --model mlp"
    ):
        fit_preprocess(load_dataset("circle", n=100), "image")


def test_mnist_splits_off_validation_and_keeps_the_official_test_set(mnist_dir):
    data = load_dataset("mnist", data_dir=mnist_dir, val_split=0.1, seed=0)
    assert data.sizes[0] + data.sizes[1] == 60000 and data.sizes[2] == 10000
    assert abs(data.sizes[1] - 6000) <= 5 and data.image_shape == (1, 28, 28)
    assert data.X_train.dtype == np.uint8


def test_csv_dataset_by_path(tmp_path):
    frame = pd.DataFrame(
        {"a": np.arange(40.0), "b": np.arange(40.0) ** 2, "kind": ["cat", "dog"] * 20}
    )
    frame.to_csv(tmp_path / "pets.csv", index=False)
    data = load_dataset(str(tmp_path / "pets.csv"), target="kind", seed=0)
    assert data.classes == ["cat", "dog"] and data.feature_names == ["a", "b"]
    assert data.sizes == (28, 4, 8) and data.name == "pets"
    with pytest.raises(InputError, match="unknown dataset 'nonsense'"):
        load_dataset("nonsense")


def test_resolve_config_layers_defaults():
    config = resolve_config({"dataset": "mnist"})
    assert config["hidden"] == [524, 124] and config["batch_size"] == 250
    assert config["lr_schedule"] == "cosine" and config["loss"] == "ce"
    config = resolve_config({"dataset": "circle", "hidden": [4], "epochs": None})
    assert config["hidden"] == [4] and config["epochs"] == 20 and config["lr"] == 1e-3
    assert resolve_config({"dataset": "sine"})["loss"] == "mse"
    with pytest.raises(InputError, match="unknown model"):
        resolve_config({"dataset": "circle", "model": "transformer"})
    with pytest.raises(InputError, match="unknown loss"):
        resolve_config({"dataset": "circle", "loss": "hinge"})
    with pytest.raises(InputError, match="no dataset"):
        resolve_config({})


def test_a_registered_model_is_built_for_train(tmp_path):
    """Another engineer's model plugs in without touching run_training."""
    seen = {}

    def build(request):
        seen["request"] = request
        (d,) = request.input_shape
        return Sequential(
            Dense(d, 5, rng=request.rng),
            Tanh(),
            Dense(5, request.num_outputs, rng=request.rng),
            dtype=request.dtype,
        )

    register_model(ModelSpec("tiny-tanh", build, description="for a test"))
    try:
        config = resolve_config({"dataset": "moons", "model": "tiny-tanh", "n": 300, "epochs": 2})
        result = run_training(config, tmp_path / "run", verbose=0, plots=False, log=lambda s: None)
    finally:
        MODELS.pop("tiny-tanh")
    assert seen["request"].input_shape == (2,) and seen["request"].num_outputs == 2
    assert result.metrics["architecture"] == "2-5-2 tanh"
    assert load_model(tmp_path / "run" / "model.npz").metadata["model_type"] == "tiny-tanh"


def test_run_folder_contents_and_reproducibility(tmp_path):
    config = resolve_config({"dataset": "xor", "n": 400, "epochs": 3, "seed": 5})
    logs = []
    result = run_training(config, tmp_path / "a", verbose=0, plots=False, log=logs.append)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["checkpoint.npz", "config.json", "history.csv", "metrics.json", "model.npz"]
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert {k: saved[k] for k in config} == json.loads(json.dumps(config))
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "train_seconds", "epochs", "parameters"):
        assert metrics[key] is not None
    assert metrics["epochs"] == 3 and metrics["parameters"] == result.model.num_parameters
    history = pd.read_csv(tmp_path / "a" / "history.csv")
    assert list(history.columns) == [
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "seconds",
    ]
    assert any("results:" in line for line in logs)
    # the saved config alone reproduces the run exactly
    again = run_training(
        {k: saved[k] for k in config}, tmp_path / "b", verbose=0, plots=False, log=lambda s: None
    )
    a, b = load_model(tmp_path / "a" / "model.npz"), load_model(tmp_path / "b" / "model.npz")
    for (name, p, _), (_, q, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q, err_msg=name)
    assert again.metrics["test_loss"] == result.metrics["test_loss"]


def test_run_dir_is_not_overwritten_by_accident(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match=r"already holds a run \(metrics\.json\).*--overwrite"):
        make_run_dir(tmp_path / "run", "x")
    assert make_run_dir(tmp_path / "run", "x", overwrite=True) == tmp_path / "run"
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        make_run_dir(tmp_path / "file", "x")


def test_loss_must_suit_the_task(tmp_path):
    with pytest.raises(InputError, match="regression dataset; use --loss mse"):
        run_training(
            resolve_config({"dataset": "sine", "loss": "ce", "n": 100}),
            tmp_path / "r",
            verbose=0,
            log=lambda s: None,
        )
    with pytest.raises(InputError, match="--loss bce needs two classes"):
        run_training(
            resolve_config({"dataset": "spirals", "loss": "bce", "n": 100}),
            tmp_path / "s",
            verbose=0,
            log=lambda s: None,
        )


def test_summary_table_alignment():
    text = experiments.summary_table([("a", "1"), ("longer key", "2")], title="t")
    lines = text.splitlines()
    assert lines[0] == lines[2] == lines[-1] and set(lines[0]) == {"-"}
    assert lines[3].index("1") == lines[4].index("2")


def test_apply_preprocess_errors():
    with pytest.raises(ShapeError, match="no examples"):
        apply_preprocess({"scaler": {"kind": "none"}}, np.zeros((0, 2)))
    with pytest.raises(InputError, match="unknown scaler"):
        apply_preprocess({"scaler": {"kind": "magic"}}, np.zeros((1, 2)))


def test_fashion_mnist_is_any_directory_of_idx_files(tmp_path):
    """``--dataset fashion-mnist --data-dir DIR``: MNIST's format, Zalando's class names."""
    from test_datasets_download import tiny_idx_set

    tiny_idx_set(tmp_path / "fashion-mnist")
    data = load_dataset("fashion-mnist", data_dir=tmp_path, val_split=0.0)
    assert data.sizes == (20, 0, 5) and data.classes[0] == "T-shirt/top"
    config = resolve_config(
        {
            "dataset": "fashion-mnist",
            "data_dir": str(tmp_path),
            "hidden": [8],
            "epochs": 1,
            "val_split": 0.0,
        }
    )
    result = run_training(config, tmp_path / "run", verbose=0, log=lambda s: None)
    assert {"predictions.png", "weights.png", "confusion_matrix.png"} <= {
        p.name for p in result.files
    }
    assert load_model(tmp_path / "run" / "model.npz").metadata["classes"][9] == "Ankle boot"
