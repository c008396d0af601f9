"""Training curves with a results table, and the scratchnn-vs-PyTorch loss overlay.

>>> import tempfile, pathlib
>>> from scratchnn.training import History
>>> h = History()
>>> for e in range(1, 4):
...     h.append(epoch=e, loss=1 / e, accuracy=1 - 0.3 / e, val_loss=1.1 / e,
...              val_accuracy=1 - 0.35 / e, lr=1e-3, seconds=0.1)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "curves.png"
>>> fig = training_curves(h, {"test accuracy": "90.0 %"}, path=path, chance=0.5)
>>> path.stat().st_size > 0
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._style import COLORS, new_figure, save_figure

__all__ = ["comparison_curves", "results_table", "training_curves"]


def _frame(history: Any) -> pd.DataFrame:
    if isinstance(history, pd.DataFrame):
        return history
    if hasattr(history, "to_dataframe"):
        return history.to_dataframe()
    return pd.DataFrame(history)


def _has(frame: pd.DataFrame, column: str) -> bool:
    return column in frame and bool(np.isfinite(frame[column].to_numpy(dtype=float)).any())


def _epoch_axis(ax: Axes, epochs: np.ndarray) -> None:
    """Whole epochs only: every epoch a tick on short runs (a one-epoch run has one, at 1)."""
    ax.set_xlabel("epoch")
    if len(epochs) <= 10:
        ax.set_xticks([int(e) for e in epochs])
        if len(epochs) == 1:
            ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10))
    ax.grid(True, alpha=0.3)


#: Above this ratio of the largest to the smallest loss, the loss axis is logarithmic.
LOG_SCALE_RATIO = 30.0


def _loss_scale(ax: Axes, values: list[np.ndarray]) -> bool:
    """A log scale when the losses span more than :data:`LOG_SCALE_RATIO`: an exploding first
    epoch (a loss of 1e4, then 0.3) would otherwise flatten every later epoch into a line."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size < 2 or finite.min() <= 0 or finite.max() / finite.min() <= LOG_SCALE_RATIO:
        return False
    ax.set_yscale("log")
    return True


def results_table(ax: Axes, results: Mapping[str, str], title: str = "results") -> None:
    """Draw ``{label: value}`` as a two-column table filling ``ax`` (which is hidden)."""
    ax.set_axis_off()
    if not results:
        return
    rows = [[str(k), str(v)] for k, v in results.items()]
    table = ax.table(cellText=rows, colWidths=[0.44, 0.56], loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.35)
    for (_row, col), cell in table.get_celld().items():
        cell.set_edgecolor("#cccccc")
        if col == 0:
            cell.set_facecolor("#f2f2f2")
        else:
            cell.get_text().set_fontweight("bold")
    ax.set_title(title, loc="left", fontsize=11)


def training_curves(
    history: Any,
    results: Mapping[str, str] | None = None,
    path: str | os.PathLike[str] | None = None,
    chance: float | None = None,
    title: str | None = None,
    test_accuracy: float | None = None,
    test_loss: float | None = None,
    best: float | None = None,
) -> Figure:
    """Loss and accuracy per epoch (training and validation) next to a table of results.

    Parameters
    ----------
    history : History, DataFrame or dict
        Columns ``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` (as
        :class:`~scratchnn.training.History` and ``history.csv``); missing or all-NaN columns
        are left out, and without accuracies (regression) the accuracy panel is dropped.
    results : mapping of str to str, optional
        Rows of the results table (test accuracy, test loss, training time, sizes, ...).
    path : path-like, optional
        Where to write the PNG.
    chance : float, optional
        The accuracy of always answering the most frequent class, drawn as a dashed line.
    title : str, optional
        Figure title.
    test_accuracy, test_loss : float, optional
        Final test values, marked at the last epoch.
    best : float, optional
        The best possible accuracy (e.g. the Bayes rate of a synthetic dataset), drawn as a
        dotted line.
    """
    frame = _frame(history)
    epochs = frame["epoch"].to_numpy()
    with_accuracy = _has(frame, "accuracy") or _has(frame, "val_accuracy")
    panels = 3 if with_accuracy else 2
    fig = new_figure(5.2 * panels, 4.3)
    axes = fig.subplots(1, panels, width_ratios=[1] * (panels - 1) + [1.1])

    ax = axes[0]
    if _has(frame, "loss"):
        ax.plot(epochs, frame["loss"], "-o", ms=3, color=COLORS[0], label="training")
    if _has(frame, "val_loss"):
        ax.plot(epochs, frame["val_loss"], "-s", ms=3, color=COLORS[1], label="validation")
    if test_loss is not None and math.isfinite(test_loss):
        ax.plot([epochs[-1]], [test_loss], "*", ms=11, color=COLORS[3], label="test (final)")
    losses = [frame[c].to_numpy(float) for c in ("loss", "val_loss") if _has(frame, c)]
    if test_loss is not None and math.isfinite(test_loss):
        losses.append(np.array([test_loss]))
    log = _loss_scale(ax, losses)
    ax.set_ylabel("loss (log scale)" if log else "loss")
    ax.set_title("loss per epoch", loc="left", fontsize=11)
    _epoch_axis(ax, epochs)
    ax.legend(frameon=False)

    if with_accuracy:
        ax = axes[1]
        if _has(frame, "accuracy"):
            ax.plot(epochs, 100 * frame["accuracy"], "-o", ms=3, color=COLORS[0], label="training")
        if _has(frame, "val_accuracy"):
            ax.plot(
                epochs, 100 * frame["val_accuracy"], "-s", ms=3, color=COLORS[1], label="validation"
            )
        if test_accuracy is not None and math.isfinite(test_accuracy):
            ax.plot(
                [epochs[-1]],
                [100 * test_accuracy],
                "*",
                ms=11,
                color=COLORS[3],
                label="test (final)",
            )
        if best is not None and math.isfinite(best):
            ax.axhline(
                100 * best, ls=":", lw=1.5, color=COLORS[2], label=f"best possible ({best:.1%})"
            )
        # Zoom on the curves; the chance level is drawn if it is near them, else named in
        # the legend (on MNIST, 11 % would squash 98 % and 99 % into one line).
        values = [
            100 * frame[c].to_numpy(float) for c in ("accuracy", "val_accuracy") if _has(frame, c)
        ]
        values += [
            np.array([100 * v]) for v in (test_accuracy, best) if v is not None and math.isfinite(v)
        ]
        low = float(np.nanmin(np.concatenate(values)))
        high = float(np.nanmax(np.concatenate(values)))
        pad = max(0.08 * (high - low), 0.5)
        if chance is not None:
            style = dict(ls="--", lw=1, color=COLORS[8])
            if 100 * chance >= low - 0.5 * (high - low) - pad:
                ax.axhline(100 * chance, label=f"chance ({chance:.1%})", **style)
                low = min(low, 100 * chance)
            else:
                ax.plot([], [], label=f"chance: {chance:.1%} (below the axis)", **style)
        ax.set_ylim(low - pad, min(high + pad, 100.5))
        ax.set_ylabel("accuracy (%)")
        ax.set_title("accuracy per epoch", loc="left", fontsize=11)
        _epoch_axis(ax, epochs)
        ax.legend(frameon=True, framealpha=0.9, edgecolor="none", loc="best")

    results_table(axes[-1], results or {})
    if title:
        fig.suptitle(title, fontsize=12)
    if path is not None:
        save_figure(fig, path)
    return fig


def comparison_curves(
    table: Any,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    names: tuple[str, str] = ("scratchnn", "torch"),
) -> Figure:
    """Overlay two runs' loss curves and show how far apart they are, epoch by epoch.

    ``table`` has ``epoch`` and, for each name, ``<name>_loss`` (training loss per epoch) and
    optionally ``<name>_val_loss``. The right panel plots the relative difference on a log
    scale next to the machine epsilons, so curves that coincide to rounding error (float64)
    are visibly so; an exact match is drawn at 1e-18.
    """
    frame = _frame(table)
    epochs = frame["epoch"].to_numpy()
    fig = new_figure(11.0, 4.3)
    ax, diff_ax = fig.subplots(1, 2)
    styles = {names[0]: dict(ls="-", lw=2.2, alpha=0.8), names[1]: dict(ls="--", lw=1.4)}
    for column, label, color in (
        ("loss", "training", COLORS[0]),
        ("val_loss", "validation", COLORS[1]),
    ):
        for name in names:
            key = f"{name}_{column}"
            if _has(frame, key):
                marker = "o" if name == names[0] else "x"
                ax.plot(
                    epochs,
                    frame[key],
                    marker=marker,
                    ms=4,
                    color=color,
                    label=f"{name} {label}",
                    **styles[name],
                )
    losses = [
        frame[f"{name}_{c}"].to_numpy(float)
        for name in names
        for c in ("loss", "val_loss")
        if _has(frame, f"{name}_{c}")
    ]
    log = _loss_scale(ax, losses)
    ax.set_ylabel("loss (log scale)" if log else "loss")
    ax.set_title("loss per epoch", loc="left", fontsize=11)
    _epoch_axis(ax, epochs)
    ax.legend(frameon=False)

    floor = 1e-18  # an exact match has no place on a log axis: it is drawn here instead
    top = floor
    for column, label, color in (
        ("loss", "training", COLORS[0]),
        ("val_loss", "validation", COLORS[1]),
    ):
        a, b = f"{names[0]}_{column}", f"{names[1]}_{column}"
        if _has(frame, a) and _has(frame, b):
            ref = np.maximum(np.abs(frame[b].to_numpy(float)), 1e-300)
            gap = np.abs(frame[a].to_numpy(float) - frame[b].to_numpy(float)) / ref
            shown = np.maximum(gap, floor)
            top = max(top, float(np.nanmax(shown)))
            diff_ax.semilogy(epochs, shown, "-o", ms=4, color=color, label=label)
    for eps, text in (
        (np.finfo(np.float32).eps, "float32 ε"),
        (np.finfo(np.float64).eps, "float64 ε"),
    ):
        diff_ax.axhline(eps, ls=":", lw=1, color=COLORS[8])
        diff_ax.annotate(
            text,
            (epochs[0], eps),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=8,
            color=COLORS[8],
        )
    diff_ax.set_ylim(floor / 3, max(top * 10, 1e-5))
    diff_ax.set_ylabel(f"|{names[0]} − {names[1]}| / |{names[1]}|")
    diff_ax.set_title(
        f"relative difference of the curves (0 drawn at {floor:g})", loc="left", fontsize=11
    )
    _epoch_axis(diff_ax, epochs)
    diff_ax.legend(frameon=False, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=12)
    if path is not None:
        save_figure(fig, path)
    return fig
