"""A run's results: the numbers of ``metrics.json`` and the table printed at the end.

:func:`~scratchnn.experiments.run_metrics` evaluates a trained experiment on its test split
and gathers what ``metrics.json`` holds; :func:`~scratchnn.experiments.summary_rows` turns
those metrics into the rows of the final summary (and of the results panel of
``curves.png``), and :func:`~scratchnn.experiments.summary_table` lays rows out as two
aligned columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..loop import evaluate
from .experiment import Experiment
from .registry import describe_model

__all__ = ["format_number", "format_percent", "run_metrics", "summary_rows", "summary_table"]


def format_percent(value: Any) -> str:
    """A fraction as a percentage with two decimals; ``"–"`` for None, NaN or infinities.

    >>> format_percent(0.981), format_percent(None), format_percent(float("nan"))
    ('98.10 %', '–', '–')
    """
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.2f} %"


def format_number(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` decimals; ``"–"`` for None, NaN or infinities.

    >>> format_number(0.123456), format_number(float("inf"))
    ('0.1235', '–')
    """
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def run_metrics(
    experiment: Experiment,
    history: Any,
    train_seconds: float,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``metrics.json`` holds: ``status`` (default ``{"status": "complete"}``), the test
    loss and accuracy, timings, sizes, the last epoch's training and validation numbers, and
    the chance and best possible (Bayes) accuracy or loss where they are known."""
    data, model, config = experiment.data, experiment.model, experiment.config
    test = evaluate(model, experiment.X_test, data.y_test, loss=experiment.loss)
    last = history.records[-1] if len(history) else {}
    metrics: dict[str, Any] = {
        **(status or {"status": "complete"}),
        "dataset": data.name,
        "model": config["model"],
        "architecture": describe_model(model),
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(np.mean(history["seconds"])) if len(history) else None,
        "epochs": len(history),
        "parameters": model.num_parameters,
        "n_train": len(data.X_train),
        "n_val": len(data.X_val),
        "n_test": len(data.X_test),
        "train_loss": last.get("loss"),
        "train_accuracy": last.get("accuracy"),
        "val_loss": last.get("val_loss"),
        "val_accuracy": last.get("val_accuracy"),
    }
    if data.task == "classification":
        counts = np.bincount(data.y_test, minlength=data.num_classes or 0)
        metrics["chance_accuracy"] = float(counts.max() / counts.sum())
    info = data.info
    if info is not None and info.bayes is not None:
        best = info.bayes(data.X_test)
        if data.task == "classification":
            metrics["best_possible_accuracy"] = float(np.mean(best == data.y_test))
        else:
            metrics["best_possible_loss"] = float(np.mean((best - data.y_test) ** 2))
    return metrics


def summary_table(rows: Iterable[tuple[str, Any]], title: str | None = None) -> str:
    """Two aligned columns under a rule, for the end of a command's output.

    >>> print(summary_table([("test accuracy", "98.1 %"), ("parameters", "477,690")]))
    -------------------------
    test accuracy   98.1 %
    parameters      477,690
    -------------------------
    """
    rows = [(str(k), str(v)) for k, v in rows]
    width = max((len(k) for k, _ in rows), default=0) + 3
    total = max([width + max((len(v) for _, v in rows), default=0), len(title or "")]) + 2
    lines = ["-" * total]
    if title:
        lines += [title, "-" * total]
    lines += [k.ljust(width) + v for k, v in rows]
    lines.append("-" * total)
    return "\n".join(lines)


def summary_rows(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The rows of the final summary table and of the results panel of ``curves.png``."""
    rows = [
        ("dataset", str(metrics["dataset"])),
        ("model", f"{metrics['model']} {metrics['architecture']}"),
        ("parameters", f"{metrics['parameters']:,}"),
        (
            "train / val / test",
            f"{metrics['n_train']:,} / {metrics['n_val']:,} / {metrics['n_test']:,}",
        ),
        ("epochs × batch", f"{metrics['epochs']} × {config['batch_size']}"),
        (
            "optimizer",
            f"{config['optimizer']}, lr {config['lr']:g}"
            + (
                f" ({config['lr_schedule']})"
                if config.get("lr_schedule", "constant") != "constant"
                else ""
            ),
        ),
    ]
    if metrics.get("test_accuracy") is not None and math.isfinite(metrics["test_accuracy"]):
        rows.append(("test accuracy", format_percent(metrics["test_accuracy"])))
        if "best_possible_accuracy" in metrics:
            rows.append(
                ("best possible (Bayes)", format_percent(metrics["best_possible_accuracy"]))
            )
        rows.append(("chance (majority)", format_percent(metrics.get("chance_accuracy"))))
    rows.append(("test loss", format_number(metrics["test_loss"])))
    if "best_possible_loss" in metrics:
        rows.append(("best possible loss", format_number(metrics["best_possible_loss"])))
    per_epoch = metrics.get("seconds_per_epoch")
    rows.append(
        (
            "training time",
            f"{metrics['train_seconds']:.2f} s"
            + (f" ({per_epoch:.2f} s/epoch)" if per_epoch is not None else ""),
        )
    )
    return rows
