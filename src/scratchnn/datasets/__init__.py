"""Datasets: seeded 2-D generators, CSV tables and MNIST-format IDX files (with a verified download)."""

from .download import REMOTE_DATASETS, DownloadError, RemoteDataset, RemoteFile, download
from .idx import read_idx
from .mnist import MNIST_FILES, cache_dir, find_mnist, load_mnist
from .synthetic import (
    circle_bayes_predict,
    circle_regions,
    moons,
    sine,
    spirals,
    square_bayes_predict,
    square_regions,
    xor,
)
from .tabular import CSVData, load_csv, read_table, save_csv

__all__ = [
    "MNIST_FILES",
    "REMOTE_DATASETS",
    "CSVData",
    "DownloadError",
    "RemoteDataset",
    "RemoteFile",
    "cache_dir",
    "circle_bayes_predict",
    "circle_regions",
    "download",
    "find_mnist",
    "load_csv",
    "load_mnist",
    "moons",
    "read_idx",
    "read_table",
    "save_csv",
    "sine",
    "spirals",
    "square_bayes_predict",
    "square_regions",
    "xor",
]
