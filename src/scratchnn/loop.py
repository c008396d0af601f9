"""The training loop, the lesson of the package: one step is four lines.

::

    Y = model.forward(Xb, training=True)        # forward: the batch's outputs
    value, dY = loss(Y, Tb)                      # loss, and dY = ∂L/∂Y  (a batch mean)
    model.backward(dY)                           # backward: sets every parameter's gradient
    optimizer.step(model.parameters())           # step: update every parameter in place

:func:`train_step` is exactly those lines. An epoch visits every training example once,
in the order of a permutation drawn from an explicit :class:`numpy.random.Generator`
(:func:`epoch_order`; a permutation, not sampling with replacement), in batches of
``batch_size`` rows (:func:`take_batch`; the last batch may be smaller, a batch of one is
just a batch)::

    for epoch in range(epochs):
        order = epoch_order(len(X), shuffle=True, rng=rng)
        for b in range(n_batches):
            Xb, Tb = take_batch(X, T, order, b, batch_size)
            value, Y = train_step(model, loss, optimizer, Xb, Tb)

That is all of training. :func:`scratchnn.fit` runs this loop and calls hooks around it
(progress, checkpoints, signals, divergence, early stopping), each defined in its own file
under :mod:`scratchnn.training`; none of them reaches into the step.

>>> import numpy as np
>>> import scratchnn as snn
>>> X, y = snn.datasets.circle_regions(64, seed=0)
>>> model = snn.mlp([2, 8, 2], rng=0)
>>> loss, optimizer = snn.SoftmaxCrossEntropy(), snn.Adam(lr=0.01)
>>> X, T = prepare_data(model, X, y, loss)
>>> rng = np.random.default_rng(0)
>>> for epoch in range(3):
...     order = epoch_order(len(X), shuffle=True, rng=rng)
...     for b in range(num_batches(len(X), 16)):
...         value, Y = train_step(model, loss, optimizer, *take_batch(X, T, order, b, 16))
>>> optimizer.t
12
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

import numpy as np

from . import losses as losses_mod
from ._validation import as_generator, check_positive
from .errors import InputError
from .losses import Loss
from .optimizers import Optimizer

__all__ = [
    "Evaluation",
    "Trainable",
    "batches",
    "epoch_order",
    "evaluate",
    "evaluate_means",
    "num_batches",
    "prepare_data",
    "take_batch",
    "train_step",
]


class Trainable(Protocol):
    """What the loop needs of a model: the module interface plus its input check."""

    dtype: np.dtype
    output_dim: int | None

    def forward(self, X: Any, training: bool = True) -> Any: ...

    def backward(self, dY: Any, input_grad: bool = True) -> Any: ...

    def parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]: ...

    def check_input(self, X: Any, name: str = "X") -> np.ndarray: ...


class Evaluation(NamedTuple):
    """Mean loss and accuracy over a dataset (``nan`` accuracy for regression)."""

    loss: float
    accuracy: float


# -- one step -----------------------------------------------------------------------------
def train_step(
    model: Trainable, loss: Loss, optimizer: Optimizer, Xb: np.ndarray, Tb: np.ndarray
) -> tuple[float, Any]:
    """One step of gradient descent on the batch ``(Xb, Tb)``; returns ``(loss value, Y)``.

    ``input_grad=False`` skips ∂L/∂X of the first layer: the data are not trained, so that
    matrix product would be thrown away.
    """
    Y = model.forward(Xb, training=True)
    value, dY = loss(Y, Tb)
    model.backward(dY, input_grad=False)
    optimizer.step(model.parameters())
    return value, Y


# -- the order of an epoch ----------------------------------------------------------------
def num_batches(n: int, batch_size: int) -> int:
    """Batches in an epoch of ``n`` examples: ``ceil(n / batch_size)``."""
    return math.ceil(n / batch_size)


def epoch_order(
    n: int, shuffle: bool = True, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """The order an epoch visits ``n`` examples in: a random permutation, or ``0..n-1``.

    The order is a value, drawn once at the start of the epoch, so a run interrupted in the
    middle of an epoch resumes exactly by saving it with the index of the next batch.

    >>> epoch_order(5, shuffle=False).tolist()
    [0, 1, 2, 3, 4]
    >>> sorted(epoch_order(5, rng=0).tolist())
    [0, 1, 2, 3, 4]
    """
    if not shuffle:
        return np.arange(n)
    return as_generator(rng).permutation(n)


def take_batch(
    X: np.ndarray,
    T: np.ndarray,
    order: np.ndarray,
    b: int,
    batch_size: int,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch ``b`` of an epoch: the rows ``order[b·batch_size : (b+1)·batch_size]``.

    With ``out`` (a buffer of at least ``batch_size`` rows) the rows of ``X`` are gathered
    into it instead of a new array, so the batch is only valid until the next call. When
    the target is the input itself (an autoencoder, ``T is X``) the same batch is returned
    twice.
    """
    idx = order[b * batch_size : (b + 1) * batch_size]
    if out is None:
        Xb = X[idx]
    else:
        Xb = out[: idx.shape[0]]
        # mode="clip" cannot clip anything (the order holds valid rows) but, unlike the
        # default "raise", gathers straight into Xb instead of through a temporary copy
        np.take(X, idx, axis=0, out=Xb, mode="clip")
    return Xb, (Xb if T is X else T[idx])


def batches(
    X: np.ndarray,
    T: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, T_batch)`` covering every example once, in a random order if ``shuffle``.

    The order is drawn when this function is called. With shuffling, each batch is gathered
    into one reused buffer, so the batch arrays are only valid until the next one.

    >>> X, T = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> [tb.tolist() for _, tb in batches(X, T, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    check_positive(batch_size, "batch_size", integer=True)
    n = X.shape[0]
    order = epoch_order(n, shuffle, rng)
    buffer = np.empty((min(batch_size, n), *X.shape[1:]), dtype=X.dtype) if shuffle else None
    return _batches(X, T, order, batch_size, buffer)


def _batches(X, T, order, batch_size, buffer) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if buffer is None:  # in order: slices are views, no copy at all
        for start in range(0, X.shape[0], batch_size):
            yield X[start : start + batch_size], T[start : start + batch_size]
        return
    for b in range(num_batches(X.shape[0], batch_size)):
        yield take_batch(X, T, order, b, batch_size, out=buffer)


# -- data in, means out -------------------------------------------------------------------
def prepare_data(
    model: Trainable, X: Any, y: Any, loss: Loss, name: str = "X"
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, T)`` checked and converted once: inputs in the model's dtype, targets as the
    loss wants them (``y=None`` makes ``X`` the target, as an autoencoder's)."""
    if not callable(getattr(model, "check_input", None)):
        raise InputError(
            f"{type(model).__name__} is a module but not a model: wrap it to train it, e.g. "
            "Sequential(block), or subclass scratchnn.Model"
        )
    X = model.check_input(X, name=name)
    if y is None and loss.is_classification:
        raise InputError(
            f"y is missing: {loss!r} needs targets; pass y (y=None, 'the target is X', "
            "is for autoencoder losses such as MSE or a VAE's)"
        )
    T = loss.prepare_target(X if y is None else y, X.shape[0], model.output_dim, model.dtype)
    return X, T


def evaluate_means(
    model: Trainable, X: np.ndarray, T: np.ndarray, loss: Loss, batch_size: int
) -> dict[str, float]:
    """``{"loss", "accuracy", **loss.terms()}`` in evaluation mode, each a mean over examples."""
    total_loss = 0.0
    total_correct = 0.0
    term_totals: dict[str, float] = {}
    for Xb, Tb in batches(X, T, batch_size, shuffle=False):
        Y = model.forward(Xb, training=False)
        value, _ = loss(Y, Tb)
        total_loss += value * Xb.shape[0]
        for key, term in loss.terms().items():
            term_totals[key] = term_totals.get(key, 0.0) + term * Xb.shape[0]
        if loss.is_classification:
            total_correct += loss.accuracy(Y, Tb) * Xb.shape[0]
    n = X.shape[0]
    accuracy = total_correct / n if loss.is_classification else float("nan")
    return {
        "loss": total_loss / n,
        "accuracy": accuracy,
        **{k: v / n for k, v in term_totals.items()},
    }


def evaluate(
    model: Trainable, X: Any, y: Any, loss: str | Loss = "ce", batch_size: int = 1024
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``(X, y)`` in evaluation mode, in batches."""
    check_positive(batch_size, "batch_size", integer=True)
    loss = losses_mod.get(loss)
    X, T = prepare_data(model, X, y, loss)
    means = evaluate_means(model, X, T, loss, batch_size)
    return Evaluation(means["loss"], means["accuracy"])
