"""Run folders: creating one without overwriting a result, and reopening one to resume it.

A run folder holds the files of :data:`~scratchnn.experiments.RUN_FILES` (``config.json``
first, written before training starts) and the plots.
:func:`~scratchnn.experiments.make_run_dir` refuses a folder that already holds a run
(unless told to overwrite it, when it clears the old run first) and locks it for the
run's duration, so that two runs never write into one folder;
:func:`~scratchnn.experiments.read_run_config` and :func:`~scratchnn.experiments.open_run`
read one back to continue it.
"""

from __future__ import annotations

import json
import os
import time

try:
    import fcntl
except ImportError:  # Windows: run folders are not locked
    fcntl = None  # type: ignore[assignment]
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._validation import BudgetExceeded, allocation_budget
from ..errors import InputError, ModelFileError
from ..io.regular import open_regular, read_capped
from ..training.checkpoint import CHECKPOINT_FILE, Checkpoint, load_checkpoint
from .config import resolve_config

__all__ = [
    "LOCK_FILE",
    "RUN_FILES",
    "lock_run_dir",
    "make_run_dir",
    "no_larger_than",
    "open_run",
    "read_run_config",
    "release_run_dir",
    "remove_stale_files",
    "run_outputs",
]

#: A run's config.json is a few hundred bytes; anything past this is not one.
MAX_CONFIG_BYTES = 1 << 20

#: The files whose presence means that a folder already holds a run.
RUN_FILES = ("config.json", "metrics.json", "model.npz", "history.csv", CHECKPOINT_FILE)


def make_run_dir(
    out: str | os.PathLike[str] | None,
    label: str,
    overwrite: bool = False,
    command: str = "scratchnn train",
) -> Path:
    """Create and lock the run folder: ``out``, or ``runs/<label>-<date>-<time>`` if not given.

    A folder that already holds a run is refused unless ``overwrite``, so that no result is
    lost by accident (a run with a checkpoint is continued with :func:`resume_training`,
    ``--resume``). The folder is locked (:func:`lock_run_dir`) before anything in it is
    looked at, so two runs cannot share it; with ``overwrite`` every file of the old run
    (:data:`RUN_FILES`, plots, samples) is deleted *before* the new run starts, so that a
    kill cannot leave a new ``config.json`` beside an old ``model.npz``. Temporary files
    that a killed write left behind are deleted in any case.
    ``command`` is the command whose ``--resume`` the refusal names.
    """
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{label}-{stamp}"
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot create the run folder ({exc.strerror or exc}); choose a writable --out"
        ) from None
    lock_run_dir(path)
    try:
        held = [name for name in RUN_FILES if os.path.lexists(path / name)]
        if held and not overwrite:
            hint = (
                f"continue it with '{command} --resume {path}', " if CHECKPOINT_FILE in held else ""
            )
            raise InputError(
                f"{path}: already holds a run ({', '.join(held)}); {hint}choose another --out, "
                "or pass --overwrite to replace it"
            )
        remove_stale_files(path)
        if overwrite:
            for old in run_outputs(path):
                old.unlink()
    except OSError as exc:
        release_run_dir(path)
        raise InputError(
            f"{path}: cannot clear the old run ({exc.strerror or exc}); choose a writable --out"
        ) from None
    except BaseException:
        release_run_dir(path)
        raise
    return path


def run_outputs(path: Path) -> list[Path]:
    """The files a run writes that are in ``path``: :data:`RUN_FILES`, plots and samples."""
    names = [*RUN_FILES, "samples.txt"]
    found = [path / name for name in names if os.path.lexists(path / name)]
    return found + sorted(path.glob("*.png"))


def remove_stale_files(path: Path) -> int:
    """Delete what a killed run left in ``path``: the atomic writer's ``.<name>.XXXX.tmp``
    files and the checkpoint's ``.write-test.*`` probes. Only call it holding the lock."""
    removed = 0
    for stale in [*path.glob(".*.tmp"), *path.glob(".write-test.*")]:
        try:
            stale.unlink()
            removed += 1
        except OSError:
            pass
    return removed


#: The lock file of a run folder: ``fcntl.flock`` on it, and the holder's process id inside.
LOCK_FILE = ".scratchnn.lock"
#: The run folders this process holds locked: their lock file's descriptor.
_HELD: dict[Path, int] = {}


def lock_run_dir(path: str | os.PathLike[str]) -> None:
    """Lock a run folder for this process, or raise a one-line error naming its holder.

    ``fcntl.flock`` on :data:`LOCK_FILE`: the operating system releases it when the process
    ends, however it ends (``kill -9`` included), so a stale lock cannot block the next run;
    :func:`release_run_dir` removes the file.
    Locking a folder this process already holds does nothing. Without ``fcntl`` (Windows)
    folders are not locked.
    """
    path = Path(path)
    key = path.resolve()
    if key in _HELD or fcntl is None:
        return
    for _ in range(5):
        fd = _open_lock_file(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise InputError(
                f"another run is using {path} (pid {holder}); wait for it to finish, or "
                "choose another --out"
            ) from None
        try:  # the holder before us may have removed the file between our open and flock
            if os.stat(path / LOCK_FILE).st_ino == os.fstat(fd).st_ino:
                break
        except OSError:
            pass
        os.close(fd)
    else:
        raise InputError(f"{path}: cannot lock the run folder (it keeps changing); try again")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the lock holds without the pid (a full disk): only the message loses it
    _HELD[key] = fd


def run_in_use(path: str | os.PathLike[str]) -> str | None:
    """The process id (as its lock file says) of the run using the folder ``path`` now, or
    ``None`` when no run holds its lock (:func:`lock_run_dir`). Reads only: no lock is taken
    and nothing is created."""
    path = Path(path)
    if path.resolve() in _HELD:
        return str(os.getpid())
    if fcntl is None:
        return None
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None  # no lock file: no run since the last one released it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # held: a run is writing into the folder
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
    finally:
        os.close(fd)  # also drops the shared lock just taken, if it was
    return None


def _open_lock_file(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path / LOCK_FILE, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot write the run folder here ({exc.strerror or exc}); choose a "
            "writable --out"
        ) from None


def release_run_dir(path: str | os.PathLike[str]) -> None:
    """Release the lock of :func:`lock_run_dir` (a no-op if this process does not hold it)."""
    fd = _HELD.pop(Path(path).resolve(), None)
    if fd is not None:
        try:  # removed while still locked: whoever opens it next makes a new one
            os.unlink(Path(path) / LOCK_FILE)
        except OSError:
            pass
        os.close(fd)


@contextmanager
def no_larger_than(checkpoint: Checkpoint | None) -> Iterator[None]:
    """Build a resumed run's model (from its ``config.json``) no larger than its checkpoint's.

    An edited ``config.json`` (``"hidden": [1000000000]``) would otherwise allocate the
    model it describes before ``fit`` finds that it is not the checkpoint's.
    """
    if checkpoint is None:
        yield
        return
    values = sum(int(value.size) for value in checkpoint.model.state_dict().values())
    try:
        with allocation_budget(values):
            yield
    except BudgetExceeded as exc:
        raise InputError(
            f"{checkpoint.directory / 'config.json'}: describes a larger model than "
            f"{checkpoint.path} ({exc}); restore the file, or start a new run"
        ) from None


def read_config_json(config_path: Path) -> Any:
    """A run's ``config.json``, parsed, read as untrusted input: a regular file only (a FIFO
    would block), at most :data:`MAX_CONFIG_BYTES`, any nesting depth a one-line error."""
    fh, _ = open_regular(config_path, "a run configuration")
    try:
        with fh:
            data, too_long = read_capped(fh, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise InputError(
            f"{config_path}: unreadable ({exc.strerror or exc}); restore the file"
        ) from None
    if too_long:
        raise InputError(
            f"{config_path}: larger than {MAX_CONFIG_BYTES >> 20} MiB, which no run "
            "configuration is; restore the file, or start a new run"
        )
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InputError(
            f"{config_path}: unreadable ({type(exc).__name__}: {_first_line(exc)}); restore the "
            "file, or start a new run"
        ) from None


def read_run_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The configuration a run folder was trained with (its ``config.json``), checked."""
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise InputError(
            f"{path}: no such run folder; pass the folder that 'scratchnn train' wrote (its --out)"
        )
    config_path = path / "config.json"
    if not os.path.lexists(config_path):
        raise InputError(
            f"{path}: not a run folder (no config.json); pass the folder that 'scratchnn train' "
            "wrote (its --out)"
        )
    config = read_config_json(config_path)
    if not isinstance(config, dict) or not config.get("dataset"):
        raise InputError(f"{config_path}: not a run configuration (no dataset); restore the file")
    config.pop("scratchnn_version", None)
    try:
        return resolve_config(config)
    except (InputError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{config_path}: {exc}; restore the file, or start a new run") from None


def open_run(
    run_dir: str | os.PathLike[str],
    epochs: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
) -> tuple[dict[str, Any], Checkpoint]:
    """The configuration and checkpoint to continue a run with, until ``epochs`` in total.

    ``epochs`` defaults to the run's own; ``data_dir`` and ``dataset`` replace the saved ones,
    for data that moved (a CSV file is saved as the path it was given by): the data are
    fingerprinted, so other data are still refused. A cosine schedule is planned for the
    run's number of epochs and so cannot be extended.
    """
    path = Path(run_dir).expanduser()
    config = read_run_config(path)
    if os.path.lexists(path / CHECKPOINT_FILE):
        # a FIFO or a device is refused by the reader, naming it, rather than called missing
        open_regular(path / CHECKPOINT_FILE, "a checkpoint", error=ModelFileError)[0].close()
    else:
        raise InputError(
            f"{path}: holds no {CHECKPOINT_FILE} to resume from (trained with --checkpoint-every "
            "0, or before checkpoints existed); start a new run"
        )
    checkpoint = load_checkpoint(path)
    done = checkpoint.epoch if checkpoint.in_epoch is None else checkpoint.in_epoch
    target = int(config["epochs"]) if epochs is None else int(epochs)
    if target < done:
        raise InputError(
            f"{path}: the run has already reached epoch {done}; pass --epochs {done} or more "
            "(--epochs counts the total, not the epochs still to train)"
        )
    if config.get("lr_schedule") in ("cosine", "warmup_cosine") and target != config["epochs"]:
        raise InputError(
            f"{path}: the learning rate follows a cosine decay planned for {config['epochs']} "
            f"epochs, which cannot be stretched to {target}; resume without --epochs, or start "
            f"a new run with --epochs {target}"
        )
    config["epochs"] = target
    if data_dir is not None:
        config["data_dir"] = str(data_dir)
    if dataset is not None:
        config = resolve_config({**config, "dataset": dataset})
    return config, checkpoint


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
