"""The benchmark scripts run in their smoke mode and end with the promised JSON line.

Only the structure is checked: timings on a shared machine are never asserted in tests.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.torch
def test_vae_benchmark_smoke_mode_prints_json_last(torch, mnist_dir, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "vae_mnist.py"),
            "--smoke",
            "--json",
            "--data-dir",
            str(mnist_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("scratchnn_s_per_epoch", "torch_s_per_epoch", "ratio"):
        assert last[key] > 0 and math.isfinite(last[key]), key
    for key in ("scratchnn_test_neg_elbo", "torch_test_neg_elbo"):
        assert 100 < last[key] < 600, key  # one epoch on 1,024 images: far from trained
    assert last["epochs"] == 1 and last["smoke"] is True
    # the machine and the floor of the same products, as every benchmark reports them
    assert "machine: " in result.stdout and last["machine"]["torch_cpu_capability"]
    assert last["cpu_type"] and last["product_floor_s_per_epoch"] > 0
