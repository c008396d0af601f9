"""The training loop: learning, History, callbacks, dtypes and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.errors import DivergenceError, InputError, ShapeError


def test_small_mlp_overfits_32_random_examples(rng):
    X = rng.standard_normal((32, 10))
    y = rng.integers(0, 3, 32)
    model = snn.mlp([10, 64, 64, 3], rng=0)
    history = model.fit(
        X, y, optimizer=snn.Adam(lr=0.01), epochs=200, batch_size=8, seed=0, verbose=0
    )
    assert history["loss"][-1] < 0.01
    assert model.evaluate(X, y).accuracy == 1.0


def test_regression_with_mse(rng):
    X = rng.uniform(-1, 1, (256, 1))
    y = np.sin(3 * X)
    model = snn.mlp([1, 32, 1], activation="tanh", rng=0)
    history = model.fit(
        X, y, loss="mse", optimizer=snn.Adam(lr=0.01), epochs=150, seed=0, verbose=0
    )
    assert history["loss"][-1] < 0.01
    assert np.isnan(history["accuracy"]).all()


def test_binary_classification_with_bce():
    X, y = snn.datasets.square_regions(600, seed=0)
    model = snn.mlp([2, 16, 16, 1], rng=0)
    model.fit(X, y, loss="bce", optimizer=snn.Adam(lr=0.01), epochs=30, seed=0, verbose=0)
    assert model.evaluate(X, y, loss="bce").accuracy > 0.9
    assert set(np.unique(model.predict_classes(X))) == {0, 1}


def test_batch_size_one_is_just_a_batch():
    X, y = snn.datasets.circle_regions(50, seed=0)
    model = snn.mlp([2, 8, 2], rng=0)
    opt = snn.SGD(lr=0.05)
    history = model.fit(X, y, optimizer=opt, epochs=2, batch_size=1, seed=0, verbose=0)
    assert opt.t == 100 and len(history) == 2 and np.isfinite(history["loss"]).all()


def test_fit_is_reproducible_from_a_seed():
    X, y = snn.datasets.circle_regions(200, seed=0)
    runs = []
    for _ in range(2):
        model = snn.mlp([2, 8, 2], dropout=0.1, rng=1)
        model.fit(X, y, epochs=3, seed=5, validation_split=0.2, verbose=0)
        runs.append(model.state_dict())
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


def test_float32_stays_float32_end_to_end(monkeypatch):
    X, y = snn.datasets.circle_regions(64, seed=0)  # float64 data
    model = snn.mlp([2, 8, 2], rng=0)
    seen = []
    loss = snn.SoftmaxCrossEntropy()
    original = loss.__call__

    class Spy(snn.SoftmaxCrossEntropy):
        def __call__(self, Z, T):
            seen.append(Z.dtype)
            value, dZ = original(Z, T)
            seen.append(dZ.dtype)
            return value, dZ

    model.fit(X, y, loss=Spy(), epochs=1, batch_size=16, verbose=0)
    assert set(seen) == {np.dtype(np.float32)}
    assert all(p.dtype == g.dtype == np.float32 for _, p, g in model.parameters())


def test_history_columns_and_dataframe():
    X, y = snn.datasets.circle_regions(100, seed=0)
    history = snn.mlp([2, 4, 2], rng=0).fit(X, y, epochs=3, validation_split=0.2, seed=0, verbose=0)
    df = history.to_dataframe()
    assert list(df.columns) == list(snn.History.COLUMNS)
    assert df["epoch"].tolist() == [1, 2, 3]
    assert df[["loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]].notna().all().all()
    assert (df["seconds"] > 0).all()


def test_validation_data_and_evaluate_agree():
    X, y = snn.datasets.square_regions(300, seed=0)
    Xv, yv = snn.datasets.square_regions(100, seed=1)
    model = snn.mlp([2, 8, 2], rng=0)
    history = model.fit(X, y, epochs=2, validation_data=(Xv, yv), seed=0, verbose=0)
    ev = model.evaluate(Xv, yv, batch_size=7)
    assert history["val_loss"][-1] == pytest.approx(ev.loss, rel=1e-5)
    assert history["val_accuracy"][-1] == pytest.approx(ev.accuracy)


def test_early_stopping_restores_best_weights():
    X, y = snn.datasets.circle_regions(200, seed=0)
    Xv, yv = snn.datasets.circle_regions(200, seed=1)
    model = snn.mlp([2, 32, 2], rng=0)
    stopper = snn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # A huge learning rate makes validation loss bounce, so it stops early.
    history = model.fit(
        X,
        y,
        optimizer=snn.SGD(lr=5.0),
        epochs=50,
        validation_data=(Xv, yv),
        callbacks=[stopper],
        seed=0,
        verbose=0,
    )
    assert len(history) < 50
    assert stopper.stopped_epoch == len(history)
    assert model.evaluate(Xv, yv).loss == pytest.approx(stopper.best, rel=1e-5)


def test_early_stopping_without_validation_explains_itself():
    X, y = snn.datasets.circle_regions(50, seed=0)
    with pytest.raises(InputError, match="validation_split"):
        snn.mlp([2, 4, 2], rng=0).fit(X, y, epochs=2, callbacks=[snn.EarlyStopping()], verbose=0)


def test_custom_callback_hooks_are_called():
    calls = []

    class Recorder(snn.Callback):
        def on_train_begin(self, logs):
            calls.append("begin")

        def on_epoch_end(self, epoch, logs):
            calls.append(("epoch", epoch, round(logs["loss"], 8) == round(logs["loss"], 8)))
            if epoch == 2:
                self.model.stop_training = True

        def on_train_end(self, logs):
            calls.append("end")

    X, y = snn.datasets.circle_regions(40, seed=0)
    snn.mlp([2, 4, 2], rng=0).fit(X, y, epochs=5, callbacks=[Recorder()], verbose=0)
    assert calls == ["begin", ("epoch", 1, True), ("epoch", 2, True), "end"]


def test_divergence_names_epoch_and_batch():
    X, y = snn.datasets.circle_regions(64, seed=0)
    X = X * 1e30
    model = snn.mlp([2, 8, 2], rng=0)
    with pytest.raises(DivergenceError, match=r"epoch 1, batch 1; lower the learning rate"):
        model.fit(X, y, optimizer=snn.SGD(lr=1e10), epochs=3, verbose=0)


def test_clip_norm_keeps_a_large_step_finite():
    X, y = snn.datasets.circle_regions(64, seed=0)
    model = snn.mlp([2, 8, 2], rng=0)
    history = model.fit(X * 1e6, y, optimizer=snn.SGD(lr=0.1), epochs=2, clip_norm=1.0, verbose=0)
    assert np.isfinite(history["loss"]).all()


BAD = {
    "length mismatch": (lambda X, y: (X, y[:-1]), ShapeError, "must match"),
    "wrong feature count": (lambda X, y: (X[:, :1], y), ShapeError, "features"),
    "label out of range": (lambda X, y: (X, np.where(y == 1, 2, y)), InputError, r"\[0, 2\)"),
    "negative label": (lambda X, y: (X, y - 1), InputError, "negative label"),
    "NaN in X": (
        lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.nan, X), y),
        InputError,
        "NaN",
    ),
    "inf in X": (
        lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.inf, X), y),
        InputError,
        "NaN or infinite",
    ),
    "text X": (lambda X, y: (X.astype(str), y), InputError, "numeric"),
    "empty X": (lambda X, y: (X[:0], y[:0]), ShapeError, "empty"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_a_named_value_error(case):
    X, y = snn.datasets.circle_regions(20, seed=0)
    transform, error, match = BAD[case]
    X, y = transform(X, y)
    with pytest.raises(error, match=match) as info:
        snn.mlp([2, 4, 2], rng=0).fit(X, y, epochs=1, verbose=0)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"optimizer": "sgd", "validation_split": 1.5}, "validation_split"),
    ],
)
def test_bad_arguments(kwargs, match):
    X, y = snn.datasets.circle_regions(20, seed=0)
    with pytest.raises(ValueError, match=match):
        snn.mlp([2, 4, 2], rng=0).fit(X, y, verbose=0, **kwargs)


def test_non_positive_learning_rate():
    with pytest.raises(ValueError, match="learning rate"):
        snn.SGD(lr=0.0)


def test_progress_bar_is_shown_when_verbose(capsys):
    X, y = snn.datasets.circle_regions(64, seed=0)
    snn.mlp([2, 4, 2], rng=0).fit(X, y, epochs=2, verbose=1)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    snn.mlp([2, 4, 2], rng=0).fit(X, y, epochs=1, verbose=2)
    assert "epoch 1/1: loss" in capsys.readouterr().out


def test_explicit_four_line_loop_matches_fit():
    X, y = snn.datasets.circle_regions(96, seed=0)
    a, b = snn.mlp([2, 8, 2], rng=0), snn.mlp([2, 8, 2], rng=0)
    a.fit(X, y, optimizer=snn.Adam(lr=0.01), epochs=2, batch_size=32, seed=3, verbose=0)
    loss, opt, rng = snn.SoftmaxCrossEntropy(), snn.Adam(lr=0.01), np.random.default_rng(3)
    X32 = X.astype(np.float32)
    for _ in range(2):
        for Xb, yb in snn.batches(X32, y, 32, rng=rng):
            _, dY = loss(b.forward(Xb), yb)  # forward, loss
            b.backward(dY)  # backward
            opt.step(b.parameters())  # step
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(v, b.state_dict()[k], rtol=1e-6, err_msg=k)


def test_y_none_makes_the_input_the_target_of_an_autoencoder(rng):
    X = rng.standard_normal((64, 3)).astype(np.float32)
    model = snn.mlp([3, 8, 3], rng=0)
    before = model.evaluate(X, X, loss="mse").loss
    history = model.fit(X, None, loss="mse", epochs=30, batch_size=16, seed=0, verbose=0)
    assert history["loss"][-1] < before
    assert model.evaluate(X, None, loss="mse").loss == pytest.approx(
        model.evaluate(X, X, loss="mse").loss
    )


def test_y_none_with_a_classification_loss_is_a_named_error(rng):
    with pytest.raises(InputError, match="y is missing"):
        snn.mlp([3, 4, 2], rng=0).fit(rng.standard_normal((8, 3)), None, verbose=0)


def test_batches_of_an_autoencoder_reuse_the_input_as_target(rng):
    X = rng.standard_normal((10, 2))
    for Xb, Tb in snn.batches(X, X, 4, rng=0):
        assert Tb is Xb


def test_a_loss_with_named_terms_adds_history_columns(rng):
    class TwoPart(snn.MSE):
        def __call__(self, Y, T):
            value, dY = super().__call__(Y, T)
            self._parts = {"half": value / 2, "double": value * 2}
            return value, dY

        def terms(self):
            return dict(self._parts)

    X, y = rng.standard_normal((40, 2)), rng.standard_normal((40, 1))
    model = snn.mlp([2, 4, 1], rng=0)
    history = model.fit(
        X, y, loss=TwoPart(), epochs=2, batch_size=8, validation_data=(X, y), seed=0, verbose=0
    )
    df = history.to_dataframe()
    assert list(df.columns) == [*snn.History.COLUMNS, "half", "double", "val_half", "val_double"]
    np.testing.assert_allclose(df["half"], df["loss"] / 2)
    np.testing.assert_allclose(df["val_double"], df["val_loss"] * 2)
    assert history.history["val_half"] == df["val_half"].tolist()


def test_numpy_scalars_are_accepted_for_every_numeric_setting(tmp_path):
    """np.int64 and np.float64 (from an array, a grid search) are normal input (issue 18)."""
    X, y = snn.datasets.circle_regions(80, seed=0)
    model = snn.mlp([2, 8, 2], rng=0)
    history = model.fit(
        X,
        y,
        epochs=np.int64(2),
        batch_size=np.int64(16),
        validation_split=np.float64(0.25),
        clip_norm=np.float32(1.0),
        checkpoint=tmp_path,
        checkpoint_every=np.int64(1),
        callbacks=[snn.EarlyStopping(patience=np.int64(3))],
        seed=np.int64(0),
        verbose=0,
    )
    assert len(history) == 2
    assert snn.load_checkpoint(tmp_path).settings["epochs"] == 2
