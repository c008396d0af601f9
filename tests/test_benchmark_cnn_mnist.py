"""The CNN benchmarks run in their smoke modes and end with the promised JSON line.

No timing is asserted (the machine is shared); the numbers are checked for meaning only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

KEYS = {
    "scratchnn_s_per_epoch",
    "torch_s_per_epoch",
    "ratio",
    "scratchnn_test_accuracy",
    "torch_test_accuracy",
    "scratchnn_peak_rss_mb",
    "torch_peak_rss_mb",
    "scratchnn_training_mb",
    "torch_training_mb",
}


@pytest.mark.torch
@pytest.mark.slow  # ~5 s on a quiet machine: loads MNIST and imports torch three times
def test_cnn_benchmark_smoke_mode(torch, mnist_dir, tmp_path):
    script = REPO / "benchmarks" / "cnn_mnist.py"
    result = subprocess.run(
        [sys.executable, str(script), "--smoke", "--json", "--data-dir", str(mnist_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert KEYS <= set(summary)
    assert "ratio scratchnn / PyTorch" in result.stdout  # the table came first
    assert summary["train_examples"] == 1024 and summary["epochs"] == 1
    assert summary["ratio"] == pytest.approx(
        summary["scratchnn_s_per_epoch"] / summary["torch_s_per_epoch"]
    )
    # the twins start as the same function and see the same batches
    assert summary["initial_max_logit_difference"] < 1e-4
    assert abs(summary["scratchnn_test_accuracy"] - summary["torch_test_accuracy"]) <= 0.02
    assert 0.2 < summary["scratchnn_test_accuracy"] <= 1.0  # 16 steps already beat chance
    assert summary["torch_peak_rss_mb"] > 0 and summary["scratchnn_peak_rss_mb"] > 0
    # the machine and the floor of the same products, as every benchmark reports them
    assert "machine: " in result.stdout and summary["machine"]["numpy"]
    assert summary["machine"]["torch_cpu_capability"] and summary["cpu_type"]
    assert 0 < summary["product_floor_s_per_epoch"]
    assert summary["floor_ratio"] == pytest.approx(
        summary["scratchnn_s_per_epoch"] / summary["product_floor_s_per_epoch"]
    )


def test_col2im_benchmark_smoke_mode(tmp_path):
    script = REPO / "benchmarks" / "conv_col2im.py"
    result = subprocess.run(
        [sys.executable, str(script), "--smoke", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    (row,) = summary["results"]  # the three variants agreed on dX, or the script failed
    assert {"batched+loop", "gemm+loop", "gemm+add.at"} <= set(row)
