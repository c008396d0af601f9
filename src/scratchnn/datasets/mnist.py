"""MNIST and MNIST-format datasets from a directory of the four standard IDX files.

Where the files are looked for, in order:

1. the ``data_dir`` argument (``--data-dir`` on the command line),
2. ``$SCRATCHNN_DATA/mnist`` (and ``$SCRATCHNN_DATA`` itself),
3. the per-user cache, ``$XDG_CACHE_HOME/scratchnn/mnist`` (``~/.cache/scratchnn/mnist``).

Any directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``) works,
so Fashion-MNIST and other drop-in replacements load the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._files import cache_dir, find_data_dir
from .idx import read_idx

__all__ = ["MAX_CLASS_LABEL", "MNIST_FILES", "cache_dir", "find_mnist", "load_mnist"]

#: The four standard file names (without ``.gz``).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


#: The largest class label a label file may hold (the int32 range).
MAX_CLASS_LABEL = 2**31 - 1


def _class_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    """``labels`` checked to be class indices 0 .. MAX_CLASS_LABEL; whole floats as int64."""
    if labels.dtype.kind == "f":
        bad = ~np.isfinite(labels)
        with np.errstate(invalid="ignore"):
            bad |= labels != np.round(labels)
        bad |= (labels < 0) | (labels > MAX_CLASS_LABEL)
        what = "is not a class index"
    else:
        bad = labels < 0
        what = "is negative"
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}: label {labels[first].item()!r} at index {first} {what}; class labels "
            f"must be whole numbers from 0 to {MAX_CLASS_LABEL}"
        )
    return labels.astype(np.int64) if labels.dtype.kind == "f" else labels


def _file_in(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _has_all(directory: Path) -> bool:
    return all(_file_in(directory, stem) for stem in MNIST_FILES.values())


def find_mnist(data_dir: str | os.PathLike[str] | None = None, name: str = "mnist") -> Path:
    """The first directory holding all four IDX files (see the module docstring for the order)."""

    def missing(directory: Path) -> str:
        absent = [s for s in MNIST_FILES.values() if _file_in(directory, s) is None]
        return (
            f"{directory}: missing {', '.join(absent)} (.gz or raw); point --data-dir at a "
            "directory with the four MNIST-format IDX files"
        )

    return find_data_dir(data_dir, name, _has_all, missing, f", or run 'scratchnn download {name}'")


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None, name: str = "mnist"
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(X_train, y_train), (X_test, y_test)`` as uint8 arrays, images of shape ``(N, 28, 28)``.

    Scale them yourself (``X / 255``, as float32) before training; the raw bytes are returned
    so that nothing is decided for you and the memory stays small (47 MiB for the training set).

    Labels must be whole numbers from 0 to :data:`MAX_CLASS_LABEL`: a label file of another
    integer type is returned as it is, a float label file with whole values as int64, and a
    negative, fractional, infinite or too large label is a one-line
    :class:`~scratchnn.errors.InputError` naming the file and the first such label (rather
    than 2.5 silently becoming class 2).
    """
    directory = find_mnist(data_dir, name)
    arrays = {key: read_idx(_file_in(directory, stem)) for key, stem in MNIST_FILES.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise InputError(
                f"{directory}: {part} images must be 3-D and labels 1-D, got shapes "
                f"{images.shape} and {labels.shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise InputError(
                f"{directory}: {images.shape[0]} {part} images but {labels.shape[0]} labels; "
                "the files do not belong together"
            )
        label_file = _file_in(directory, MNIST_FILES[f"{part}_labels"])
        arrays[f"{part}_labels"] = _class_labels(label_file, labels)
    return (arrays["train_images"], arrays["train_labels"]), (
        arrays["test_images"],
        arrays["test_labels"],
    )
