"""Run folders read back: what each run trained, how far it got, and how it ended.

:func:`~scratchnn.experiments.runs.find_runs` finds the run folders under a directory (a
folder with a ``config.json``, as ``train``, ``vae``, ``compare`` and ``demo`` write);
:func:`~scratchnn.experiments.runs.read_run` reads one into a :class:`RunSummary`, from its
files only:

============  ===============================================================================
finished      ``metrics.json`` (or ``compare.json``) says ``"status": "complete"``, written
              after the last ``config.json``
interrupted   ``metrics.json`` says ``"status": "interrupted"`` (Ctrl-C or SIGTERM; it can be
              resumed)
running       another process holds the folder's lock (``.scratchnn.lock``): still training
failed        no results after the last start: a crash, a divergence, a kill, a full disk
============  ===============================================================================

:func:`~scratchnn.experiments.runs.read_history` gives a run's ``history.csv``, for
``scratchnn runs --compare``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from .run_dir import run_in_use

__all__ = ["RunSummary", "find_runs", "read_history", "read_run"]

#: How deep below the directory :func:`find_runs` looks (``runs/demo/circle-2-3-2`` is 2).
MAX_DEPTH = 3


@dataclass
class RunSummary:
    """One run folder, as its files describe it."""

    path: Path
    #: the command that wrote it: ``"train"``, ``"vae"`` or ``"compare"``
    command: str
    dataset: str
    model: str
    #: epochs done, and the epochs it was started for (``None`` when unknown)
    epochs: int
    planned: int | None
    #: ``"finished"``, ``"interrupted"`` or ``"failed"``
    status: str
    #: the final numbers, as ``(name, value)``: test accuracy and loss, negative ELBO, ...
    results: list[tuple[str, float]] = field(default_factory=list)
    #: where an interrupted run stopped (``"SIGINT at epoch 3, batch 113"``), or why it
    #: counts as failed
    note: str = ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _history_length(path: Path) -> int:
    try:
        with open(path / "history.csv", encoding="utf-8") as fh:
            return max(sum(1 for line in fh if line.strip()) - 1, 0)
    except OSError:
        return 0


def _newer(a: Path, b: Path) -> bool:
    """``a`` was written after ``b`` (both exist)."""
    try:
        return a.stat().st_mtime_ns > b.stat().st_mtime_ns
    except OSError:
        return False


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _results(command: str, metrics: dict[str, Any]) -> list[tuple[str, float]]:
    """The final numbers a run's results file holds, labelled."""
    if command == "vae":
        pairs = [
            ("test -ELBO", metrics.get("test_neg_elbo")),
            ("test -log p(x)", metrics.get("test_iwae_nll")),
        ]
    elif command == "compare":
        ours, theirs = metrics.get("scratchnn") or {}, metrics.get("torch") or {}
        pairs = [
            ("test acc", ours.get("test_accuracy")),
            ("PyTorch acc", theirs.get("test_accuracy")),
            ("max |Δloss|", metrics.get("max_abs_loss_difference")),
        ]
    else:
        pairs = [
            ("test acc", metrics.get("test_accuracy")),
            ("test loss", metrics.get("test_loss")),
        ]
    found = [(label, _number(value)) for label, value in pairs]
    return [(label, value) for label, value in found if value is not None]


def read_run(path: str | os.PathLike[str]) -> RunSummary:
    """Describe the run folder ``path`` from its ``config.json`` and its results.

    Raises :class:`~scratchnn.errors.InputError` when ``path`` is not a run folder.
    """
    path = Path(path)
    config = _read_json(path / "config.json")
    if config is None:
        raise InputError(
            f"{path}: not a run folder (no readable config.json); pass a folder written by "
            "'scratchnn train', 'vae', 'compare' or 'demo'"
        )
    command = str(config.get("command") or "train")
    arguments = config.get("arguments") if command == "vae" else None
    arguments = arguments if isinstance(arguments, dict) else {}
    if (path / "compare.json").is_file():
        command = "compare"
    results_file = path / ("compare.json" if command == "compare" else "metrics.json")
    metrics = _read_json(results_file) or {}
    dataset = str(
        config.get("dataset") or arguments.get("dataset") or metrics.get("dataset") or "?"
    )
    model = str(config.get("model") if command != "vae" else "vae")
    architecture = metrics.get("architecture")
    if architecture:
        model = f"{model} {architecture}"
    planned = config.get("epochs", arguments.get("epochs"))
    planned = int(planned) if isinstance(planned, int) else None
    done = metrics.get("epochs")
    epochs = int(done) if isinstance(done, int) else _history_length(path)

    status, note = "failed", "no results: it crashed, diverged or was killed"
    if metrics:
        state = metrics.get("status", "complete")
        if _newer(path / "config.json", results_file):
            note = "started again after its last results, and did not finish"
            epochs = max(epochs, _history_length(path))
        elif state == "interrupted":
            status = "interrupted"
            where = metrics.get("stopped_at") or {}
            note = f"{metrics.get('stopped_by', 'a signal')} at epoch {where.get('epoch')}"
            if where.get("batch") is not None:
                note += f", batch {where['batch']}"
        elif state == "complete":
            status, note = "finished", ""
    if status == "failed":
        pid = run_in_use(path)
        if pid is not None:
            status, note = "running", f"pid {pid} is writing into it"
    return RunSummary(
        path=path,
        command=command,
        dataset=dataset,
        model=model,
        epochs=epochs,
        planned=planned,
        status=status,
        results=_results(command, metrics),
        note=note,
    )


def find_runs(directory: str | os.PathLike[str]) -> list[RunSummary]:
    """Every run folder in ``directory`` (or ``directory`` itself if it is one), by path.

    Folders whose ``config.json`` cannot be read are left out; so is anything deeper than
    :data:`MAX_DEPTH` levels.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(
            f"{root}: no such directory; pass the folder holding your runs (default runs/)"
        )
    return [read_run(path) for path in sorted(_run_folders(root, 0))]


def _run_folders(folder: Path, depth: int) -> Iterator[Path]:
    if (folder / "config.json").is_file() and _read_json(folder / "config.json") is not None:
        yield folder
        return
    if depth >= MAX_DEPTH:
        return
    try:
        children = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return
    for child in children:
        yield from _run_folders(child, depth + 1)


def read_history(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The ``history.csv`` of a run folder (one row per epoch).

    Raises :class:`~scratchnn.errors.InputError` when the run has none yet.
    """
    path = Path(path)
    file = path / "history.csv"
    try:
        frame = pd.read_csv(file)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(
            f"{path}: no readable history.csv ({type(exc).__name__}); a run writes it after "
            "its first epoch"
        ) from None
    if "epoch" not in frame or "loss" not in frame:
        raise InputError(f"{file}: not a training history (no epoch and loss columns)")
    return frame
