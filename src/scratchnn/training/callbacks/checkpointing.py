"""Checkpointing: save a run to a directory, and resume it exactly where it stopped.

``fit(..., checkpoint=DIR)`` adds this callback. It keeps ``DIR/checkpoint.npz`` (the file
of :mod:`scratchnn.training.checkpoint`) and ``DIR/history.csv``, each replaced atomically:

- every ``every`` epochs, after the last one, when a callback stops the run, and when a
  signal arrives (in the middle of an epoch too: the position is saved);
- never with a NaN or infinite parameter: the last good checkpoint is kept on divergence,
  and the History written so far;
- with ``resume``, it restores everything the remaining epochs depend on before the first
  one: parameters, optimizer moments and step counter, every generator, the History, the
  callbacks' state and, mid-epoch, the epoch's order and running sums; the settings and the
  data must be the ones the run started with.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import (
    DivergenceError,
    InputError,
    ModelFileError,
    OutputError,
    ScratchnnError,
    TrainingInterrupted,
    extend_message,
)
from ...io.atomic import remove_stale_temporaries, write_csv
from ...loop import epoch_order
from ..checkpoint import (
    CHECKPOINT_FILE,
    HISTORY_FILE,
    Checkpoint,
    data_fingerprint,
    generator_from_state,
    generator_table,
    load_checkpoint,
    load_optimizer_state,
    normalized,
    write_checkpoint,
)
from .base import Callback

__all__ = ["Checkpointing"]

#: Settings that may change between a run and its resumption; every other one must match.
MAY_CHANGE = ("epochs", "checkpoint_every")


class Checkpointing(Callback):
    """Save the run in ``directory`` and, with ``resume``, continue the run saved there.

    Parameters
    ----------
    directory : str or os.PathLike
        The run directory; created if needed and checked for writability at once.
    every : int
        Epochs between checkpoints.
    resume : bool, "auto" or Checkpoint
        Continue the saved run (``"auto"``: if there is one). Without it an existing
        checkpoint is an error rather than overwritten.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every: int = 1,
        resume: bool | str | Checkpoint = False,
    ) -> None:
        self.directory = _prepare_directory(directory)
        self.path = self.directory / CHECKPOINT_FILE
        self.every = every
        self.resume = resume
        self.saved_epoch: int | None = None
        self.resumed_from: Checkpoint | None = None
        self._fingerprint = ""
        self._others: list[Callback] = []

    def watch(self, callbacks: list[Callback]) -> None:
        """The other callbacks, whose state is saved and restored with the run."""
        self._others = [cb for cb in callbacks if cb is not self]

    # -- starting -------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, float]) -> None:
        state = self.state
        try:
            json.dumps(getattr(self.model, "metadata", {}))
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"model.metadata must be JSON values to be saved in a checkpoint ({exc}); "
                "store numbers, strings, lists and dicts"
            ) from None
        self._fingerprint = data_fingerprint(*state.data)
        exists = self.path.exists()
        if isinstance(self.resume, Checkpoint):
            self._restore(self.resume)
        elif exists and self.resume:
            self._restore(load_checkpoint(self.path))
        elif exists:
            raise InputError(
                f"{self.directory} already holds a checkpoint ({_describe(self.path)}); pass "
                "resume=True to continue it, or choose another directory"
            )
        elif self.resume is True:
            raise InputError(
                f"{self.directory}: no {CHECKPOINT_FILE} to resume from; check the path, or "
                "start a new run without resume"
            )

    def _restore(self, checkpoint: Checkpoint) -> None:
        where, state = checkpoint.path, self.state
        if normalized(self.model.get_config()) != normalized(checkpoint.model.get_config()):
            raise InputError(
                f"{where}: was saved from a different architecture than this model; build the "
                "same model, or use scratchnn.resume() which rebuilds it"
            )
        saved, now = checkpoint.settings, state.settings
        for key in sorted(set(saved) | set(now)):
            if key not in MAY_CHANGE and saved.get(key) != now.get(key):
                # name the innermost field that differs: a whole optimizer spec is cut short
                field, old, new = _difference(key, saved.get(key), now.get(key))
                raise InputError(
                    f"{where}: the run used {field}={_short(old)} but this call passes "
                    f"{_short(new)}; resume with the same settings (scratchnn.resume() "
                    "reuses them) or start a new run"
                )
        saved_state = checkpoint.state
        target, position = now.get("epochs"), saved_state.get("position")
        done = checkpoint.epoch if position is None else int(position["epoch"]) + 1
        if isinstance(target, int) and (
            target < checkpoint.epoch or (position is not None and target < done)
        ):
            raise InputError(
                f"{where}: the run has already reached epoch {done}; pass epochs >= {done} "
                "(epochs counts the total, not the epochs still to train)"
            )
        if saved_state["data"] != self._fingerprint:
            raise InputError(
                f"{where}: the training data differ from the run's (a resumed run must see the "
                "same X, y and validation data); pass the same data, or load the model with "
                "scratchnn.load and fit it on the new data"
            )
        self.model.load_state_dict(checkpoint.model.state_dict())
        load_optimizer_state(state.optimizer, saved_state["optimizer"], where, self.model)
        self._restore_generators(saved_state, where)
        state.history = checkpoint.history
        state.epoch = self.saved_epoch = checkpoint.epoch
        state.stopped = bool(saved_state.get("stopped", False))
        if position is not None:
            self._restore_position(position, where)
        self._restore_callbacks(saved_state.get("callbacks", []))
        self.resumed_from = checkpoint
        state.resumed = True
        self._write_history()  # a crash may have left it behind the checkpoint
        if state.verbose:
            stopped = " (stopped early by a callback: nothing to do)" if state.stopped else ""
            if position is not None:  # continues with the batch after the last one done
                where = (
                    f"at epoch {state.epoch + 1} of {state.epochs}, batch {state.batch + 1} of "
                    f"{state.n_batches}"
                )
            else:
                where = f"after epoch {state.epoch} of {state.epochs}"
            print(f"resuming {self.path} {where}{stopped}")

    def _restore_generators(self, saved: dict[str, Any], where: Path) -> None:
        try:
            generators = [generator_from_state(s) for s in saved["generators"]]
            owners = saved["generator_owners"]
            expected = {path for path, _ in self.model.named_generators()} | {"fit"}
            if set(owners) != expected:
                raise ValueError(f"saved for {sorted(owners)}, model has {sorted(expected)}")
            for owner, index in owners.items():
                if owner == "fit":
                    self.state.rng = generators[index]
                else:
                    self.model.set_generator(owner, generators[index])
            self.state.split_state = saved["split_rng"]
            generator_from_state(self.state.split_state)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: the saved random states are damaged ({exc})") from None

    def _restore_position(self, position: dict[str, Any], where: Path) -> None:
        """Continue in the middle of an epoch: its order, next batch and running sums."""
        state = self.state
        if "order" in position:
            order = np.asarray(position["order"])
        else:  # format 1: draw the epoch's order again from the generator state it came from
            rng = generator_from_state(position["epoch_rng"])
            order = epoch_order(state.n_examples, state.shuffle, rng)
        n = state.n_examples
        if (
            order.shape != (n,)
            or order.min(initial=0) < 0
            or order.max(initial=0) >= n
            or np.bincount(order, minlength=n).max(initial=1) != 1
            or not 0 < int(position["batch"]) < state.n_batches
        ):
            raise ModelFileError(
                f"{where}: the saved position in epoch {int(position['epoch']) + 1} does not fit "
                f"{n} examples in batches of {state.batch_size}; the checkpoint is damaged"
            )
        state.order = order.astype(np.intp)
        state.batch = int(position["batch"])
        state.loss_sum = float(position["loss_sum"])
        state.correct_sum = float(position["correct_sum"])
        state.term_sums = {str(k): float(v) for k, v in position.get("term_sums", {}).items()}
        state.seconds = float(position["seconds"])

    def _restore_callbacks(self, saved_states: list[dict[str, Any]]) -> None:
        """Give resumed callbacks (EarlyStopping) their saved state, after their on_train_begin."""
        for callback, saved in zip(self._others, saved_states):
            if saved.get("class") == type(callback).__name__:
                try:
                    callback.load_state_dict(saved.get("state", {}))
                except (KeyError, TypeError, ValueError) as exc:
                    raise ModelFileError(
                        f"{self.path}: the saved state of {type(callback).__name__} is damaged "
                        f"({type(exc).__name__}: {exc}); resume without that callback"
                    ) from None

    # -- saving ---------------------------------------------------------------------------
    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        state = self.state
        state.stopped = bool(getattr(self.model, "stop_training", False))
        final = state.epoch == state.epochs
        if final or state.stopped or state.epoch % self.every == 0 or state.stop_signal is not None:
            self.save(f"after epoch {state.epoch}")

    def on_exception(self, error: BaseException) -> None:
        state = self.state
        if isinstance(error, TrainingInterrupted) and error.epoch is not None:
            if error.batch is not None:  # stopped in the middle of an epoch: save where
                try:
                    self.save(f"at epoch {state.epoch + 1}, batch {state.batch}", in_epoch=True)
                except DivergenceError as diverged:
                    self._keep_last_good(diverged)
                    raise
            error.checkpoint = self.path
            extend_message(
                error,
                f"; saved {self.path}, continue with resume=True or "
                f"scratchnn.resume('{self.directory}', ...)",
            )
        elif isinstance(error, TrainingInterrupted):  # a second signal: nothing more is saved
            error.checkpoint = self.path if self.saved_epoch is not None else None
        elif isinstance(error, DivergenceError):
            self._keep_last_good(error)

    def _keep_last_good(self, error: DivergenceError) -> None:
        try:
            self._write_history()
        except ScratchnnError:
            pass
        if self.saved_epoch is None:
            extend_message(error, "; no checkpoint had been saved yet")
        else:
            extend_message(
                error,
                f"; the last good checkpoint (epoch {self.saved_epoch}) is kept in {self.path}",
            )
        error.history = self.state.history
        error.checkpoint = self.path if self.saved_epoch is not None else None

    def save(self, where: str, in_epoch: bool = False) -> None:
        """Write ``checkpoint.npz`` then ``history.csv``, never with diverged parameters."""
        state = self.state
        for name, param, _ in self.model.parameters():
            if not np.isfinite(param).all():
                error = DivergenceError(
                    f"training diverged: parameter {name} became NaN or infinite {where}; lower "
                    f"the learning rate (now {state.optimizer.lr:g}) or set clip_norm"
                )
                error.history = state.history
                raise error  # on_exception adds what is kept
        position = None
        if in_epoch:
            position = {
                "epoch": state.epoch,
                "batch": state.batch,
                "loss_sum": state.loss_sum,
                "correct_sum": state.correct_sum,
                "term_sums": dict(state.term_sums),
                "seconds": state.elapsed(),
                "order": state.order,
            }
        users = {"fit": state.rng, **dict(self.model.named_generators())}
        training = {
            "epoch": state.epoch,
            "stopped": state.stopped,
            "position": position,
            "history": state.history.records,
            "settings": state.settings,
            "optimizer": {
                "state": state.optimizer.state_dict(),
                "initial_lr": state.optimizer.initial_lr,
            },
            "callbacks": [
                {"class": type(cb).__name__, "state": cb.state_dict()} for cb in self._others
            ],
            "data": self._fingerprint,
            "split_rng": state.split_state,
            **generator_table(users),
        }
        try:
            write_checkpoint(self.path, self.model, training)
        except OutputError as exc:
            if self.saved_epoch is not None:
                kept, then = f"the checkpoint of epoch {self.saved_epoch} is unchanged", "resume"
            else:  # nothing to resume from: advising a resume would only earn a refusal
                kept, then = "no checkpoint was saved yet", "start the run again"
            error = OutputError(
                f"{self.path}: could not be written {where} ({exc.reason}); {kept}; free disk "
                f"space or choose another directory, then {then}"
            )
            error.history = state.history
            raise error from None
        self.saved_epoch = state.epoch
        self._write_history()

    def _write_history(self) -> None:
        write_csv(self.directory / HISTORY_FILE, self.state.history)


def _prepare_directory(directory: str | os.PathLike[str]) -> Path:
    """Create the checkpoint directory and check now, not after an hour, that it is writable."""
    if not isinstance(directory, (str, os.PathLike)):
        raise InputError(f"checkpoint must be a directory path, got {directory!r}")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: is a file; checkpoint= needs a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"{directory}: cannot write checkpoints here ({exc.strerror or exc}); "
            "choose a writable directory"
        ) from None
    remove_stale_temporaries(directory / CHECKPOINT_FILE)
    remove_stale_temporaries(directory / HISTORY_FILE)
    return directory


def _describe(path: Path) -> str:
    try:
        checkpoint = load_checkpoint(path)
    except ScratchnnError:
        return "unreadable"
    target = checkpoint.settings.get("epochs")
    return f"{checkpoint.epoch} of {target} epochs done"


def _difference(field: str, old: Any, new: Any) -> tuple[str, Any, Any]:
    """The dotted name and the two values of the first leaf where ``old`` and ``new`` differ.

    >>> _difference("optimizer", {"class": "Adam", "hyperparameters": {"eps": 1e-8}},
    ...             {"class": "Adam", "hyperparameters": {"eps": 1e-7}})
    ('optimizer.hyperparameters.eps', 1e-08, 1e-07)
    """
    while isinstance(old, dict) and isinstance(new, dict):
        keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        if not keys:
            break
        field, old, new = f"{field}.{keys[0]}", old.get(keys[0]), new.get(keys[0])
    return field, old, new


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
