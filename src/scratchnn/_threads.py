"""How many threads the BLAS behind NumPy's matrix products may use (``--threads N``).

On a shared 2-core machine, two BLAS threads next to another busy process can make small
matrix products many times slower; one thread is then faster. The limit is set at run time
through threadpoolctl (``pip install threadpoolctl``, in the ``bench`` and ``dev`` extras).
Without it the limit cannot be changed once NumPy is loaded, and :func:`limit_blas_threads`
says so instead of pretending; set ``OPENBLAS_NUM_THREADS`` before starting Python then.
"""

from __future__ import annotations

from .errors import InputError

__all__ = ["blas_threads", "limit_blas_threads"]


def limit_blas_threads(n: int) -> str:
    """Let the BLAS libraries use at most ``n`` threads from now on; returns what was done."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"--threads must be a positive whole number, got {n!r}")
    try:
        # optional dependency: the only portable way to change BLAS threads at run time
        from threadpoolctl import threadpool_limits
    except ImportError:
        return (
            f"--threads {n} ignored: threadpoolctl is not installed (pip install threadpoolctl), "
            f"so the BLAS keeps its own thread count; or set OPENBLAS_NUM_THREADS={n}"
        )
    threadpool_limits(limits=n, user_api="blas")
    return f"BLAS limited to {n} thread{'s' if n > 1 else ''}"


def blas_threads() -> list[tuple[str, str, int]]:
    """``(library, kernel, threads)`` of each loaded BLAS, or ``[]`` without threadpoolctl."""
    try:
        # optional dependency, as above
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        (info.get("internal_api", "?"), str(info.get("architecture", "?")), info["num_threads"])
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
