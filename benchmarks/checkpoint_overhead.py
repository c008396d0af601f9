"""What checkpointing every epoch costs: real MNIST, the same run with and without it.

Trains ``mlp([784, 524, 124, 10])`` with Adam, alternating runs without and with
``checkpoint=`` (each checkpoint: parameters and Adam moments, 5.7 MB, written to a
temporary file, fsynced, renamed, then history.csv), and prints the median time per epoch
of each, their ratio, and the median time of one checkpoint write relative to an epoch
(the robust number: on a shared machine epoch times vary far more than a write costs).
Final losses are printed too: checkpointing must not change training.

    python benchmarks/checkpoint_overhead.py [--data-dir DIR] [--epochs 2 --repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import scratchnn as snn
from scratchnn.training.callbacks import Checkpointing
from scratchnn.training.checkpoint import data_fingerprint

WRITES: list[float] = []
_save = Checkpointing.save


def _timed_save(self, where, in_epoch=False):
    start = time.perf_counter()
    _save(self, where, in_epoch)
    WRITES.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="holds mnist/ (default $SCRATCHNN_DATA)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use only this many examples")
    args = parser.parse_args()

    (X, y), _ = snn.datasets.load_mnist(args.data_dir)
    X = (X.reshape(len(X), -1) / np.float32(255)).astype(np.float32)
    if args.limit:
        X, y = X[: args.limit], y[: args.limit]
    Checkpointing.save = _timed_save
    per_epoch: dict[str, list[float]] = {"plain": [], "checkpoint": []}
    size = 0
    for repeat in range(args.repeats):
        for kind in ("plain", "checkpoint"):
            model = snn.mlp([784, 524, 124, 10], rng=0)
            with tempfile.TemporaryDirectory(dir=".") as run:
                start = time.perf_counter()
                history = model.fit(
                    X,
                    y,
                    optimizer=snn.Adam(lr=1e-3),
                    epochs=args.epochs,
                    batch_size=64,
                    seed=0,
                    verbose=0,
                    checkpoint=run if kind == "checkpoint" else None,
                )
                seconds = (time.perf_counter() - start) / args.epochs
                if kind == "checkpoint":
                    size = (Path(run) / "checkpoint.npz").stat().st_size
            per_epoch[kind].append(seconds)
            print(
                f"repeat {repeat + 1} {kind:>10}: {seconds:.3f} s/epoch "
                f"(final loss {history['loss'][-1]:.4f})",
                flush=True,
            )
    plain = statistics.median(per_epoch["plain"])
    with_checkpoints = statistics.median(per_epoch["checkpoint"])
    print(f"{len(X)} examples, batch 64, checkpoint file {size / 1e6:.2f} MB")
    print(f"one checkpoint write (median of {len(WRITES)}): {statistics.median(WRITES):.3f} s")
    print(f"median s/epoch: plain {plain:.3f}, checkpoint every epoch {with_checkpoints:.3f}")
    print(f"ratio with/without checkpoints: {with_checkpoints / plain:.3f} (noisy when shared)")
    write = statistics.median(WRITES)
    print(f"one write / one plain epoch: {write / plain:.2%} (the robust number)")
    start = time.perf_counter()
    data_fingerprint(X, y.astype(np.intp))
    print(f"data fingerprint at the start of fit: {time.perf_counter() - start:.3f} s once")


if __name__ == "__main__":
    main()
