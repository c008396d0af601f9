"""Shared fixtures.

PyTorch parity tests use the ``torch`` fixture. Without PyTorch they skip with a reason,
unless ``SCRATCHNN_REQUIRE_TORCH=1`` (set by ``.ci/run``), where a missing torch fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# tests/fixtures holds data files and the script that made them, not tests
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="session")
def torch():
    try:
        import torch as torch_module
    except ImportError:
        if os.environ.get("SCRATCHNN_REQUIRE_TORCH") == "1":
            pytest.fail("PyTorch is required here (SCRATCHNN_REQUIRE_TORCH=1) but not installed")
        pytest.skip("PyTorch parity test: install the reference with pip install torch==2.13.0")
    torch_module.set_default_dtype(torch_module.float64)
    torch_module.set_num_threads(2)
    return torch_module


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _mnist_dir() -> Path | None:
    candidates = []
    if os.environ.get("SCRATCHNN_DATA"):
        candidates += [
            Path(os.environ["SCRATCHNN_DATA"]) / "mnist",
            Path(os.environ["SCRATCHNN_DATA"]),
        ]
    candidates.append(REPO.parent / "shared" / "data" / "mnist")
    for path in candidates:
        if (path / "train-images-idx3-ubyte.gz").exists() or (
            path / "train-images-idx3-ubyte"
        ).exists():
            return path
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST directory ($SCRATCHNN_DATA/mnist or ../shared/data/mnist)."""
    path = _mnist_dir()
    if path is None:
        pytest.skip("real MNIST not found: set SCRATCHNN_DATA to a directory holding mnist/")
    return path
