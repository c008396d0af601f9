"""Run folders: creating one without overwriting a result, and reopening one to resume it.

A run folder holds the files of :data:`~scratchnn.experiments.RUN_FILES` (``config.json``
first, written before training starts) and the plots.
:func:`~scratchnn.experiments.make_run_dir` refuses a folder that already holds a run;
:func:`~scratchnn.experiments.read_run_config` and :func:`~scratchnn.experiments.open_run`
read one back to continue it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._validation import BudgetExceeded, allocation_budget
from ..errors import InputError, ModelFileError
from ..io.regular import open_regular, read_capped
from ..training.checkpoint import CHECKPOINT_FILE, Checkpoint, load_checkpoint
from .config import resolve_config

__all__ = ["RUN_FILES", "make_run_dir", "no_larger_than", "open_run", "read_run_config"]

#: A run's config.json is a few hundred bytes; anything past this is not one.
MAX_CONFIG_BYTES = 1 << 20

#: The files whose presence means that a folder already holds a run.
RUN_FILES = ("config.json", "metrics.json", "model.npz", "history.csv", CHECKPOINT_FILE)


def make_run_dir(out: str | os.PathLike[str] | None, label: str, overwrite: bool = False) -> Path:
    """Create the run folder: ``out``, or ``runs/<label>-<date>-<time>`` if not given.

    A folder that already holds a run is refused unless ``overwrite``, so that no result is
    lost by accident (a run with a checkpoint is continued with :func:`resume_training`,
    ``--resume``). With ``overwrite`` the old checkpoint is deleted, so that the new run
    starts from scratch instead of being refused by ``fit``.
    """
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{label}-{stamp}"
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory; choose another --out")
    held = [name for name in RUN_FILES if (path / name).exists()]
    if held and not overwrite:
        hint = f"continue it with --resume {path}, " if CHECKPOINT_FILE in held else ""
        raise InputError(
            f"{path}: already holds a run ({', '.join(held)}); {hint}choose another --out, or "
            "pass --overwrite to replace it"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            (path / CHECKPOINT_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot create the run folder ({exc.strerror or exc}); choose a writable --out"
        ) from None
    return path


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
    fh, _ = open_regular(config_path, "a run configuration")  # a FIFO would block
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
        config = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InputError(
            f"{config_path}: unreadable ({type(exc).__name__}: {_first_line(exc)}); restore the "
            "file, or start a new run"
        ) from None
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
