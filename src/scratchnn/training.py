"""The training loop: :func:`fit`, :func:`evaluate`, :class:`History` and callbacks.

``fit`` is the four-line loop (forward, loss, backward, step) run over shuffled
mini-batches for some epochs, with bookkeeping around it::

    for epoch in range(epochs):
        for Xb, Tb in batches(X, T, batch_size, rng=rng):
            Y = model.forward(Xb)
            value, dY = loss(Y, Tb)
            model.backward(dY)
            optimizer.step(model.parameters())

Every epoch visits each training example exactly once, in a fresh random order drawn
from an explicit :class:`numpy.random.Generator` (a permutation, not sampling with
replacement). A batch of one example is just a batch.

Checkpoints, exact resume, clean stops on SIGINT/SIGTERM and what happens on divergence
are the business of :class:`~scratchnn.training_run.TrainingRun`, which ``fit`` calls
around the loop (see :mod:`scratchnn.checkpoint` for the file).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import checkpoint as checkpoint_mod
from . import losses as losses_mod
from . import optimizers as optimizers_mod
from . import schedules as schedules_mod
from ._validation import as_generator, check_fraction, check_positive
from .errors import InputError, ShapeError
from .model import Evaluation
from .training_run import TrainingRun

if TYPE_CHECKING:
    from .model import Sequential

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "batches",
    "evaluate",
    "fit",
]


# -- History ------------------------------------------------------------------------------
class History:
    """Per-epoch record of a training run.

    Columns: ``epoch`` (1-based), ``loss``, ``accuracy`` (training, averaged over the epoch's
    batches as they were seen), ``val_loss``, ``val_accuracy`` (``nan`` without validation
    data, accuracy ``nan`` for regression), ``lr`` and ``seconds`` (wall time of the epoch's
    training steps). A loss with named parts (:meth:`Loss.terms`, e.g. a VAE's ``recon`` and
    ``kl``) adds one column per part, and ``val_<part>`` with validation data.

    >>> h = History()
    >>> h.append(epoch=1, loss=0.5, accuracy=0.8, lr=0.001, seconds=1.0)
    >>> h["loss"]
    [0.5]
    >>> list(h.to_dataframe().columns)
    ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds']
    """

    COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")

    def __init__(self, records: Iterable[dict[str, float]] = ()) -> None:
        self.records: list[dict[str, float]] = [dict(r) for r in records]

    def append(self, **record: float) -> None:
        """Add one epoch's values; missing columns are ``nan``."""
        row = {key: float("nan") for key in self.COLUMNS}
        row.update({k: (int(v) if k == "epoch" else float(v)) for k, v in record.items()})
        self.records.append(row)

    @property
    def columns(self) -> list[str]:
        """The standard :attr:`COLUMNS`, then any extra ones in the order they first appear."""
        columns = list(self.COLUMNS)
        for record in self.records:
            columns += [key for key in record if key not in columns]
        return columns

    def __getitem__(self, column: str) -> list[float]:
        if self.records and column not in self.records[0]:
            raise KeyError(f"History has no column {column!r}; columns are {self.columns}")
        return [r[column] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs)"

    @property
    def history(self) -> dict[str, list[float]]:
        """Keras-style ``{column: [value per epoch]}``."""
        return {column: self[column] for column in self.columns} if self.records else {}

    def to_dataframe(self) -> pd.DataFrame:
        """One row per epoch, one column per metric."""
        return pd.DataFrame(self.records, columns=self.columns)

    def to_csv(self, path: Any) -> None:
        """Write :meth:`to_dataframe` as CSV without the index."""
        self.to_dataframe().to_csv(path, index=False)


# -- callbacks -----------------------------------------------------------------------------
class Callback:
    """Hooks called by :func:`fit`; override the ones you need.

    ``self.model`` is set before ``on_train_begin``; setting ``self.model.stop_training =
    True`` ends training after the current epoch. ``logs`` holds the epoch's History row.
    """

    model: Sequential

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def on_train_begin(self, logs: dict[str, float]) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, logs: dict[str, float]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep for an exact resume (numbers, strings, arrays); none here."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output, after ``on_train_begin`` of a resumed run."""


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A History column: ``"val_loss"`` (default), ``"val_accuracy"``, ``"loss"``, ...
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` chooses max for accuracies.
    restore_best_weights : bool
        At the end, copy back the parameters of the best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise InputError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise InputError(f"patience must be a non-negative integer, got {patience!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(float(min_delta))
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.restore_best_weights = restore_best_weights
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._best_state: dict[str, np.ndarray] | None = None

    def on_train_begin(self, logs):
        self.best, self.best_epoch, self.stopped_epoch, self._wait = None, None, None, 0
        self._best_state = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None or math.isnan(value):
            raise InputError(
                f"EarlyStopping monitors {self.monitor!r}, which this run does not record; "
                "pass validation data (validation_data or validation_split) or monitor 'loss'"
            )
        if self._improved(value):
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = self.model.state_dict()
        else:
            self._wait += 1
            if self._wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self._best_state is not None:
            self.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "wait": self._wait,
            "best_state": self._best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best_state = state["best_state"]
        if not (best_state is None or isinstance(best_state, dict)) or not (
            state["best"] is None or isinstance(state["best"], (int, float))
        ):
            raise ValueError("best and best_state must be a number and parameters, or null")
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.stopped_epoch, self._wait = state["stopped_epoch"], state["wait"]
        self._best_state = state["best_state"]


# -- batches ------------------------------------------------------------------------------
def batches(
    X: np.ndarray,
    T: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, T_batch)`` covering every example once, in a random order if ``shuffle``.

    With shuffling, each batch is gathered into one reused contiguous buffer, so the
    batch arrays are only valid until the next one is yielded.

    >>> X, T = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> [tb.tolist() for _, tb in batches(X, T, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    check_positive(batch_size, "batch_size", integer=True)
    n = X.shape[0]
    if not shuffle:
        for start in range(0, n, batch_size):
            yield X[start : start + batch_size], T[start : start + batch_size]
        return
    order = as_generator(rng).permutation(n)
    X_buf = np.empty((min(batch_size, n), *X.shape[1:]), dtype=X.dtype)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        Xb = X_buf[: idx.shape[0]]
        # mode="clip" cannot clip anything (a permutation is always in range) but, unlike the
        # default "raise", gathers straight into Xb instead of through a temporary copy
        np.take(X, idx, axis=0, out=Xb, mode="clip")
        yield Xb, (Xb if T is X else T[idx])  # an autoencoder's target is its input


# -- evaluate -----------------------------------------------------------------------------
def _prepare(model: Sequential, X: Any, y: Any, loss: losses_mod.Loss, name: str = "X"):
    X = model._check_input(X, name=name)
    if y is None and loss.is_classification:
        raise InputError(
            f"y is missing: {loss!r} needs targets; pass y (y=None, 'the target is X', "
            "is for autoencoder losses such as MSE or a VAE's)"
        )
    T = loss.prepare_target(X if y is None else y, X.shape[0], model.output_dim, model.dtype)
    return X, T


def evaluate(
    model: Sequential, X: Any, y: Any, loss: str | losses_mod.Loss = "ce", batch_size: int = 1024
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``(X, y)`` in evaluation mode, in batches."""
    check_positive(batch_size, "batch_size", integer=True)
    loss = losses_mod.get(loss)
    X, T = _prepare(model, X, y, loss)
    return _evaluate_prepared(model, X, T, loss, batch_size)


def _evaluate_prepared(model, X, T, loss, batch_size) -> Evaluation:
    means = _evaluate_means(model, X, T, loss, batch_size)
    return Evaluation(means["loss"], means["accuracy"])


def _evaluate_means(model, X, T, loss, batch_size) -> dict[str, float]:
    """``{"loss", "accuracy", **loss.terms()}``, each a mean over the examples."""
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


# -- fit ----------------------------------------------------------------------------------
def _progress(total: int, desc: str, verbose: int, initial: int = 0):
    if verbose != 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="batch",
        leave=True,
        dynamic_ncols=True,
        mininterval=0.2,
    )


def _grad_sq_norm(model: Sequential) -> float:
    return sum(float(np.vdot(g, g)) for _, _, g in model.parameters())


def _hold_out(X, T, validation_split, rng):
    """Split ``(X, T)`` at random into training and validation parts."""
    n_val = int(round(X.shape[0] * validation_split))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ShapeError(
            f"validation_split={validation_split} leaves {n_val} of {X.shape[0]} examples "
            "for validation; use more data or another split"
        )
    order = rng.permutation(X.shape[0])
    return X[order[n_val:]], T[order[n_val:]], X[order[:n_val]], T[order[:n_val]]


def fit(
    model: Sequential,
    X: Any,
    y: Any,
    *,
    loss: str | losses_mod.Loss = "ce",
    optimizer: str | optimizers_mod.Optimizer = "adam",
    epochs: int = 10,
    batch_size: int = 32,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    callbacks: Iterable[Callback] = (),
    verbose: int = 1,
    lr_schedule: schedules_mod.Schedule | None = None,
    clip_norm: float | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool | str | checkpoint_mod.Checkpoint = False,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches; returns the :class:`History`.

    Parameters
    ----------
    model : Sequential
        The model; its parameters are updated in place.
    X : array-like, shape (N, ...)
        Training inputs, converted once to the model's dtype (float32 stays float32).
    y : array-like or None
        Targets as the loss expects them: integer labels ``(N,)`` or one-hot ``(N, C)`` for
        ``"ce"``, 0/1 for ``"bce"``, values for ``"mse"``; ``None`` makes ``X`` itself the
        target (an autoencoder, such as :class:`~scratchnn.models.VAE`).
    loss : str or Loss
        ``"ce"`` (softmax cross-entropy from logits), ``"bce"``, ``"mse"`` or a Loss instance.
    optimizer : str or Optimizer
        ``"adam"`` (default, lr 1e-3), ``"sgd"``, ``"adamw"``, ``"rmsprop"`` or an instance.
    epochs, batch_size : int
        Passes over the data (in total, counting those of a resumed run) and examples per
        step (the last batch may be smaller).
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch.
    validation_split : float
        Fraction of ``(X, y)`` held out at random for validation (ignored if
        ``validation_data`` is given).
    shuffle : bool
        Visit the examples in a new random order every epoch.
    seed, rng : int or Generator, optional
        Source of the shuffling and of the validation split; give one for a reproducible run.
    callbacks : iterable of Callback
        E.g. :class:`EarlyStopping`.
    verbose : int
        0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    lr_schedule : Schedule, optional
        Sets ``optimizer.lr`` at the start of every epoch from the initial rate.
    clip_norm : float, optional
        Clip the global gradient norm to this value before every step.
    checkpoint : str or os.PathLike, optional
        A run directory: ``checkpoint.npz`` (everything needed to continue exactly) and
        ``history.csv`` are replaced atomically every ``checkpoint_every`` epochs, at the
        end, on SIGINT/SIGTERM and (History only) on divergence. See
        :mod:`scratchnn.checkpoint`.
    checkpoint_every : int
        Epochs between checkpoints.
    resume : bool or "auto"
        Continue the run saved in ``checkpoint`` until ``epochs`` epochs in total, with the
        same data and settings (``"auto"``: if there is one). Without it an existing
        checkpoint is an error rather than overwritten.

    Raises
    ------
    InputError
        Bad data or arguments (mismatched lengths, wrong feature count, labels out of range,
        NaN in X, non-positive batch size or learning rate), or a resume that does not match
        its checkpoint.
    OutputError
        The checkpoint directory cannot be written (checked before training) or a checkpoint
        write failed (disk full); the previous checkpoint is unchanged.
    DivergenceError
        The loss, a gradient or a parameter became NaN or infinite; the message names the
        epoch and batch; the last good checkpoint is kept.
    TrainingInterrupted
        SIGINT or SIGTERM arrived: the current step was finished and a checkpoint saved.
    """
    loss = losses_mod.get(loss)
    optimizer = optimizers_mod.get(optimizer)
    check_positive(epochs, "epochs", integer=True)
    check_positive(batch_size, "batch_size", integer=True)
    check_fraction(validation_split, "validation_split")
    if clip_norm is not None:
        check_positive(clip_norm, "clip_norm")
    if seed is not None and rng is not None:
        raise InputError("pass either seed or rng to fit, not both")
    rng = as_generator(rng if rng is not None else seed)
    schedule = schedules_mod.get(lr_schedule)
    callbacks = list(callbacks)

    X, T = _prepare(model, X, y, loss)
    X_val = T_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise InputError("validation_data must be a pair (X_val, y_val)")
        X_val, T_val = _prepare(model, *validation_data, loss, name="X_val")
    run = TrainingRun.begin(
        checkpoint,
        resume,
        every=checkpoint_every,
        model=model,
        optimizer=optimizer,
        callbacks=callbacks,
        rng=rng,
        data=(X, T, X_val, T_val),
        settings=checkpoint_mod.fit_settings(
            loss=loss,
            optimizer=optimizer,
            lr_schedule=schedule,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data is not None,
            validation_split=validation_split if validation_data is None else 0.0,
            shuffle=bool(shuffle),
            clip_norm=clip_norm,
            checkpoint_every=checkpoint_every,
        ),
    )
    if validation_data is None and validation_split > 0:
        X, T, X_val, T_val = _hold_out(X, T, validation_split, run.split_rng)
    rng, history = run.rng, run.history
    if run.resumed_from is not None and verbose:
        stopped = " (stopped early by a callback: nothing to do)" if run.stopped else ""
        print(f"resuming {run.path} after epoch {run.epoch} of {epochs}{stopped}")

    model.stop_training = False
    base_lr = optimizer.initial_lr
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin({})
    run.restore_callbacks()
    n_batches = math.ceil(X.shape[0] / batch_size)

    with run.catch_signals():
        for epoch in run.epochs_to_do(epochs):
            optimizer.lr = schedule.lr_at(epoch, base_lr)
            for cb in callbacks:
                cb.on_epoch_begin(epoch + 1, {})
            total_loss, total_correct, seconds_before, first = run.epoch_begin(epoch)
            term_totals = run.term_sums  # a loss's named parts (a VAE's recon and kl), summed
            bar = _progress(n_batches, f"epoch {epoch + 1}/{epochs}", verbose, initial=first)
            start_time = time.perf_counter()
            for b, (Xb, Tb) in run.batches_to_do(
                batches(X, T, batch_size, shuffle=shuffle, rng=rng)
            ):
                Y = model.forward(Xb, training=True)
                value, dY = loss(Y, Tb)
                model.backward(dY, input_grad=False)
                if clip_norm is not None:
                    grad_norm = optimizers_mod.clip_grad_norm(model.parameters(), clip_norm)
                else:
                    grad_norm = math.sqrt(_grad_sq_norm(model))
                if not (math.isfinite(value) and math.isfinite(grad_norm)):
                    if bar is not None:
                        bar.close()
                    what = "loss" if not math.isfinite(value) else "gradient norm"
                    raise run.diverged(
                        f"training diverged: the {what} became "
                        f"{value if what == 'loss' else grad_norm} at epoch {epoch + 1}, batch {b + 1}; "
                        f"lower the learning rate (now {optimizer.lr:g}) or set clip_norm"
                    )
                optimizer.step(model.parameters())

                nb = Xb.shape[0]
                total_loss += value * nb
                if loss.is_classification:
                    total_correct += loss.accuracy(Y, Tb) * nb
                for key, term in loss.terms().items():
                    term_totals[key] = term_totals.get(key, 0.0) + term * nb
                for cb in callbacks:
                    cb.on_batch_end(b + 1, {"loss": value, "size": nb})
                if bar is not None:
                    bar.update(1)
                    if b % 20 == 0 or b == n_batches - 1:
                        bar.set_postfix(loss=f"{value:.4f}", refresh=False)
                if run.signum is not None and b + 1 < n_batches:  # Ctrl-C or SIGTERM
                    if bar is not None:
                        bar.close()
                    seconds = seconds_before + time.perf_counter() - start_time
                    raise run.interrupt(epoch, b + 1, total_loss, total_correct, seconds)
            seconds = seconds_before + time.perf_counter() - start_time

            n = X.shape[0]
            row: dict[str, float] = {
                "epoch": epoch + 1,
                "loss": total_loss / n,
                "accuracy": total_correct / n if loss.is_classification else float("nan"),
                "lr": optimizer.lr,
                "seconds": seconds,
                **{key: total / n for key, total in term_totals.items()},
            }
            if X_val is not None:
                val = _evaluate_means(model, X_val, T_val, loss, batch_size=max(batch_size, 1024))
                row.update({f"val_{key}": value for key, value in val.items()})
            history.append(**row)
            logs = history.records[-1]
            _report(bar, verbose, logs, epoch, epochs, seconds)
            for cb in callbacks:
                cb.on_epoch_end(epoch + 1, logs)
            run.end_epoch(epoch + 1, final=epoch + 1 == epochs, stopped=model.stop_training)
            if model.stop_training:
                break

    final = history.records[-1] if history.records else {}
    for cb in callbacks:
        cb.on_train_end(final)
    return history


def _report(bar, verbose: int, logs: dict[str, float], epoch: int, epochs: int, seconds: float):
    """Show an epoch's metrics on its progress bar or as one line (``verbose=2``)."""
    shown = {
        k: logs[k]
        for k in ("loss", "accuracy", "val_loss", "val_accuracy")
        if not math.isnan(logs[k])
    }
    if bar is not None:
        bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=True)
        bar.close()
    elif verbose >= 2:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
        print(f"epoch {epoch + 1}/{epochs}: {metrics} ({seconds:.2f} s)")
