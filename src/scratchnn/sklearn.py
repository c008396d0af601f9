"""scikit-learn estimators that train a scratchnn network: :class:`NeuralNetClassifier`
and :class:`NeuralNetRegressor`.

Each builds a multi-layer perceptron (:func:`scratchnn.models.mlp`) from its constructor
parameters when ``fit`` runs and trains it with :func:`scratchnn.fit`, so it can sit in a
``Pipeline``, be tuned by ``GridSearchCV`` and scored by ``cross_val_score`` like any
scikit-learn estimator. They follow scikit-learn's conventions: ``__init__`` only stores
its arguments (``get_params``/``set_params``/``clone`` come from ``BaseEstimator``), data
is checked with :func:`sklearn.utils.validation.validate_data` (which sets
``n_features_in_`` and ``feature_names_in_``), ``random_state`` makes a fit reproducible,
``partial_fit`` trains one more epoch, and a method called before ``fit`` raises
``sklearn.exceptions.NotFittedError``. The suite runs scikit-learn's
``parametrize_with_checks`` on both (tests/test_sklearn.py).

>>> from sklearn.datasets import make_blobs
>>> X, y = make_blobs(200, centers=3, random_state=0)
>>> clf = NeuralNetClassifier(lr=1e-2, random_state=0).fit(X, y)
>>> clf.classes_, clf.predict_proba(X[:2]).shape, clf.score(X, y) > 0.9
(array([0, 1, 2]), (2, 3), True)

scikit-learn is an optional extra: ``pip install "scratchnn[interop]"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # optional: this module is the only one that needs scikit-learn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:
    raise ImportError(
        'scratchnn.sklearn needs scikit-learn, an optional extra: pip install "scratchnn[interop]"'
    ) from None

from . import optimizers
from .layers.activations import softmax
from .models import mlp
from .training import fit

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

_DTYPES = [np.float64, np.float32]  # inputs of other dtypes become float64


class _NeuralNet(BaseEstimator):
    """What both estimators share: the parameters, building the network, the epochs."""

    _loss = "ce"

    def __init__(
        self,
        hidden: tuple[int, ...] = (64,),
        activation: str = "relu",
        optimizer: str = "adam",
        lr: float = 1e-3,
        epochs: int = 200,
        batch_size: int = 200,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        dtype: str = "float64",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _validate(self, X: Any, y: Any, reset: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` checked for training (``y=None`` is refused with scikit-learn's message)."""
        multi = isinstance(self, RegressorMixin)  # a regressor takes 2-D targets too
        return validate_data(
            self, X, y, dtype=_DTYPES, reset=reset, multi_output=multi, y_numeric=multi
        )

    def _start(self, n_outputs: int) -> None:
        """A new network and optimizer (the random state drawn once, as scikit-learn does)."""
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self._rng = np.random.default_rng(seed)
        sizes = [self.n_features_in_, *self.hidden, n_outputs]
        self.model_ = mlp(sizes, self.activation, self.dropout, rng=self._rng, dtype=self.dtype)
        self.optimizer_ = optimizers.get(self.optimizer, lr=self.lr, weight_decay=self.weight_decay)
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0

    def _train(self, X: np.ndarray, targets: np.ndarray, epochs: int) -> None:
        history = fit(
            self.model_,
            X,
            targets,
            loss=self._loss,
            optimizer=self.optimizer_,
            epochs=epochs,
            batch_size=min(int(self.batch_size), len(X)),
            rng=self._rng,
            verbose=self.verbose,
        )
        self.loss_curve_ += [float(v) for v in history.to_dataframe()["loss"]]
        self.n_iter_ += epochs

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_DTYPES, reset=False)
        return np.asarray(self.model_.predict(X), dtype=np.float64)


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):
    """A classifier: an MLP with ``len(classes_)`` logits, trained with softmax cross-entropy.

    Parameters
    ----------
    hidden : tuple of int
        Sizes of the hidden layers.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}
        Their activation.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"}
        The scratchnn optimizer, with learning rate ``lr`` (η) and ``weight_decay`` (λ, the
        optimizer's own: L2 added to the gradient, decoupled for AdamW).
    epochs : int
        Passes over the data in ``fit``; ``partial_fit`` makes one.
    batch_size : int
        Examples per step (at most the number of examples).
    dropout : float
        Dropout probability after every hidden layer.
    dtype : {"float64", "float32"}
        The network's dtype. float64 by default, as scikit-learn computes, so that a
        prediction does not depend on which other rows share its batch.
    random_state : int, RandomState or None
        Seeds the initial weights, the dropout masks and the order of the examples.
    verbose : int
        scratchnn's progress output: 0 none, 1 a bar per epoch, 2 a line per epoch.

    Attributes
    ----------
    classes_ : ndarray
        The class labels; ``predict`` returns them, ``predict_proba`` has a column for each.
    model_ : scratchnn.Sequential
        The trained network (save it with ``model_.save(path)``, export it with
        :func:`scratchnn.interop.to_onnx`).
    n_features_in_, feature_names_in_, loss_curve_, n_iter_
        As in scikit-learn's ``MLPClassifier``: the mean training loss of every epoch, and
        the number of epochs run.
    """

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Train a new network on ``(X, y)`` for ``epochs`` epochs; returns self."""
        X, y = self._validate(X, y)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y, got one class "
                f"({self.classes_.tolist()[0]!r})"
            )
        self._start(len(self.classes_))
        self._train(X, labels, self.epochs)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        """One more epoch on ``(X, y)``; the first call needs ``classes``, every label there is."""
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError(
                    "the first call to partial_fit needs classes=, every label there is"
                )
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs at least two classes")
            self._start(len(self.classes_))
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y has labels {unknown.tolist()} not in classes_ {self.classes_}")
        self._train(X, np.searchsorted(self.classes_, y), 1)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``softmax(logits)``, one column per entry of ``classes_``."""
        return softmax(self._outputs(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        best = np.argmax(self.predict_proba(X), axis=1)  # checks first that fit has run
        return self.classes_[best]


class NeuralNetRegressor(RegressorMixin, _NeuralNet):
    """A regressor: an MLP with one linear output per target, trained with mean squared error.

    Parameters and attributes as :class:`NeuralNetClassifier`, with ``n_outputs_`` instead
    of ``classes_``; ``y`` may be ``(n,)`` or ``(n, targets)``, and ``predict`` returns the
    same shape.
    Scale the targets if they are large (``TransformedTargetRegressor``): the network
    starts from outputs near zero.
    """

    _loss = "mse"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one output unit per target column
        return tags

    def _start_for(self, y: np.ndarray) -> None:
        self._targets_2d = y.ndim == 2
        self.n_outputs_ = y.shape[1] if self._targets_2d else 1
        self._start(self.n_outputs_)

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train a new network on ``(X, y)`` for ``epochs`` epochs; returns self."""
        X, y = self._validate(X, y)
        self._start_for(y)
        self._train(X, y, self.epochs)
        return self

    def partial_fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """One more epoch on ``(X, y)`` (a new network on the first call)."""
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        if first:
            self._start_for(y)
        self._train(X, y, 1)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The network's outputs: ``(n,)`` for a model fitted on ``(n,)`` targets."""
        Y = self._outputs(X)
        return Y if self._targets_2d else Y[:, 0]
