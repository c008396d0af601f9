"""Shared figure creation and saving for :mod:`scratchnn.plotting`."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ..io.atomic import atomic_write_bytes

__all__ = ["COLORS", "NotebookFigure", "new_figure", "save_figure"]

#: A colour-blind-safe cycle (Okabe & Ito), used for classes and curves.
COLORS = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#999999",
    "#882255",
]


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that Jupyter shows as a picture.

    The figures here are made without pyplot, so that no GUI backend is needed; a notebook
    then knows no way to draw them and prints ``<Figure size ... with 3 Axes>``. IPython
    asks an object for ``_repr_png_`` first: this one answers with the rendered PNG.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def new_figure(width: float = 6.4, height: float = 4.8, **kwargs: Any) -> Figure:
    """A new figure with constrained layout, not attached to any GUI backend (and shown as a
    picture when it is the last value of a notebook cell)."""
    return NotebookFigure(figsize=(width, height), layout="constrained", **kwargs)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> Path:
    """Render ``fig`` to PNG and write it atomically to ``path``; returns the path."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
    return path
