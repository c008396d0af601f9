"""Datasets: seeded 2-D generators, CSV tables, MNIST-format IDX files (with a verified download) and the names text for character-level language models."""

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
from .text import (
    CharTokenizer,
    SequenceBatch,
    encode_batch,
    find_names,
    joined_stream,
    load_names,
    read_lines,
    split_names,
    windows,
)

__all__ = [
    "MNIST_FILES",
    "REMOTE_DATASETS",
    "CSVData",
    "CharTokenizer",
    "DownloadError",
    "RemoteDataset",
    "RemoteFile",
    "SequenceBatch",
    "cache_dir",
    "circle_bayes_predict",
    "circle_regions",
    "download",
    "encode_batch",
    "find_mnist",
    "find_names",
    "joined_stream",
    "load_csv",
    "load_mnist",
    "load_names",
    "moons",
    "read_idx",
    "read_lines",
    "read_table",
    "save_csv",
    "sine",
    "spirals",
    "split_names",
    "square_bayes_predict",
    "square_regions",
    "windows",
    "xor",
]
