"""What :func:`~scratchnn.fit` does around its loop: checkpoints, resume, signals, divergence.

``fit`` keeps the four-line loop in view and delegates the bookkeeping to a
:class:`TrainingRun`::

    run = TrainingRun.begin(checkpoint, resume, ...)     # new run, or restore the saved one
    with run.catch_signals():                             # SIGINT/SIGTERM only set a flag
        for epoch in run.epochs_to_do(epochs):
            ... = run.epoch_begin(epoch)                  # where a resumed epoch starts
            for b, (Xb, Tb) in run.batches_to_do(batches(X, T, ...)):
                forward, loss, backward, (raise run.diverged(...)), step
                if run.signum is not None: raise run.interrupt(...)   # save mid-epoch
            ...
            run.end_epoch(epoch + 1, ...)                 # checkpoint if due

Nothing here runs per step except one attribute test (``run.signum``); files are written
once per checkpoint. The file format is described in :mod:`scratchnn.checkpoint`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import optimizers as optimizers_mod
from .checkpoint import (
    CHECKPOINT_FILE,
    HISTORY_FILE,
    Checkpoint,
    _load_optimizer_state,
    _normalized,
    _pack,
    _set_path,
    data_fingerprint,
    find_generators,
    generator_from_state,
    load_checkpoint,
)
from .errors import DivergenceError, InputError, OutputError, ScratchnnError, TrainingInterrupted
from .serialization import (
    ModelFileError,
    atomic_write_bytes,
    remove_stale_temporaries,
    write_npz,
)

if TYPE_CHECKING:
    from .model import Sequential
    from .training import Callback

__all__ = ["TrainingRun"]

#: Settings that may change between a run and its resumption; every other one must match.
_MAY_CHANGE = ("epochs", "checkpoint_every")


class TrainingRun:
    """The bookkeeping around :func:`~scratchnn.fit`'s loop: checkpoints, resume, signals.

    ``fit`` creates one with :meth:`begin` and calls :meth:`epoch_begin`,
    :meth:`batches_to_do`, :meth:`end_epoch`, :meth:`interrupt` and :meth:`diverged`; the
    loop itself stays in ``fit``. Without a directory nothing is written, but SIGINT and
    SIGTERM still stop training cleanly between two steps.
    """

    def __init__(
        self,
        directory: Path | None,
        every: int,
        model: Sequential,
        optimizer: optimizers_mod.Optimizer,
        callbacks: Sequence[Callback],
        rng: np.random.Generator,
    ) -> None:
        from .training import History

        self.directory = directory
        self.path = None if directory is None else directory / CHECKPOINT_FILE
        self.every = every
        self.model, self.optimizer, self.callbacks = model, optimizer, list(callbacks)
        self.rng = rng  # fit's shuffling generator
        self.split_rng = rng  # what the validation split is drawn from
        self.history = History()
        self.epoch = 0  # epochs completed
        self.stopped = False  # a callback ended the run early
        self.saved_epoch: int | None = None
        self.resumed_from: Checkpoint | None = None
        self.signum: int | None = None  # set by the signal handler; checked after every step
        self.settings: dict[str, Any] = {}
        self._split_state: dict[str, Any] = {}
        self._fingerprint = ""
        self._position: dict[str, Any] | None = None  # where a resumed run stopped mid-epoch
        self._epoch_rng_state: dict[str, Any] | None = None
        self._resume_rng_state: dict[str, Any] | None = None
        self._callback_states: list[dict[str, Any]] = []
        self._skip = 0
        self.term_sums: dict[str, float] = {}  # the current epoch's sums of a loss's named parts

    # -- starting -------------------------------------------------------------------------
    @classmethod
    def begin(
        cls,
        directory: str | os.PathLike[str] | None,
        resume: bool | str | Checkpoint,
        *,
        every: int,
        model: Sequential,
        optimizer: optimizers_mod.Optimizer,
        callbacks: Sequence[Callback],
        rng: np.random.Generator,
        settings: dict[str, Any],
        data: Sequence[np.ndarray | None],
    ) -> TrainingRun:
        """Check the directory and either start a new run or restore the saved one."""
        from ._validation import check_positive

        check_positive(every, "checkpoint_every", integer=True)
        if not (isinstance(resume, (bool, Checkpoint)) or resume == "auto"):
            raise InputError(f"resume must be True, False or 'auto', got {resume!r}")
        if directory is None:
            if resume is not False:
                raise InputError("resume needs the run's directory: pass checkpoint=DIR too")
            run = cls(None, every, model, optimizer, callbacks, rng)
            run.settings = settings
            return run
        if not callable(getattr(model, "get_config", None)):
            raise InputError(
                f"checkpoint= needs a model that describes itself with get_config(); "
                f"{type(model).__name__} does not"
            )
        try:
            json.dumps(getattr(model, "metadata", {}))
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"model.metadata must be JSON values to be saved in a checkpoint ({exc}); "
                "store numbers, strings, lists and dicts"
            ) from None
        directory = _prepare_directory(directory)
        run = cls(directory, every, model, optimizer, callbacks, rng)
        run.settings = settings
        run._fingerprint = data_fingerprint(*data)
        exists = run.path.exists()
        if isinstance(resume, Checkpoint):
            run._restore(resume)
        elif exists and resume:
            run._restore(load_checkpoint(run.path))
        elif exists:
            raise InputError(
                f"{directory} already holds a checkpoint ({_describe(run.path)}); pass "
                "resume=True to continue it, or choose another directory"
            )
        elif resume is True:
            raise InputError(
                f"{directory}: no {CHECKPOINT_FILE} to resume from; check the path, or start "
                "a new run without resume"
            )
        else:
            run._split_state = rng.bit_generator.state
        return run

    def _restore(self, checkpoint: Checkpoint) -> None:
        where = checkpoint.path
        if _normalized(self.model.get_config()) != _normalized(checkpoint.model.get_config()):
            raise InputError(
                f"{where}: was saved from a different architecture than this model; build the "
                "same model, or use scratchnn.resume() which rebuilds it"
            )
        saved, now = checkpoint.settings, self.settings
        for key in sorted(set(saved) | set(now)):
            if key not in _MAY_CHANGE and saved.get(key) != now.get(key):
                raise InputError(
                    f"{where}: the run used {key}={_short(saved.get(key))} but this call passes "
                    f"{_short(now.get(key))}; resume with the same settings (scratchnn.resume() "
                    "reuses them) or start a new run"
                )
        state = checkpoint.state
        target, position = now.get("epochs"), state.get("position")
        done = checkpoint.epoch if position is None else int(position["epoch"]) + 1
        if isinstance(target, int) and (
            target < checkpoint.epoch or (position is not None and target < done)
        ):
            raise InputError(
                f"{where}: the run has already reached epoch {done}; pass epochs >= {done} "
                "(epochs counts the total, not the epochs still to train)"
            )
        if state["data"] != self._fingerprint:
            raise InputError(
                f"{where}: the training data differ from the run's (a resumed run must see the "
                "same X, y and validation data); pass the same data, or load the model with "
                "scratchnn.load and fit it on the new data"
            )
        self.model.load_state_dict(checkpoint.model.state_dict())
        _load_optimizer_state(self.optimizer, state["optimizer"], where, self.model)
        self._restore_generators(state, where)
        self.history = checkpoint.history
        self.epoch = self.saved_epoch = checkpoint.epoch
        self.stopped = bool(state.get("stopped", False))
        self._position = state.get("position")
        self._callback_states = state.get("callbacks", [])
        self.resumed_from = checkpoint
        self._write_history()  # a crash may have left it behind the checkpoint

    def _restore_generators(self, state: dict[str, Any], where: Path) -> None:
        try:
            generators = [generator_from_state(s) for s in state["generators"]]
            owners = state["generator_owners"]
            expected = set(find_generators(self.model)) | {"fit"}
            if set(owners) != expected:
                raise ValueError(f"saved for {sorted(owners)}, model has {sorted(expected)}")
            for owner, index in owners.items():
                if owner == "fit":
                    self.rng = generators[index]
                else:
                    _set_path(self.model, owner, generators[index])
            self._split_state = state["split_rng"]
            self.split_rng = generator_from_state(self._split_state)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: the saved random states are damaged ({exc})") from None

    def restore_callbacks(self) -> None:
        """Give resumed callbacks (EarlyStopping) their saved state; call after on_train_begin."""
        for callback, saved in zip(self.callbacks, self._callback_states):
            if saved.get("class") == type(callback).__name__:
                try:
                    callback.load_state_dict(saved.get("state", {}))
                except (KeyError, TypeError, ValueError) as exc:
                    raise ModelFileError(
                        f"{self.path}: the saved state of {type(callback).__name__} is damaged "
                        f"({type(exc).__name__}: {exc}); resume without that callback"
                    ) from None

    # -- the epoch loop -------------------------------------------------------------------
    def epoch_begin(self, epoch: int) -> tuple[float, float, float, int]:
        """Where epoch ``epoch`` starts: running sums ``(loss, correct, seconds)`` and first batch.

        Zeros for a new epoch; for the epoch an interrupt stopped, what it had reached.
        """
        position, self._position = self._position, None
        if position is None or int(position["epoch"]) != epoch:
            self.term_sums = {}
            self._skip = 0
            self._epoch_rng_state = self.rng.bit_generator.state
            return 0.0, 0.0, 0.0, 0
        # Resuming mid-epoch: draw this epoch's order again from the state it started with,
        # skip the batches already done, then continue from the state saved at the interrupt.
        self._skip = int(position["batch"])
        self._epoch_rng_state = position["epoch_rng"]
        self._resume_rng_state = self.rng.bit_generator.state
        self.rng.bit_generator.state = self._epoch_rng_state
        sums = float(position["loss_sum"]), float(position["correct_sum"])
        self.term_sums = {str(k): float(v) for k, v in position.get("term_sums", {}).items()}
        return (*sums, float(position["seconds"]), self._skip)

    def batches_to_do(self, batch_iterator: Iterator[Any]) -> Iterator[tuple[int, Any]]:
        """``enumerate(batch_iterator)`` without the batches a resumed epoch already did."""
        numbered = enumerate(batch_iterator)
        if self._skip:
            for _ in range(self._skip):
                next(numbered)  # the first one draws the epoch's permutation
            self.rng.bit_generator.state = self._resume_rng_state
            self._skip = 0
        return numbered

    def epochs_to_do(self, epochs: int) -> range:
        """The 0-based epochs still to train: none if a callback had stopped the saved run."""
        return range(self.epoch, self.epoch if self.stopped else epochs)

    def end_epoch(self, epochs_done: int, final: bool, stopped: bool) -> None:
        """Count the epoch; checkpoint if due; stop here if a signal arrived.

        ``stopped`` (a callback ended training, e.g. EarlyStopping) is saved too, so that
        resuming a run that stopped early trains no further, as the straight run did not.
        """
        self.epoch, self.stopped = epochs_done, stopped
        if self.directory is not None and (
            final or stopped or epochs_done % self.every == 0 or self.signum is not None
        ):
            self.save(f"after epoch {epochs_done}")
        if self.signum is not None:
            raise self._interrupted(f"after epoch {epochs_done}", epochs_done)

    def interrupt(
        self, epoch: int, next_batch: int, loss_sum: float, correct_sum: float, seconds: float
    ) -> TrainingInterrupted:
        """Save the run in the middle of epoch ``epoch`` (0-based); returns the exception to raise."""
        where = f"at epoch {epoch + 1}, batch {next_batch}"
        if self.directory is not None:
            position = {
                "epoch": epoch,
                "batch": next_batch,
                "loss_sum": loss_sum,
                "correct_sum": correct_sum,
                "term_sums": dict(self.term_sums),
                "seconds": seconds,
                "epoch_rng": self._epoch_rng_state,
            }
            self.save(where, position)
        return self._interrupted(where, epoch + 1, next_batch)

    def _interrupted(self, where: str, epoch: int, batch: int | None = None) -> TrainingInterrupted:
        name = signal.Signals(self.signum).name
        saved = (
            f"; saved {self.path}, continue with resume=True or scratchnn.resume('{self.directory}', ...)"
            if self.directory is not None
            else "; no checkpoint directory was given, so nothing was saved"
        )
        error = TrainingInterrupted(
            f"training stopped by {name} {where}{saved}",
            self.signum,
            history=self.history,
            checkpoint=self.path,
        )
        error.epoch, error.batch = epoch, batch
        return error

    def diverged(self, message: str) -> DivergenceError:
        """The DivergenceError to raise; writes the History so far, keeps the last checkpoint."""
        if self.directory is not None:
            with contextlib.suppress(ScratchnnError):
                self._write_history()
            if self.saved_epoch is None:
                message += "; no checkpoint had been saved yet"
            else:
                message += (
                    f"; the last good checkpoint (epoch {self.saved_epoch}) is kept in {self.path}"
                )
        error = DivergenceError(message)
        error.history = self.history
        error.checkpoint = self.path if self.saved_epoch is not None else None
        return error

    # -- writing --------------------------------------------------------------------------
    def save(self, where: str, position: dict[str, Any] | None = None) -> None:
        """Write ``checkpoint.npz`` then ``history.csv``, never with diverged parameters."""
        for name, param, _ in self.model.parameters():
            if not np.isfinite(param).all():
                raise self.diverged(
                    f"training diverged: parameter {name} became NaN or infinite {where}; lower "
                    f"the learning rate (now {self.optimizer.lr:g}) or set clip_norm"
                )
        # state_dict: the parameters and the buffers (BatchNorm's running statistics)
        arrays = {f"param/{name}": value for name, value in self.model.state_dict().items()}
        state = {
            "epoch": self.epoch,
            "stopped": self.stopped,
            "position": position,
            "history": self.history.records,
            "settings": self.settings,
            "optimizer": {
                "state": self.optimizer.state_dict(),
                "initial_lr": self.optimizer.initial_lr,
            },
            "callbacks": [
                {"class": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks
            ],
            "data": self._fingerprint,
            "split_rng": self._split_state,
            **self._generator_table(),
        }
        meta = {
            "kind": "checkpoint",
            "architecture": self.model.get_config(),
            "extra": self.model.metadata,
            "training": _pack(state, "training", arrays),
        }
        try:
            write_npz(self.path, meta, arrays)
        except OutputError as exc:
            kept = (
                f"the checkpoint of epoch {self.saved_epoch} is unchanged"
                if self.saved_epoch is not None
                else "no checkpoint was saved"
            )
            error = OutputError(
                f"{self.path}: could not be written {where} ({exc.reason}); {kept}; free disk "
                "space or choose another directory, then resume"
            )
            error.history = self.history
            raise error from None
        self.saved_epoch = self.epoch
        self._write_history()

    def _write_history(self) -> None:
        atomic_write_bytes(
            self.directory / HISTORY_FILE,
            self.history.to_dataframe().to_csv(index=False).encode(),
        )

    def _generator_table(self) -> dict[str, Any]:
        """Unique generator states and who draws from each (shared generators stay shared)."""
        users = {"fit": self.rng, **find_generators(self.model)}
        index_of: dict[int, int] = {}
        states: list[dict[str, Any]] = []
        owners: dict[str, int] = {}
        for owner, generator in users.items():
            if id(generator) not in index_of:
                index_of[id(generator)] = len(states)
                states.append(generator.bit_generator.state)
            owners[owner] = index_of[id(generator)]
        return {"generators": states, "generator_owners": owners}

    # -- signals --------------------------------------------------------------------------
    @contextlib.contextmanager
    def catch_signals(self) -> Iterator[None]:
        """While training, SIGINT/SIGTERM set :attr:`signum` instead of stopping mid-step.

        Handlers are installed only in the main thread and the previous ones are restored
        on the way out. A second signal stops at once (the checkpoint file is then the
        previous one, never a half-written one).
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # pragma: no cover - e.g. an embedded interpreter
                pass
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise TrainingInterrupted(
                f"training stopped at once by a second {signal.Signals(signum).name}; "
                f"the last checkpoint is the one saved before",
                signum,
                history=self.history,
                checkpoint=self.path if self.saved_epoch is not None else None,
            )
        self.signum = signum


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


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
