"""Several runs' training curves overlaid, one colour per run (``scratchnn runs --compare``).

>>> import tempfile, pathlib
>>> import pandas as pd
>>> a = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.6, 0.5], "val_loss": [1.1, 0.7, 0.6]})
>>> b = pd.DataFrame({"epoch": [1, 2], "loss": [0.9, 0.4], "val_loss": [1.0, 0.5]})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.png"
>>> fig = overlay_curves({"runs/a": a, "runs/b": b}, path=path)
>>> path.stat().st_size > 0
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ._style import COLORS, new_figure, save_figure

__all__ = ["overlay_curves"]


def _has(frame: pd.DataFrame, column: str) -> bool:
    return column in frame and bool(np.isfinite(frame[column].to_numpy(dtype=float)).any())


def overlay_curves(
    histories: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Loss (and accuracy, where the runs have one) per epoch of every run, overlaid.

    ``histories`` maps a label (the run folder) to its ``history.csv`` as a DataFrame. Each
    run has one colour; training is drawn solid and validation dashed. The loss axis is
    logarithmic when the losses span more than a factor of 100 (an exploding first epoch
    would flatten the rest).
    """
    panels = [("loss", "loss")]
    if any(_has(h, "accuracy") or _has(h, "val_accuracy") for h in histories.values()):
        panels.append(("accuracy", "accuracy"))
    fig = new_figure(6.0 * len(panels), 4.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (column, label) in zip(axes, panels):
        values = []
        for i, (name, frame) in enumerate(histories.items()):
            color = COLORS[i % len(COLORS)]
            epochs = frame["epoch"].to_numpy()
            for prefix, style in (("", "-"), ("val_", "--")):
                key = prefix + column
                if _has(frame, key):
                    ax.plot(epochs, frame[key], style, color=color, marker=".", label=name)
                    values.append(frame[key].to_numpy(dtype=float))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        finite = np.concatenate(values) if values else np.array([])
        finite = finite[np.isfinite(finite)]
        if (
            column == "loss"
            and len(finite)
            and finite.min() > 0
            and finite.max() > 100 * finite.min()
        ):
            ax.set_yscale("log")
            ax.set_ylabel("loss (log scale)")
    runs = [
        Line2D([], [], color=COLORS[i % len(COLORS)], label=name)
        for i, name in enumerate(histories)
    ]
    kinds = [
        Line2D([], [], color="0.3", linestyle="-", label="training"),
        Line2D([], [], color="0.3", linestyle="--", label="validation"),
    ]
    axes[0].legend(handles=runs + kinds, fontsize=8, loc="best")
    fig.suptitle(title or "runs compared: training (solid) and validation (dashed)")
    if path is not None:
        save_figure(fig, path)
    return fig
