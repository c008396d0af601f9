"""Plots as PNG files, drawn with matplotlib's object-oriented API (no GUI backend needed).

Each plotting module covers one family of figures; every function takes the data, draws a
:class:`matplotlib.figure.Figure`, writes it with :func:`save_figure` when given a path, and
returns the figure.
"""

from ._style import COLORS, new_figure, save_figure

__all__ = ["COLORS", "new_figure", "save_figure"]
