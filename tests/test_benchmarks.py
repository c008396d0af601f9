"""The benchmark scripts run in their smoke mode, and the contracts they rely on hold.

No timing is asserted here: the machine is shared and noisy. Speed is reported by the
benchmark scripts themselves, racing PyTorch in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import scratchnn as snn
from conftest import REPO

ISSUE_KEYS = {
    "scratchnn_s_per_epoch",
    "torch_s_per_epoch",
    "ratio",
    "matmul_floor_s_per_epoch",
    "scratchnn_peak_rss_mib",
    "scratchnn_test_accuracy",
    "torch_test_accuracy",
    "epochs",
}


@pytest.mark.slow
def test_mlp_mnist_benchmark_smoke(torch, mnist_dir, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "mlp_mnist.py"),
            "--smoke",
            "--json",
            "--markdown",
            f"--data-dir={mnist_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert ISSUE_KEYS <= summary.keys()
    assert summary["smoke"] is True and summary["epochs"] == 2
    for key in ("scratchnn_epoch_seconds", "torch_epoch_seconds", "scratchnn_epoch_test_accuracy"):
        assert len(summary[key]) == 2, key
    for key in ("scratchnn_s_per_epoch", "torch_s_per_epoch", "matmul_floor_s_per_epoch"):
        assert summary[key] > 0, key
    # Same initial weights, same batches in the same order: the two twins learn alike.
    assert summary["scratchnn_test_accuracy"] > 0.5
    assert abs(summary["scratchnn_test_accuracy"] - summary["torch_test_accuracy"]) < 0.02
    # The scratchnn memory probe never loads torch, so its RSS is its own.
    assert 0 < summary["scratchnn_peak_rss_mib"] < summary["torch_peak_rss_mib"]
    assert "| float32, batch 250 (reference) |" in result.stdout
    assert "CPU type: " in result.stdout and summary["machine"]["blas"]  # which machine
    assert summary["command"].startswith("python benchmarks/mlp_mnist.py --smoke")


def test_fit_draws_one_permutation_per_epoch_from_its_rng():
    """The benchmark replays fit's batch order in PyTorch from a generator with the same seed.

    That works because fit (shuffle on, no validation split) visits the examples in
    ``rng.permutation(n)`` order, one draw per epoch. A layer that records its inputs shows
    the order; the data is the example index, so each batch reads as its indices.
    """

    class Recorder(snn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[np.ndarray] = []

        def forward(self, X, training=True):
            if training:
                self.seen.append(X[:, 0].astype(int).copy())
            return X

        def backward(self, dY):
            return dY

    n, batch_size, epochs = 23, 5, 3
    X = np.repeat(np.arange(n, dtype=np.float64)[:, None], 2, axis=1)
    y = np.arange(n) % 2
    recorder = Recorder()
    model = snn.Sequential(recorder, snn.Dense(2, 2, rng=0), dtype=np.float64)
    model.fit(X, y, epochs=epochs, batch_size=batch_size, rng=np.random.default_rng(7), verbose=0)

    replay = np.random.default_rng(7)
    expected = [replay.permutation(n) for _ in range(epochs)]
    seen = np.concatenate(recorder.seen)
    np.testing.assert_array_equal(seen, np.concatenate(expected))
    assert len(recorder.seen) == epochs * -(-n // batch_size)
