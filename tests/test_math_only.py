"""examples/math_only.py: its pure-Python SGD equals scratchnn's float64 SGD, and it learns.

The example is imported from its file, so these tests run the code a learner reads.

Tolerance of the parity test: ``rtol = atol = 1e-12``. Both sides compute the same real
numbers in IEEE float64 (unit roundoff u = 2⁻⁵³ ≈ 1.1e-16) and differ only in rounding:
summation order (Python's left-to-right loops against NumPy's matmul and sums), where the
1/m is applied (once on the summed gradient here, on dZ there), and ``math.exp`` against
``np.exp`` (each within about an ulp). A step's gradient sums 8 examples of a chain of a few
dozen operations, so each weight is off by at most some 10–100 u of the size of its terms;
five steps at lr = 1 pass that through an update whose Jacobian is of order 1. The weights
are of order 1, hence the absolute part: a weight near zero keeps the absolute error of the
terms that cancelled into it, and its relative error can be far above u. Measured when this
was written (seeds 0–4): at most 8e-17 absolute, 4e-15 relative, 2e-16 on the loss. Planted
mistakes (no 1/m, σ' without its (1 - a), a wrong W2 index in BP2) moved some weight by
6e-2 or more. 1e-12 is far from both.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest

import scratchnn as snn
from conftest import REPO

EXAMPLE = REPO / "examples" / "math_only.py"
RTOL = ATOL = 1e-12
LR = 1.0  # the example's default learning rate
BATCHES, BATCH_SIZE = 5, 8


@pytest.fixture(scope="module")
def math_only():
    spec = importlib.util.spec_from_file_location("math_only", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sgd_steps_equal_scratchnn_float64(math_only):
    rng = random.Random(0)
    data = math_only.generate_circles(BATCHES * BATCH_SIZE, rng)
    net = math_only.init_network(rng)
    start = {name: np.array(v) for name, v in net.items()}

    # The same start in scratchnn, copied in after Sequential has set every layer's dtype
    # (its default is float32). W is (out, in) on both sides, so the lists copy unchanged.
    dense = {1: snn.Dense(2, 3), 2: snn.Dense(3, 2)}
    model = snn.Sequential(dense[1], snn.Sigmoid(), dense[2], dtype=np.float64)
    for i, layer in dense.items():
        for key in ("W", "b"):
            assert layer.params[key].dtype == np.float64
            layer.params[key][...] = net[f"{key}{i}"]
    loss, optimizer = snn.losses.SoftmaxCrossEntropy(), snn.SGD(lr=LR)

    for step in range(BATCHES):
        batch = data[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]
        ours = math_only.train_batch(net, batch, LR)
        X = np.array([x for x, _ in batch], dtype=np.float64)
        y = np.array([label for _, label in batch])
        value, dZ = loss(model.forward(X), y)
        model.backward(dZ)
        optimizer.step(model.parameters())

        assert ours == pytest.approx(value, rel=RTOL), f"loss of batch {step}"
        for i, layer in dense.items():
            for key in ("W", "b"):
                np.testing.assert_allclose(
                    np.array(net[f"{key}{i}"]),
                    layer.params[key],
                    rtol=RTOL,
                    atol=ATOL,
                    err_msg=f"{key}{i} after SGD step {step + 1}",
                )
    moved = max(np.abs(np.array(v) - start[name]).max() for name, v in net.items())
    assert moved > 1e-2, "the weights hardly moved: the comparison would prove nothing"


def _shared_data() -> str | None:
    candidates = [os.environ.get("SCRATCHNN_DATA"), str(REPO.parent / "shared" / "data")]
    for path in filter(None, candidates):
        if os.path.exists(os.path.join(path, "seed-toy", "circle_regions.csv")):
            return path
    return None


@pytest.mark.parametrize("source", ["csv", "generated"])
def test_smoke_run_beats_chance_by_a_wide_margin(source, tmp_path):
    """40 epochs (--smoke, seed 0) gave 0.880 on the author's CSV, chance 0.510, and 0.820
    on generated points, chance 0.560; starting weights perturbed by a relative 1e-6 gave the
    same. 0.75 is 0.19 or more above chance and 0.07 (14 test points) or more below both."""
    data_dir = _shared_data() if source == "csv" else str(tmp_path)
    if data_dir is None:
        pytest.skip("seed-toy/circle_regions.csv not found: set SCRATCHNN_DATA")
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--smoke", "--data-dir", data_dir],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "SCRATCHNN_DATA"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("data: read 1000 points" if source == "csv" else "data: ")
    assert ("generated" in lines[0]) == (source == "generated"), lines[0]
    assert sum(line.startswith("epoch") for line in lines) == 40
    accuracy, chance = map(
        float,
        re.fullmatch(r"test accuracy (\S+) on 200 points \(chance (\S+),.*", lines[-1]).groups(),
    )
    assert chance < 0.6 and accuracy >= 0.75, lines[-1]
