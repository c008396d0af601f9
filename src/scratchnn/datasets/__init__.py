"""Datasets: seeded 2-D generators and MNIST-format IDX files."""

from .idx import read_idx
from .mnist import MNIST_FILES, cache_dir, find_mnist, load_mnist
from .synthetic import circle_regions, square_regions

__all__ = [
    "MNIST_FILES",
    "cache_dir",
    "circle_regions",
    "find_mnist",
    "load_mnist",
    "read_idx",
    "square_regions",
]
