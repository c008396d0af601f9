"""Shared figure creation and saving for :mod:`scratchnn.plotting`."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ..io.atomic import atomic_write_bytes

__all__ = ["COLORS", "new_figure", "save_figure"]

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


def new_figure(width: float = 6.4, height: float = 4.8, **kwargs: Any) -> Figure:
    """A new figure with constrained layout, not attached to any GUI backend."""
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> Path:
    """Render ``fig`` to PNG and write it atomically to ``path``; returns the path."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
    return path
