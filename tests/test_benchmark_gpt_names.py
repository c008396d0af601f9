"""benchmarks/gpt_names.py in its smoke mode: the JSON it ends with (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.torch
def test_gpt_names_benchmark_smoke(torch, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text(
        "\n".join(f"{a}{b}{c}" for a in "aeio" for b in "lmnrst" for c in ["a", "ia", "el", "on"])
        + "\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpt_names.py"),
            "--smoke",
            "--json",
            "--models",
            "rnn,gpt",
            f"--data-dir={names}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["smoke"] is True and summary["model"] == "gpt"
    for key in ("ratio", "scratchnn_s_per_step", "torch_s_per_step"):
        assert summary[key] > 0, key
    for key in ("scratchnn_val_loss", "torch_val_loss", "scratchnn_test_loss", "torch_test_loss"):
        assert 0 < summary[key] < 4, key
    # same initial weights, same batches, same rates: the twins agree in float32
    assert abs(summary["val_loss_difference"]) < 1e-4
    assert set(summary["quality_bar"]) >= {"max_val_loss", "max_difference", "met"}
    machine = summary["machine"]
    assert {"cpu", "blas", "torch_cpu_capability", "threads", "torch_threads"} <= set(machine)
    assert [m["model"] for m in summary["models"]] == ["rnn", "gpt"]
    assert summary["command"].startswith("python benchmarks/gpt_names.py --smoke")
