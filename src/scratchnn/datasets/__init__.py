"""Datasets: seeded 2-D generators (more, with CSV and MNIST loaders, in the datasets issue)."""

from .synthetic import circle_regions, square_regions

__all__ = ["circle_regions", "square_regions"]
