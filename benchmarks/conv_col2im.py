"""How to send a convolution's gradient back to its input: three col2im variants, timed.

``dX`` of a convolution adds each window's gradient back onto the pixels it read. With
``dZ`` the ``(N·OH·OW, F)`` output gradient and ``W`` the ``(F, C, KH, KW)`` filters:

- ``batched+loop`` (what :class:`scratchnn.layers.Conv2D` does): one batched product
  ``dcols[p, q] = dZ @ W[:, :, p, q]``, then ``KH·KW`` slice additions of contiguous blocks;
- ``gemm+loop``: one product ``dZ @ Wm`` giving ``(N·OH·OW, KH·KW·C)`` rows, then the same
  ``KH·KW`` additions reading strided columns;
- ``gemm+add.at``: the same product, then a single ``np.add.at`` scatter.

All three give the same ``dX`` (checked). Times are medians of CPU time per call
(``time.process_time``: less sensitive than wall time to other jobs on a shared machine).

    python benchmarks/conv_col2im.py [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def batched_loop(dZ, W, geometry):
    """One batched product ``dcols[p, q] = dZ @ W[:, :, p, q]``, then contiguous additions."""
    import numpy as np

    N, H, OH, OW, s = geometry
    F, C, K, _ = W.shape
    Wk = W.transpose(2, 3, 0, 1).reshape(K * K, F, C)
    dcols = np.matmul(dZ, Wk).reshape(K, K, N, OH, OW, C)
    dX = np.zeros((N, H, H, C), dZ.dtype)
    for p in range(K):
        for q in range(K):
            dX[:, p : p + s * OH : s, q : q + s * OW : s, :] += dcols[p, q]
    return dX


def gemm_loop(dZ, W, geometry):
    """One product ``dZ @ Wm`` (rows = windows), then additions of strided columns."""
    import numpy as np

    N, H, OH, OW, s = geometry
    F, C, K, _ = W.shape
    Wm = W.transpose(0, 2, 3, 1).reshape(F, -1)
    dcols = (dZ @ Wm).reshape(N, OH, OW, K, K, C)
    dX = np.zeros((N, H, H, C), dZ.dtype)
    for p in range(K):
        for q in range(K):
            dX[:, p : p + s * OH : s, q : q + s * OW : s, :] += dcols[:, :, :, p, q, :]
    return dX


def gemm_add_at(dZ, W, geometry):
    """One product ``dZ @ Wm``, then one ``np.add.at`` scatter of every entry."""
    import numpy as np

    N, H, OH, OW, s = geometry
    F, C, K, _ = W.shape
    Wm = W.transpose(0, 2, 3, 1).reshape(F, -1)
    dcols = (dZ @ Wm).reshape(N, OH, OW, K, K, C)
    rows = (np.arange(OH) * s)[:, None] + np.arange(K)  # input row of window row i, offset p
    cols = (np.arange(OW) * s)[:, None] + np.arange(K)
    dX = np.zeros((N, H, H, C), dZ.dtype)
    np.add.at(dX, (slice(None), rows[:, None, :, None], cols[None, :, None, :]), dcols)
    return dX


VARIANTS = {"batched+loop": batched_loop, "gemm+loop": gemm_loop, "gemm+add.at": gemm_add_at}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    parser.add_argument("--smoke", action="store_true", help="one small case, 2 repeats")
    args = parser.parse_args(argv)
    if "numpy" in sys.modules:
        raise RuntimeError("set the thread variables before importing NumPy")
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    import numpy as np

    from scratchnn.layers import Conv2D

    cases = [  # (N, C, H, F, K, stride): the second layer of models.cnn, then a strided one
        (64, 16, 12, 32, 5, 1),
        (64, 32, 14, 64, 3, 2),
    ]
    if args.smoke:
        cases, args.repeat = [(4, 3, 8, 5, 3, 1)], 2
    rng = np.random.default_rng(0)
    results = []
    for N, C, H, F, K, s in cases:
        conv = Conv2D(C, F, K, stride=s, rng=0)
        X = rng.standard_normal((N, C, H, H)).astype(np.float32)
        Y = conv.forward(X)
        dY = rng.standard_normal(Y.shape).astype(np.float32)
        _, _, OH, OW = Y.shape
        dZ = np.ascontiguousarray(dY.transpose(0, 2, 3, 1)).reshape(-1, F)
        geometry = (N, H, OH, OW, s)
        reference = conv.backward(dY).transpose(0, 2, 3, 1)
        row = {"case": f"N={N} C={C} {H}x{H} F={F} k={K} s={s}"}
        for name, variant in VARIANTS.items():
            out = variant(dZ, conv.params["W"], geometry)
            np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-4, err_msg=name)
            times = []
            for _ in range(args.repeat):
                start = time.process_time()
                variant(dZ, conv.params["W"], geometry)
                times.append(time.process_time() - start)
            row[name] = float(np.median(times) * 1e3)
        results.append(row)

    names = tuple(VARIANTS)
    print(f"dX of a convolution, ms of CPU per call ({args.threads} BLAS thread(s))")
    print(f"{'case':34s}" + "".join(f"{n:>14s}" for n in names))
    for row in results:
        print(f"{row['case']:34s}" + "".join(f"{row[n]:14.2f}" for n in names))
    summary = {"benchmark": "conv_col2im", "threads": args.threads, "results": results}
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
