"""``fit``: the loop of :mod:`scratchnn.loop` over epochs and batches, with hooks; ``resume``.

The body of :func:`fit` is the loop a learner writes, plus three kinds of lines: the
:class:`~scratchnn.training.state.TrainState` it records (where the run is), hooks called
on the callbacks (``hooks.on_batch_end(...)``), and validation at the end of every epoch::

    for epoch in range(state.epoch, epochs):
        state.begin_epoch()                                  # the epoch's order of examples
        for b in range(state.batch, state.n_batches):
            Xb, Tb = take_batch(X, T, state.order, b, batch_size)
            value, Y = train_step(model, loss, optimizer, Xb, Tb)    # the four lines
            state.record_batch(value, Y, Tb, len(Xb))
            hooks.on_batch_end(b + 1, {"loss": value, ...})
        ...

Everything else attaches as a callback, each in its own file under
:mod:`scratchnn.training.callbacks`: the progress bar, divergence detection, the user's
callbacks (early stopping), checkpoints and exact resume, and SIGINT/SIGTERM handling.
Gradient clipping is the optimizer's (``clip_norm``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import losses as losses_mod
from .. import optimizers as optimizers_mod
from .. import schedules as schedules_mod
from .._validation import as_generator, check_fraction, check_positive
from ..errors import InputError, ShapeError
from ..loop import Trainable, evaluate_means, num_batches, prepare_data, take_batch, train_step
from . import advice
from .callbacks.base import Callback, CallbackList
from .callbacks.checkpointing import Checkpointing
from .callbacks.divergence import StopOnDivergence
from .callbacks.progress import ProgressBar
from .callbacks.signals import StopOnSignal
from .checkpoint import Checkpoint, fit_settings, generator_from_state, load_checkpoint
from .history import History
from .state import TrainState

__all__ = ["fit", "resume"]


def fit(
    model: Trainable,
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
    resume: bool | str | Checkpoint = False,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches; returns the :class:`History`.

    Parameters
    ----------
    model : Model
        The model (a :class:`~scratchnn.Sequential`, a VAE, any module with ``check_input``);
        its parameters are updated in place.
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
        Clip the global gradient norm to this value before every step (it sets the
        optimizer's ``clip_norm``, which :meth:`~scratchnn.optimizers.Optimizer.step` applies).
    checkpoint : str or os.PathLike, optional
        A run directory: ``checkpoint.npz`` (everything needed to continue exactly) and
        ``history.csv`` are replaced atomically every ``checkpoint_every`` epochs, at the
        end, on SIGINT/SIGTERM and (History only) on divergence. See
        :mod:`scratchnn.training.checkpoint`.
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
    check_positive(checkpoint_every, "checkpoint_every", integer=True)
    check_fraction(validation_split, "validation_split")
    # NumPy scalars (np.int64(5) from an array, a grid search) are normal input: from here
    # on they are plain Python numbers, as the checkpoint's JSON needs
    epochs, batch_size, checkpoint_every = int(epochs), int(batch_size), int(checkpoint_every)
    validation_split = float(validation_split)
    if clip_norm is not None:
        check_positive(clip_norm, "clip_norm")
        clip_norm = float(clip_norm)
        optimizer.clip_norm = clip_norm
    if seed is not None and rng is not None:
        raise InputError("pass either seed or rng to fit, not both")
    if not (isinstance(resume, (bool, Checkpoint)) or resume == "auto"):
        raise InputError(f"resume must be True, False or 'auto', got {resume!r}")
    if checkpoint is None and resume is not False:
        raise InputError("resume needs the run's directory: pass checkpoint=DIR too")
    rng = as_generator(rng if rng is not None else seed)
    schedule = schedules_mod.get(lr_schedule)
    callbacks = list(callbacks)

    X, T = prepare_data(model, X, y, loss)
    advice.check_before(model, loss)
    X_val = T_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise InputError("validation_data must be a pair (X_val, y_val)")
        X_val, T_val = prepare_data(model, *validation_data, loss, name="X_val")
    n_train = X.shape[0]
    if validation_data is None and validation_split > 0:
        n_train -= _validation_size(X.shape[0], validation_split)
    state = TrainState(
        model=model,
        optimizer=optimizer,
        loss=loss,
        epochs=epochs,
        batch_size=batch_size,
        n_examples=n_train,
        n_batches=num_batches(n_train, batch_size),
        shuffle=bool(shuffle),
        rng=rng,
        split_state=rng.bit_generator.state,
        verbose=verbose,
        data=(X, T, X_val, T_val),
        settings=fit_settings(
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
    # The harness, in the order its hooks must run: progress and divergence first, the
    # user's callbacks, then checkpointing (which saves what they decided) and signals.
    harness: list[Callback] = [ProgressBar(verbose), StopOnDivergence(), *callbacks]
    if checkpoint is not None:
        saver = Checkpointing(checkpoint, every=checkpoint_every, resume=resume)
        saver.watch(callbacks)
        harness.append(saver)
    harness.append(StopOnSignal())
    hooks = CallbackList(harness)
    hooks.set_context(model, state)
    model.stop_training = False
    try:
        hooks.on_train_begin({})
        if validation_data is None and validation_split > 0:
            split = generator_from_state(state.split_state) if state.resumed else state.rng
            X, T, X_val, T_val = _hold_out(X, T, validation_split, split)
        base_lr = optimizer.initial_lr
        buffer = np.empty((min(batch_size, n_train), *X.shape[1:]), dtype=X.dtype)
        last = state.epoch if state.stopped else epochs
        for epoch in range(state.epoch, last):
            state.lr = optimizer.lr = schedule.lr_at(epoch, base_lr)
            state.begin_epoch()
            hooks.on_epoch_begin(epoch + 1, {})
            for b in range(state.batch, state.n_batches):
                Xb, Tb = take_batch(X, T, state.order, b, batch_size, out=buffer)
                value, Y = train_step(model, loss, optimizer, Xb, Tb)
                state.record_batch(value, Y, Tb, Xb.shape[0])
                hooks.on_batch_end(b + 1, {"loss": value, "size": Xb.shape[0]})
            row = state.epoch_row()
            if X_val is not None:
                val = evaluate_means(model, X_val, T_val, loss, batch_size=max(batch_size, 1024))
                row.update({f"val_{key}": value for key, value in val.items()})
            state.history.append(**row)
            state.end_epoch()
            hooks.on_epoch_end(epoch + 1, state.history.records[-1])
            if model.stop_training:
                break
    except BaseException as error:
        hooks.on_exception(error)
        raise
    advice.check_after(state.history, T, loss, optimizer.initial_lr)
    hooks.on_train_end(state.history.records[-1] if state.history.records else {})
    return state.history


def _validation_size(n: int, validation_split: float) -> int:
    n_val = int(round(n * validation_split))
    if n_val < 1 or n_val >= n:
        raise ShapeError(
            f"validation_split={validation_split} leaves {n_val} of {n} examples "
            "for validation; use more data or another split"
        )
    return n_val


def _hold_out(X, T, validation_split, rng):
    """Split ``(X, T)`` at random into training and validation parts."""
    n_val = _validation_size(X.shape[0], validation_split)
    order = rng.permutation(X.shape[0])
    return X[order[n_val:]], T[order[n_val:]], X[order[:n_val]], T[order[:n_val]]


def resume(
    directory: str | os.PathLike[str],
    X: Any,
    y: Any,
    *,
    epochs: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    checkpoint_every: int | None = None,
) -> tuple[Trainable, History]:
    """Continue the run saved in ``directory`` until ``epochs`` epochs in total.

    The model, optimizer, loss, schedule and every fit setting come from the checkpoint;
    pass the same data (and validation data) as the run was started with. ``epochs``
    defaults to the total the run was started with. Returns ``(model, history)``; the
    checkpoint keeps being updated in ``directory``.

    Raises
    ------
    ModelFileError
        No readable checkpoint in ``directory``.
    InputError
        Different data, or ``epochs`` smaller than the epochs already done.
    """
    checkpoint = load_checkpoint(directory)
    settings = checkpoint.settings
    epochs = settings.get("epochs") if epochs is None else epochs
    history = fit(
        checkpoint.model,
        X,
        y,
        loss=checkpoint.loss(),
        optimizer=checkpoint.optimizer(),
        lr_schedule=checkpoint.lr_schedule(),
        epochs=epochs,
        batch_size=settings["batch_size"],
        validation_data=validation_data,
        validation_split=settings["validation_split"],
        shuffle=settings["shuffle"],
        clip_norm=settings["clip_norm"],
        callbacks=callbacks,
        verbose=verbose,
        checkpoint=checkpoint.directory,
        checkpoint_every=settings.get("checkpoint_every", 1)
        if checkpoint_every is None
        else checkpoint_every,
        resume=checkpoint,
    )
    return checkpoint.model, history
