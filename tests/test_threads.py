"""``--threads N``: the BLAS thread limit, with threadpoolctl and without it."""

from __future__ import annotations

import builtins

import pytest

from scratchnn._threads import blas_threads, limit_blas_threads
from scratchnn.errors import InputError

threadpoolctl = pytest.importorskip("threadpoolctl", reason="pip install threadpoolctl")


def test_the_limit_reaches_numpys_blas():
    before = threadpoolctl.threadpool_info()
    try:
        assert limit_blas_threads(1) == "BLAS limited to 1 thread"
        assert blas_threads() and all(threads == 1 for _, _, threads in blas_threads())
    finally:
        for info in before:  # leave the rest of the suite as it was
            threadpoolctl.threadpool_limits(info["num_threads"], user_api=info["user_api"])


def test_without_threadpoolctl_it_says_it_did_nothing(monkeypatch):
    real_import = builtins.__import__

    def no_threadpoolctl(name, *args, **kwargs):
        if name == "threadpoolctl":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_threadpoolctl)
    message = limit_blas_threads(2)
    assert message.startswith("--threads 2 ignored: threadpoolctl is not installed")
    assert blas_threads() == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_a_bad_count_is_a_one_line_error(bad):
    with pytest.raises(InputError, match="--threads must be a positive whole number"):
        limit_blas_threads(bad)
