"""Names from scratchnn 0.1 keep working after the reorganisation into a module tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import scratchnn as snn

FORMAT1 = Path(__file__).parent / "fixtures" / "format1"  # written by 0.1: see make.py there


def test_old_module_paths_still_import_the_same_objects():
    from scratchnn import checkpoint, serialization
    from scratchnn.layers import LAYERS, Layer

    assert serialization.load_model is snn.io.load_model
    assert serialization.ModelFileError is snn.errors.ModelFileError
    assert checkpoint.load_checkpoint is snn.load_checkpoint
    assert checkpoint.resume is snn.resume
    assert Layer is snn.Module
    assert LAYERS["Dense"] is snn.Dense


def test_every_public_name_of_0_1_is_still_exported():
    old = """MSE SGD Adam AdamW AvgPool2D BCEWithLogits BatchNorm1D BatchNorm2D Callback
    Checkpoint Conv2D CosineAnnealingLR CrossEntropy Dense DivergenceError Dropout
    EarlyStopping Evaluation ExponentialLR Flatten GaussianKL GlobalAvgPool2D History
    Identity InputError Layer LeakyReLU MaxPool2D MinMaxScaler NotFittedError OutputError
    RMSprop ReLU ScratchnnError Sequential ShapeError Sigmoid Softmax SoftmaxCrossEntropy
    Standardizer StepLR Tanh TrainingInterrupted __version__ batches checkpoint
    clip_grad_norm cnn datasets evaluate fit gradcheck initializers layers load
    load_checkpoint losses mlp models one_hot optimizers resume schedules
    train_test_split""".split()
    missing = [name for name in old if name not in snn.__all__ or not hasattr(snn, name)]
    assert missing == []


def test_a_model_file_of_format_1_still_loads(tmp_path):
    """scratchnn 0.1 wrote the bare architecture (a Sequential's config, or a VAE's with
    "class": "VAE") under format version 1."""
    model = snn.mlp([3, 4, 2], rng=0)
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    meta = {"version": 1, "kind": "model", "architecture": model.get_config(), "extra": {}}
    snn.io.write_npz(tmp_path / "old.npz", meta, arrays)
    np.testing.assert_array_equal(
        snn.load(tmp_path / "old.npz").predict(np.ones((2, 3))), model.predict(np.ones((2, 3)))
    )
    vae = snn.models.VAE(6, hidden=(4,), latent_dim=2, rng=0)
    arrays = {f"param/{k}": v for k, v in vae.state_dict().items()}
    meta["architecture"] = {"class": "VAE", **vae.get_config()}
    snn.io.write_npz(tmp_path / "old_vae.npz", meta, arrays)
    clone = snn.load(tmp_path / "old_vae.npz")
    np.testing.assert_array_equal(clone.encode(np.ones((2, 6)))[0], vae.encode(np.ones((2, 6)))[0])


def test_files_written_by_0_1_load_and_predict_the_same():
    X, _ = snn.datasets.circle_regions(120, seed=0)
    model = snn.load(FORMAT1 / "sequential.npz")
    assert model.metadata == {"classes": ["inside", "outside"]}
    np.testing.assert_array_equal(
        model.predict(X[:10]), np.load(FORMAT1 / "sequential_predictions.npy")
    )
    Xv = (np.random.default_rng(0).random((64, 6)) < 0.4).astype(np.float32)
    vae = snn.load(FORMAT1 / "vae.npz")
    np.testing.assert_array_equal(vae.encode(Xv[:5])[0], np.load(FORMAT1 / "vae_codes.npy"))


def test_a_checkpoint_interrupted_mid_epoch_by_0_1_resumes_exactly(tmp_path):
    """Format 1 saved the generator state an epoch's order was drawn from, not the order:
    the reader draws it again, so the resumed run ends where 0.1's straight run did."""
    shutil.copytree(FORMAT1 / "run", tmp_path / "run")
    checkpoint = snn.load_checkpoint(tmp_path / "run")
    assert (checkpoint.version, checkpoint.in_epoch) == (1, 2)
    X, y = snn.datasets.circle_regions(120, seed=0)
    model, history = snn.resume(tmp_path / "run", X, y, verbose=0)
    assert len(history) == 3
    straight = np.load(FORMAT1 / "run_straight.npz")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, straight[name], err_msg=name)
