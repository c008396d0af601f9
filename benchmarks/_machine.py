"""What a benchmark ran on, and the floor it is measured against: shared by every script here.

A speed ratio depends on the CPU (OpenBLAS picks SkylakeX kernels on AVX-512 machines,
Haswell ones on AVX2; PyTorch picks AVX512 or AVX2 code paths and MKL or oneDNN), on the
thread counts, and on how busy the shared machine was. Every benchmark prints
:func:`describe` and :func:`load_average` with its result, and says which CPU *type*
(:func:`cpu_type`) a README row belongs to.

:class:`ProductFloor` times the matrix products of one training step alone, on
preallocated arrays of the same shapes and memory layouts: no NumPy implementation of
that step can be faster, so "scratchnn's epoch / the floor" says how much time goes to
everything else (activations, the loss, the optimizer, Python).

Only the standard library is imported at module level: the scripts set their thread counts
before NumPy or PyTorch are first imported.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from typing import Any

__all__ = [
    "THREAD_VARIABLES",
    "ProductFloor",
    "blas_limiter",
    "cpu_type",
    "dense_products",
    "describe",
    "limit_threads",
    "load_average",
    "machine",
    "one_line",
    "replace_block",
]

#: The variables that fix the BLAS and OpenMP thread counts of NumPy and PyTorch.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Fix the BLAS/OpenMP thread counts; only effective before NumPy and torch are imported."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)


def blas_limiter(threads: int) -> Any:
    """threadpoolctl's limiter (kept alive by the caller), or None if it is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads)


def load_average() -> float | None:
    """The 1-minute load average: how busy the (shared) machine was."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def machine(threads: int) -> dict[str, Any]:
    """CPU (model, family, vector extensions), NumPy's BLAS, kernel and threads, PyTorch's
    CPU capability, MKL and threads. PyTorch is described only if it is already imported."""
    import sys

    import numpy as np

    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    vector = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    blas, kernel, blas_threads = "unknown BLAS (pip install threadpoolctl to see it)", None, None
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
                blas = f"{pool['internal_api']} {pool['version']}"
                kernel, blas_threads = pool.get("architecture"), pool.get("num_threads")
    except ImportError:
        pass
    result: dict[str, Any] = {
        "cpu": info.get("model name", platform.processor() or platform.machine()),
        "vendor": info.get("vendor_id"),
        "family": info.get("cpu family"),
        "model": info.get("model"),
        "vector": vector,
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "blas_kernel": kernel,
        "blas_threads": blas_threads,
        "threads": threads,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
        mkl = getattr(torch.backends, "mkl", None)
        result.update(
            torch=torch.__version__,
            torch_cpu_capability=capability() if capability else "unknown",
            torch_mkl=bool(mkl is not None and mkl.is_available()),
            torch_threads=torch.get_num_threads(),
        )
    return result


def cpu_type(m: dict[str, Any]) -> str:
    """The short CPU type a README row is filed under, e.g. ``AMD EPYC, AVX-512 (OpenBLAS
    SkylakeX, PyTorch AVX512)``: what decides the kernels, not the exact model."""
    name = str(m.get("cpu", "?"))
    for brand in ("AMD EPYC", "Intel(R) Xeon(R)", "Intel Xeon", "Apple"):
        if brand in name:
            name = brand.replace("(R)", "")
            break
    vector = m.get("vector") or []
    isa = "AVX-512" if "avx512f" in vector else "AVX2" if "avx2" in vector else "no AVX2"
    if "amx_tile" in vector:
        isa += "/AMX"
    kernels = f"OpenBLAS {m.get('blas_kernel')}" if m.get("blas_kernel") else m.get("blas", "?")
    if "torch_cpu_capability" in m:
        kernels += f", PyTorch {m['torch_cpu_capability']}"
    return f"{name}, {isa} ({kernels})"


def one_line(m: dict[str, Any]) -> str:
    """Everything :func:`machine` found, in one line for a benchmark's output."""
    cpu = f"{m['cpu']} (family {m['family']} model {m['model']}; {' '.join(m['vector']) or 'no AVX2'})"
    blas = m["blas"] + (f", {m['blas_kernel']} kernels" if m.get("blas_kernel") else "")
    blas += f", {m['blas_threads']} thread(s)" if m.get("blas_threads") is not None else ""
    line = (
        f"{cpu}, {m['cpus']} CPUs, {m['system']}; Python {m['python']}; NumPy {m['numpy']} "
        f"with {blas}"
    )
    if "torch" in m:
        line += (
            f"; PyTorch {m['torch']}, CPU capability {m['torch_cpu_capability']}"
            f"{', MKL' if m['torch_mkl'] else ''}, {m['torch_threads']} thread(s)"
        )
    return line


def describe(threads: int) -> str:
    """``"machine: ..."``, the line every benchmark prints before its results."""
    return "machine: " + one_line(machine(threads))


class ProductFloor:
    """The matrix products of one training step, timed alone.

    ``products`` lists ``(A, B, out)`` triples; :meth:`step` runs ``np.matmul(A, B,
    out=out)`` for each, in order. The arrays are made once by the caller, with the shapes
    *and memory layouts* (transposed views included) the library's step uses, so that the
    BLAS gets exactly the calls it gets in training.
    """

    def __init__(self, products: Sequence[tuple[Any, Any, Any]]) -> None:
        self.products = list(products)

    def step(self) -> None:
        import numpy as np

        for A, B, out in self.products:
            np.matmul(A, B, out=out)

    def seconds(self, steps: int) -> float:
        """Time ``steps`` steps of products (after one untimed step)."""
        self.step()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return time.perf_counter() - start


def dense_products(
    layers: Sequence[tuple[int, int, bool]], batch_size: int, dtype: Any = "float32"
) -> list[tuple[Any, Any, Any]]:
    """The products of Dense layers ``(in_features, out_features, needs_dX)`` for one step
    of ``batch_size`` rows: ``X @ W.T``, ``dZ.T @ X`` and (if ``needs_dX``: every layer but
    the first) ``dZ @ W``, on random arrays in the layouts :class:`scratchnn.Dense` uses."""
    import numpy as np

    rng = np.random.default_rng(0)
    products = []
    for fan_in, fan_out, needs_dX in layers:
        X = rng.standard_normal((batch_size, fan_in)).astype(dtype)
        W = rng.standard_normal((fan_out, fan_in)).astype(dtype)
        dZ = rng.standard_normal((batch_size, fan_out)).astype(dtype)
        products += [(X, W.T, np.empty((batch_size, fan_out), dtype))]
        products += [(dZ.T, X, np.empty((fan_out, fan_in), dtype))]
        if needs_dX:
            products += [(dZ, W, np.empty((batch_size, fan_in), dtype))]
    return products


def replace_block(path: str, section: str, start: str, end: str) -> None:
    """Replace the block of ``path`` from marker ``start`` to marker ``end`` (both kept, as
    ``section`` holds them) with ``section``, atomically: the page is whole or unchanged."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no '{start}' ... '{end}' block to replace")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(before + section + after)
    os.replace(tmp, path)
