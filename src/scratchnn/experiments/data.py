"""Datasets by name, split train/validation/test, with one random stream per purpose.

:func:`~scratchnn.experiments.load_dataset` gives raw arrays (a
:class:`~scratchnn.experiments.Data`), before any scaling: that is fitted on the training
split by :mod:`~scratchnn.experiments.transform`.
:func:`~scratchnn.experiments.load_evaluation_data` gives the raw data to evaluate a trained
model on.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import (
    circle_bayes_predict,
    circle_regions,
    find_mnist,
    load_csv,
    load_mnist,
    moons,
    sine,
    spirals,
    square_bayes_predict,
    square_regions,
    xor,
)
from ..errors import InputError, ShapeError
from ..preprocessing import split_indices, train_val_test_indices

__all__ = [
    "DATASETS",
    "Data",
    "DatasetInfo",
    "load_dataset",
    "load_evaluation_data",
    "rng_for",
]

# -- random streams ------------------------------------------------------------------------
_PURPOSES = {"data": 0, "split": 1, "init": 2, "shuffle": 3, "evaluate": 4, "sample": 5}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent stream for one purpose (``"data"``, ``"split"``, ``"init"``, ``"shuffle"``, ``"evaluate"``, ``"sample"``).

    ``default_rng([seed, k])`` seeds a :class:`numpy.random.SeedSequence` with both numbers, so
    the streams of one seed do not overlap and each is reproducible on its own.

    >>> bool(rng_for(0, "data").random() == rng_for(0, "data").random())
    True
    >>> bool(rng_for(0, "data").random() == rng_for(0, "evaluate").random())
    False
    """
    if purpose not in _PURPOSES:
        raise InputError(f"unknown random stream {purpose!r}; one of {', '.join(_PURPOSES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), _PURPOSES[purpose]])


# -- datasets ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: how to get it and the training defaults that suit it."""

    name: str
    kind: str  # "synthetic", "images" or "text" (see scratchnn.experiments.text)
    task: str  # "classification", "regression" or "language model"
    description: str
    make: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    n: int = 0
    num_classes: int | None = None
    best_accuracy: float | None = None
    bayes: Callable[[np.ndarray], np.ndarray] | None = None
    class_names: tuple[str, ...] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# The original project's network; the learning rate decays to ~0 over the epochs (cosine), so
# the last epoch's weights are not a noisy point of a still-bouncing Adam trajectory.
_IMAGE_DEFAULTS = {
    "hidden": (524, 124),
    "epochs": 10,
    "batch_size": 250,
    "lr": 1e-3,
    "lr_schedule": "cosine",
}

#: The datasets known by name; any other ``--dataset`` must be a path to a CSV file.
DATASETS: dict[str, DatasetInfo] = {
    "circle": DatasetInfo(
        "circle",
        "synthetic",
        "classification",
        "two noisy rings (the original project's circle regions)",
        circle_regions,
        n=10_000,
        num_classes=2,
        best_accuracy=0.895,
        bayes=circle_bayes_predict,
    ),
    "square": DatasetInfo(
        "square",
        "synthetic",
        "classification",
        "XOR of four Gaussian blobs (the original project's square regions)",
        square_regions,
        n=10_000,
        num_classes=2,
        best_accuracy=0.955,
        bayes=square_bayes_predict,
    ),
    "moons": DatasetInfo(
        "moons",
        "synthetic",
        "classification",
        "two interleaving half circles",
        moons,
        n=4_000,
        num_classes=2,
    ),
    "spirals": DatasetInfo(
        "spirals",
        "synthetic",
        "classification",
        "three interleaved spiral arms",
        spirals,
        n=6_000,
        num_classes=3,
        defaults={"hidden": (32, 32), "lr": 3e-3, "epochs": 30},
    ),
    "xor": DatasetInfo(
        "xor",
        "synthetic",
        "classification",
        "the XOR problem on [-1, 1]²",
        xor,
        n=4_000,
        num_classes=2,
        best_accuracy=1.0,
        bayes=square_bayes_predict,
    ),
    "sine": DatasetInfo(
        "sine",
        "synthetic",
        "regression",
        "y = sin(x) + N(0, 0.1²) on [-π, π] (regression, MSE)",
        sine,
        n=4_000,
        bayes=lambda X: np.sin(X[:, 0]),
        defaults={"hidden": (32, 32), "activation": "tanh", "lr": 1e-2, "epochs": 40},
    ),
    "mnist": DatasetInfo(
        "mnist",
        "images",
        "classification",
        "handwritten digits, 60,000 + 10,000 images of 28×28",
        num_classes=10,
        defaults=_IMAGE_DEFAULTS,
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist",
        "images",
        "classification",
        "Zalando's clothing images in MNIST's format",
        num_classes=10,
        class_names=FASHION_CLASSES,
        defaults=_IMAGE_DEFAULTS,
    ),
    "names": DatasetInfo(
        "names",
        "text",
        "language model",
        "32,033 first names, one a line (makemore): character-level language models",
        n=32_033,
        defaults={"model": "gpt"},
    ),
}


@dataclass
class Data:
    """A dataset split into raw train/validation/test arrays (before any scaling).

    Images are kept as ``uint8`` arrays ``(N, H, W)`` and ``image_shape`` is ``(C, H, W)``;
    tabular data is ``(N, D)``. ``y`` holds class indices (classification) or values.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list[Any] | None = None
    feature_names: list[str] | None = None
    image_shape: tuple[int, ...] | None = None
    target: str | None = None
    source: str = ""
    info: DatasetInfo | None = None

    @property
    def num_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    @property
    def input_size(self) -> int:
        """Features per example once flattened."""
        return int(np.prod(self.X_train.shape[1:]))

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.X_train), len(self.X_val), len(self.X_test)

    @property
    def is_2d(self) -> bool:
        return self.image_shape is None and self.X_train.ndim == 2 and self.X_train.shape[1] == 2


def _is_csv(name: str) -> bool:
    return name.lower().endswith((".csv", ".csv.gz", ".txt")) or os.path.sep in name


def _split(
    name: str,
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    val_split: float,
    test_split: float,
    seed: int,
) -> tuple[np.ndarray, ...]:
    if not 0 < test_split < 1:
        raise InputError(f"--test-split must be between 0 and 1 (exclusive), got {test_split:g}")
    if not 0 <= val_split < 1 or val_split + test_split >= 1:
        raise InputError(
            f"--val-split {val_split:g} and --test-split {test_split:g} leave nothing to train "
            "on; make them smaller"
        )
    stratify = task == "classification"
    try:
        train, val, test = train_val_test_indices(
            len(X), val_split, test_split, y if stratify else None, stratify, rng_for(seed, "split")
        )
    except ShapeError:  # e.g. 20 % of 3 rows rounds to no test example
        train = np.empty(0, dtype=np.intp)
    if len(train) == 0 or len(test) == 0:
        raise ShapeError(
            f"{name}: {len(X)} examples are too few to split into training, validation "
            f"({val_split:g}) and test ({test_split:g}) parts; use more data, or other "
            "--val-split/--test-split (--val-split 0 for no validation)"
        )
    return X[train], y[train], X[val], y[val], X[test], y[test]


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    val_split: float = 0.1,
    test_split: float = 0.2,
    target: str = "label",
    task: str = "auto",
) -> Data:
    """Load a dataset by name (:data:`DATASETS`) or from a CSV path, split train/val/test.

    - Synthetic sets draw ``n`` points (the dataset's default if ``None``) from the seed's
      ``"data"`` stream and split them, stratified, with the ``"split"`` stream.
    - MNIST-format sets read the four IDX files (``data_dir``, ``$SCRATCHNN_DATA/<name>``, the
      cache); the official 10,000 test images are the test set (``test_split`` is not used) and
      ``val_split`` of the 60,000 training images are held out for validation.
    - CSV files are read with :func:`~scratchnn.datasets.load_csv` (``target`` column,
      ``task``) and split like synthetic sets.
    """
    key = str(name).lower()
    info = DATASETS.get(key)
    if info is not None and info.kind == "synthetic":
        count = info.n if n is None else n
        X, y = info.make(count, rng=rng_for(seed, "data"))
        parts = _split(key, info.task, X, y, val_split, test_split, seed)
        classes = list(range(info.num_classes)) if info.num_classes else None
        names = ["x", "y"] if X.shape[1] == 2 else ["x"]
        return Data(
            key,
            info.task,
            *parts,
            classes=classes,
            feature_names=names,
            source=f"generated: {count:,} points, seed {seed}",
            info=info,
        )
    if info is not None and info.kind == "images":
        (X, y), (X_test, y_test) = load_mnist(data_dir, name=key)
        directory = _mnist_source(data_dir, key)
        if val_split > 0:
            train, val = split_indices(len(X), val_split, y, True, rng_for(seed, "split"))
        else:
            train, val = np.arange(len(X)), np.empty(0, dtype=np.intp)
        classes = list(info.class_names) if info.class_names else list(range(10))
        y, y_test = y.astype(np.int64), y_test.astype(np.int64)
        if y.max() >= len(classes) or y_test.max() >= len(classes):
            raise InputError(f"{directory}: labels go up to {int(y.max())}; expected 0..9")
        return Data(
            key,
            "classification",
            X[train],
            y[train],
            X[val],
            y[val],
            X_test,
            y_test,
            classes=classes,
            image_shape=(1, *X.shape[1:]),
            source=str(directory),
            info=info,
        )
    if info is not None and info.kind == "text":
        raise InputError(_text_dataset(key))
    if info is None and (_is_csv(str(name)) or Path(name).is_file()):
        table = load_csv(name, target=target, task=task)
        parts = _split(str(name), table.task, table.X, table.y, val_split, test_split, seed)
        return Data(
            Path(name).stem,
            table.task,
            *parts,
            classes=table.classes,
            feature_names=table.feature_names,
            target=table.target,
            source=str(Path(name)),
        )
    raise InputError(unknown_dataset(name))


def unknown_dataset(name: Any) -> str:
    """The one-line message for a dataset name that is neither known nor a file."""
    close = difflib.get_close_matches(str(name).lower(), list(DATASETS), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown dataset {name!r}; {hint}choose one of {', '.join(DATASETS)} or pass a path "
        "to a .csv file"
    )


def _text_dataset(name: str) -> str:
    return (
        f"{name} is text, for the language models: train one with 'scratchnn train --dataset "
        f"{name} --model gpt' (or bigram, mlp, rnn, lstm) and score a file of names with "
        "'scratchnn evaluate --model RUN --input FILE'"
    )


def _mnist_source(data_dir: Any, name: str) -> Path:
    return find_mnist(data_dir, name=name)


def load_evaluation_data(
    metadata: Mapping[str, Any],
    dataset: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n: int | None = None,
    seed: int | None = None,
    target: str | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Raw ``(X, y, description)`` to evaluate a trained model on.

    - a synthetic dataset: a *fresh* sample of ``n`` points (100,000 by default) from the
      ``"evaluate"`` stream of ``seed`` (the model's training seed by default), which training
      never draws from;
    - an MNIST-format dataset: its official test set;
    - a CSV file: every row, with the model's feature columns and label mapping.
    """
    key = str(dataset).lower()
    info = DATASETS.get(key)
    seed = int(metadata.get("seed", 0)) if seed is None else seed
    if info is not None and info.kind == "synthetic":
        count = 100_000 if n is None else n
        X, y = info.make(count, rng=rng_for(seed, "evaluate"))
        return X, y, f"fresh sample: {count:,} points from stream 'evaluate' of seed {seed}"
    if info is not None and info.kind == "images":
        _, (X_test, y_test) = load_mnist(data_dir, name=key)
        return X_test, y_test.astype(np.int64), f"test set of {_mnist_source(data_dir, key)}"
    if info is not None and info.kind == "text":
        raise InputError(_text_dataset(key))
    if info is None and (_is_csv(str(dataset)) or Path(dataset).is_file()):
        table = load_csv(
            dataset,
            target=target or metadata.get("target") or "label",
            task=metadata.get("task", "auto"),
            features=metadata.get("feature_names"),
            classes=metadata.get("classes") if metadata.get("task") == "classification" else None,
        )
        return table.X, table.y, f"all {len(table.X):,} rows of {dataset}"
    raise InputError(unknown_dataset(dataset))
