"""``.ci/machine_info.py``: the machine a CI run is on, printed whatever is installed."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / ".ci" / "machine_info.py"


def run(*blocked: str) -> subprocess.CompletedProcess:
    """Run the script with ``blocked`` modules made unimportable (``sys.modules[name] = None``)."""
    code = (
        "import runpy, sys\n"
        f"for name in {list(blocked)!r}:\n"
        "    sys.modules[name] = None\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_reports_cpu_numpy_blas_and_torch():
    result = run()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("CPU: ") and "NumPy " in out and "Environment: " in out
    assert "PyTorch" in out and "Traceback" not in out + result.stderr


def test_says_what_is_missing_instead_of_crashing():
    result = run("torch", "threadpoolctl")
    assert result.returncode == 0, result.stderr
    assert "PyTorch: not installed" in result.stdout
    assert "threadpoolctl not installed" in result.stdout
    result = run("numpy", "torch")
    assert result.returncode == 0, result.stderr
    assert "NumPy: not installed" in result.stdout and result.stdout.startswith("CPU: ")
