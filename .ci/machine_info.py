"""Print what a numerical test failure depends on: CPU, NumPy's BLAS and kernel, PyTorch's.

Float rounding differs between BLAS kernels (OpenBLAS picks SkylakeX kernels on an AVX-512
CPU, Haswell ones on AVX2), thread counts and PyTorch's CPU code paths, so a tolerance that
holds on one machine can fail on another. ``.ci/run`` prints this first, so that a failing
run says which machine it ran on. Run it by hand with ``python .ci/machine_info.py``.

Only the standard library is required: a missing NumPy, threadpoolctl or PyTorch is
reported as missing, and any other error is printed in its line; the script always exits 0.
"""

from __future__ import annotations

import os
import platform
import sys

#: Environment variables that change which kernel or how many threads the libraries use.
VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "ATEN_CPU_CAPABILITY",
)


def cpu() -> str:
    """Model name, vendor/family/model numbers and vector extensions, from /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return f"{platform.processor() or platform.machine()} (no /proc/cpuinfo)"
    flags = set(fields.get("flags", "").split())
    extensions = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
    vector = [name for name in extensions if name in flags]
    return (
        f"{fields.get('model name', platform.machine())} ({fields.get('vendor_id', '?')}, "
        f"family {fields.get('cpu family', '?')} model {fields.get('model', '?')}), "
        f"{os.cpu_count()} CPUs, {' '.join(vector) or 'no AVX2'}"
    )


def numpy_blas() -> list[str]:
    try:
        import numpy as np
    except ImportError:
        return ["NumPy: not installed"]
    lines = [f"NumPy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        dependency = getattr(np, "__config__", None)
        blas = getattr(dependency, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
        name = f"{blas.get('name')} {blas.get('version')}" if blas else "unknown"
        return [*lines, f"  BLAS: {name}; kernel unknown (threadpoolctl not installed)"]
    for pool in threadpool_info():
        lines.append(
            f"  {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')}, "
            f"kernel {pool.get('architecture', 'n/a')}, {pool.get('num_threads')} threads, "
            f"{os.path.basename(pool.get('filepath', '?'))}"
        )
    return lines


def pytorch() -> list[str]:
    try:
        import torch
    except ImportError:
        return ["PyTorch: not installed"]
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    mkl = getattr(torch.backends, "mkl", None)
    blas = "MKL" if mkl is not None and mkl.is_available() else "no MKL"
    # torch.__config__.show() has a line "... Math Kernel Library Version 2024.2-Product ..."
    for line in torch.__config__.show().splitlines():
        if "Math Kernel Library Version" in line:
            blas += " " + line.split("Version", 1)[1].split("-", 1)[0].strip()
            break
    return [
        f"PyTorch {torch.__version__}: CPU capability "
        f"{capability() if capability else 'unknown'}, {blas}, {torch.get_num_threads()} threads"
    ]


def main() -> int:
    sections = (
        lambda: [f"CPU: {cpu()}"],
        lambda: [f"Python {platform.python_version()} on {platform.system()} {platform.release()}"],
        numpy_blas,
        pytorch,
    )
    for section in sections:
        try:
            lines = section()
        except Exception as error:  # a probe must never fail the run it describes
            lines = [f"(probe failed: {type(error).__name__}: {error})"]
        for line in lines:
            print(line)
    settings = [f"{name}={os.environ[name]}" for name in VARIABLES if name in os.environ]
    print(f"Environment: {' '.join(settings) or 'no kernel or thread variables set'}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
