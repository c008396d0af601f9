"""Warnings for the classic mistakes, and shape errors that name the fix (issue 17)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import cli
from scratchnn.datasets import load_csv
from scratchnn.errors import ScratchnnWarning, ShapeError


def pixels(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.uint8)


def quiet_fit(model, X, y, **kwargs):
    kwargs = {"epochs": 1, "verbose": 0, "seed": 0, **kwargs}
    return model.fit(X, y, **kwargs)


def scratchnn_warnings(record, about: str = "") -> list[str]:
    messages = [str(w.message) for w in record if issubclass(w.category, ScratchnnWarning)]
    return [m for m in messages if about in m]


# -- unscaled pixels -------------------------------------------------------------------------
def test_unscaled_pixels_into_an_mlp_warn_once_with_the_fix():
    X, y = pixels().reshape(64, -1), np.arange(64) % 10
    model = snn.mlp([784, 16, 10], rng=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("default")  # Python's own: once per line of code
        for _ in range(3):
            quiet_fit(model, X, y)
    messages = scratchnn_warnings(record, "pixels")
    assert len(messages) == 1, messages
    assert "unscaled image pixels" in messages[0] and "X = X / 255" in messages[0]
    # attributed to the user's line, not to scratchnn; random labels: also at chance, once
    assert {w.filename for w in record} == {__file__}
    assert len(scratchnn_warnings(record, "chance accuracy")) == 1


def test_four_bit_pixels_get_their_own_scale_in_the_advice():
    """scikit-learn's 8×8 digits are whole numbers from 0 to 16: divide by 16, not 255."""
    X = np.random.default_rng(0).integers(0, 17, (64, 64)).astype(float)
    with pytest.warns(ScratchnnWarning, match=r"from 0 to 16.*X = X / 16,"):
        snn.mlp([64, 10], rng=0).predict(X)


def test_unscaled_pixels_into_a_cnn_warn_too():
    from scratchnn.models.cnn import cnn

    model = cnn(channels=(2,), hidden=8, rng=0)
    X = pixels(16)[:, None].astype(np.float32)
    with pytest.warns(ScratchnnWarning, match="unscaled image pixels"):
        quiet_fit(model, X, np.arange(16) % 10, batch_size=16)


def test_scaled_pixels_and_ordinary_features_do_not_warn():
    with warnings.catch_warnings():
        # random labels end at chance: only the pixel warning is under test here
        warnings.filterwarnings("error", message=".*pixels", category=ScratchnnWarning)
        model = snn.mlp([784, 8, 10], rng=0)
        quiet_fit(model, pixels().reshape(64, -1) / 255, np.arange(64) % 10, epochs=2)
        # narrow rows of whole numbers (counts, ages) are not pixels
        X = np.random.default_rng(1).integers(0, 200, (200, 3)).astype(float)
        y = (X[:, 0] > 100).astype(int)
        quiet_fit(snn.mlp([3, 8, 2], rng=0), X / 100, y, epochs=5, optimizer=snn.Adam(lr=0.05))


# -- double softmax --------------------------------------------------------------------------
def test_a_softmax_layer_before_ce_is_a_double_softmax():
    X, y = snn.datasets.circle_regions(300, seed=0)
    rng = np.random.default_rng(0)
    model = snn.Sequential(snn.Dense(2, 8, rng=rng), snn.ReLU(), snn.Dense(8, 2, rng=rng))
    model_sm = snn.Sequential(*model.layers, snn.Softmax())
    with pytest.warns(ScratchnnWarning, match="double softmax") as record:
        quiet_fit(model_sm, X, y)
    assert any("remove the last Softmax layer" in str(w.message) for w in record)
    with warnings.catch_warnings():  # the same network on its logits, or probabilities + CE
        warnings.simplefilter("error", ScratchnnWarning)
        quiet_fit(model, X, y, epochs=3, optimizer=snn.Adam(lr=0.05))
        quiet_fit(model_sm, X, y, loss=snn.CrossEntropy(), epochs=3, optimizer=snn.Adam(lr=0.05))


# -- chance accuracy -------------------------------------------------------------------------
def stuck_run(**kwargs):
    """A run that cannot learn: random labels, constant inputs."""
    X = np.ones((200, 2))
    y = np.r_[np.zeros(150, int), np.ones(50, int)]
    return quiet_fit(snn.mlp([2, 4, 2], rng=0), X, y, **kwargs)


def test_a_run_ending_at_chance_accuracy_says_try_a_smaller_learning_rate():
    with pytest.warns(ScratchnnWarning, match="chance accuracy") as record:
        stuck_run(optimizer=snn.SGD(lr=0.5))
    message = next(str(w.message) for w in record if "chance" in str(w.message))
    assert "(75.0% of the training data)" in message
    assert "a smaller learning rate (lr=0.5 now)" in message
    assert "--lr" not in message


def test_a_run_that_learned_does_not_warn():
    X, y = snn.datasets.circle_regions(500, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScratchnnWarning)
        quiet_fit(snn.mlp([2, 16, 2], rng=0), X, y, epochs=5, optimizer=snn.Adam(lr=0.02))


def test_the_command_line_prints_the_chance_warning_as_one_line_with_lr(tmp_path, capsys):
    args = ["train", "--dataset", "circle", "--out", str(tmp_path / "run"), "--epochs", "2"]
    args += ["--optimizer", "sgd", "--lr", "50", "--verbose", "0", "--no-plots"]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "warning" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("scratchnn: warning: training ended at chance accuracy")
    assert lines[0].endswith("try a smaller --lr (now 50)")
    assert "Traceback" not in err and "ScratchnnWarning" not in err


# -- CSV switching to regression -------------------------------------------------------------
def test_a_csv_with_fractional_labels_says_it_becomes_regression_and_why(tmp_path):
    path = tmp_path / "data.csv"
    rows = [f"{i},{i % 3},{[0, 1, 2.5][i % 3]}" for i in range(30)]
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    with pytest.warns(ScratchnnWarning) as record:
        data = load_csv(path)
    assert data.task == "regression"
    (message,) = scratchnn_warnings(record)
    assert "treated as a regression target" in message and "not all whole numbers" in message
    assert "2.5 on line 4" in message and "3 distinct values" in message


def test_a_continuous_regression_target_or_integer_classes_do_not_warn(tmp_path):
    rng = np.random.default_rng(0)
    continuous = tmp_path / "continuous.csv"
    continuous.write_text("x,label\n" + "".join(f"{v},{v * 2.1}\n" for v in rng.random(50)))
    classes = tmp_path / "classes.csv"
    classes.write_text(
        "x,label\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(rng.random(50)))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScratchnnWarning)
        assert load_csv(continuous).task == "regression"
        assert load_csv(classes).task == "classification"


# -- --model cnn on feature rows -------------------------------------------------------------
def test_model_cnn_on_feature_rows_names_model_mlp(tmp_path, capsys):
    args = ["train", "--dataset", "circle", "--model", "cnn", "--out", str(tmp_path / "run")]
    assert cli.main([*args, "--verbose", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("use --model mlp") and len(err.splitlines()) == 1


# -- shape errors that name the fix ----------------------------------------------------------
def test_a_1d_X_says_it_must_be_2d_and_how_to_reshape():
    model = snn.mlp([1, 4, 2], rng=0)
    with pytest.raises(ShapeError) as error:
        model.fit(np.linspace(0, 1, 20), np.arange(20) % 2, verbose=0)
    message = str(error.value)
    assert "must be 2-D, (n_examples, n_features)" in message
    assert "X.reshape(-1, 1)" in message and "()" not in message


def test_images_into_an_mlp_suggest_reshape_or_flatten():
    model = snn.mlp([784, 4, 10], rng=0)
    for call in (
        lambda X: model.fit(X, np.arange(8) % 10, verbose=0),
        model.predict,
        lambda X: model.evaluate(X, np.arange(8) % 10),
    ):
        with pytest.raises(ShapeError) as error:
            call(pixels(8) / 255)
        message = str(error.value)
        assert "(8, 28, 28)" in message and "X.reshape(len(X), -1)" in message
        assert "Flatten()" in message


def test_a_flatten_layer_first_takes_the_images():
    rng = np.random.default_rng(0)
    model = snn.Sequential(snn.Flatten(), snn.Dense(784, 10, rng=rng))
    quiet_fit(model, pixels(8) / 255, np.arange(8) % 10)


@pytest.mark.parametrize("dtype", [int, float])
def test_labels_as_a_column_suggest_ravel(dtype):
    X, y = snn.datasets.circle_regions(64, seed=0)
    model = snn.mlp([2, 4, 2], rng=0)
    with pytest.raises(ShapeError, match=r"y.ravel\(\)"):
        model.fit(X, y[:, None].astype(dtype), verbose=0)
    with pytest.raises(ShapeError, match=r"y.ravel\(\)"):
        model.evaluate(X, y[:, None].astype(dtype))
