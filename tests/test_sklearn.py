"""The scikit-learn estimators: scikit-learn's own checks, and use with its tools."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_blobs, make_regression  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from scratchnn.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402


def expected_failed_checks(estimator):
    """Checks expected to fail, with the reason for each: none. Both estimators pass every
    check of scikit-learn 1.9 (legacy ones included); ``xfail_strict`` would turn an entry
    added here that passes into a failure."""
    return {}


@parametrize_with_checks(
    [NeuralNetClassifier(), NeuralNetRegressor()],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(300, centers=3, n_features=4, cluster_std=2.0, random_state=0)


def test_pipeline_grid_search_and_cross_validation(blobs):
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(epochs=30, random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.85
    search = GridSearchCV(
        pipe, {"neuralnetclassifier__hidden": [(4,), (16,)], "neuralnetclassifier__lr": [1e-2]}
    )
    search.fit(X, y)
    assert set(search.best_params_) == {"neuralnetclassifier__hidden", "neuralnetclassifier__lr"}
    assert search.score(X, y) > 0.85


def test_fits_are_reproducible_and_clones_start_over(blobs):
    X, y = blobs
    a = NeuralNetClassifier(epochs=5, random_state=3).fit(X, y)
    b = clone(a)
    with pytest.raises(NotFittedError):
        b.predict(X)
    np.testing.assert_array_equal(b.fit(X, y).predict_proba(X), a.predict_proba(X))
    assert len(a.loss_curve_) == a.n_iter_ == 5
    assert a.model_.dtype == np.float64 and a.model_[0].in_features == 4


def test_partial_fit_trains_one_epoch_at_a_time(blobs):
    X, y = blobs
    clf = NeuralNetClassifier(hidden=(8,), lr=1e-2, random_state=0)
    with pytest.raises(ValueError, match="classes="):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 21 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:3], [0, 1, 7])


def test_regressor_fits_one_or_several_targets():
    X, y = make_regression(200, n_features=5, n_targets=2, noise=0.1, random_state=0)
    y = StandardScaler().fit_transform(y)
    reg = NeuralNetRegressor(hidden=(32,), lr=1e-2, epochs=100, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.n_outputs_ == 2
    assert reg.score(X, y) > 0.9
    single = clone(reg).fit(X, y[:, 0])
    assert single.predict(X).shape == (200,) and single.score(X, y[:, 0]) > 0.9


def test_string_labels_and_the_other_hyperparameters(blobs):
    X, y = blobs
    names = np.array(["cat", "dog", "emu"])[y]
    clf = NeuralNetClassifier(
        hidden=(16, 8),
        activation="tanh",
        optimizer="sgd",
        lr=0.05,
        batch_size=32,
        dropout=0.1,
        weight_decay=1e-4,
        dtype="float32",
        epochs=20,
        random_state=0,
    ).fit(X, names)
    assert clf.model_.dtype == np.float32 and clf.optimizer_.hyperparameters()["weight_decay"]
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"} and clf.score(X, names) > 0.8


def test_without_scikit_learn_the_message_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import sklearn...` fail
    monkeypatch.delitem(sys.modules, "scratchnn.sklearn")
    with pytest.raises(ImportError, match=r'pip install "scratchnn\[interop\]"'):
        importlib.import_module("scratchnn.sklearn")
    monkeypatch.undo()  # give later tests the real module back
    assert importlib.import_module("scratchnn.sklearn").NeuralNetClassifier is NeuralNetClassifier
