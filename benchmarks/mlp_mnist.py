"""Race scratchnn against PyTorch on the seed MLP, in one process, epoch by epoch.

The reference work (issue 4): a 784-524-124-10 ReLU network, softmax cross-entropy from
logits, Adam (lr 1e-3, betas 0.9/0.999), batch 250, the first 48,000 MNIST training images
every epoch, float32, 2 threads. Both libraries start from the same initial weights and see
the same batches in the same order; their epochs alternate (ABBA: scratchnn first on odd
epochs, PyTorch first on even ones) so that a busy machine slows both alike, and a few
warm-up steps on throw-away models come first and are not timed.

What is timed is one epoch of training steps: for scratchnn the ``seconds`` that
``model.fit`` records (its whole loop: batch gathering, forward, loss, backward, the
divergence check, the Adam step and the running loss and accuracy), for PyTorch the usual
loop doing the same (index_select, forward, ``F.cross_entropy``, ``zero_grad``, backward,
``step``, ``loss.item()`` and the running accuracy). Test accuracy is measured after every
epoch, outside the timing. The matrix-product floor times only the 8 products of one step
(3 forward; ``dW`` and ``dX`` of the two upper layers and ``dW`` of the first) with NumPy,
interleaved with the races, on preallocated arrays of the same shapes.

Peak memory (``ru_maxrss``) is measured in two fresh child processes that each train one
epoch of the same work, one that never imports torch and one that uses only torch, because
in the racing process PyTorch's ~300 MiB of libraries would be counted against scratchnn.

    python benchmarks/mlp_mnist.py                          # reference work, 3 epochs
    python benchmarks/mlp_mnist.py --epochs 10 --repeats 3  # per-epoch medians of 3 runs
    python benchmarks/mlp_mnist.py --dtype float64 --batch-size 1024 --json
    python benchmarks/mlp_mnist.py --suite --epochs 10 --repeats 3 --markdown  # the docs/benchmarks.md table
    python benchmarks/mlp_mnist.py --smoke --json           # tiny, for the tests

Thread counts are fixed before NumPy or PyTorch is imported (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``), then enforced with threadpoolctl if it is
installed (``pip install -e ".[bench]"``) and ``torch.set_num_threads``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from _machine import blas_limiter, cpu_type, limit_threads, machine, one_line, replace_block

SIZES = (784, 524, 124, 10)
LR = 1e-3
#: The configurations of ``--suite``: the reference work first, then the variants.
SUITE = (("float32", 250), ("float64", 250), ("float32", 32), ("float32", 1024))


@dataclass
class Config:
    dtype: str = "float32"
    batch_size: int = 250
    epochs: int = 3
    repeats: int = 1
    train_size: int = 48_000
    test_size: int = 10_000
    warmup_steps: int = 20
    threads: int = 2
    seed: int = 0
    data_dir: str | None = None

    def label(self) -> str:
        return f"{self.dtype}, batch {self.batch_size}"


# -- set-up -------------------------------------------------------------------------------


def load_data(cfg: Config, without_scratchnn: bool = False):
    """The first ``train_size`` training and ``test_size`` test images, scaled to [0, 1].

    Each uint8 array is dropped as soon as its scaled copy exists, so that the peak memory
    is the data a user trains on, not two copies of it. ``without_scratchnn`` reads the
    files with a few lines of NumPy instead of importing scratchnn (and with it pandas),
    so that PyTorch's memory probe is not charged for scratchnn's imports.
    """
    import numpy as np

    if without_scratchnn:
        train, test = read_mnist_plain(cfg.data_dir)
    else:
        from scratchnn.datasets import load_mnist

        train, test = load_mnist(cfg.data_dir)
    dtype = np.dtype(cfg.dtype)

    def scaled(images: np.ndarray, n: int) -> np.ndarray:
        if n > images.shape[0]:
            raise SystemExit(f"asked for {n} images but the set has {images.shape[0]}")
        X = images[:n].reshape(n, -1).astype(dtype)  # one copy, already in the target dtype
        X /= 255
        return X

    X, y = scaled(train[0], cfg.train_size), train[1][: cfg.train_size].astype(np.intp)
    del train
    X_test, y_test = scaled(test[0], cfg.test_size), test[1][: cfg.test_size].astype(np.intp)
    return X, y, X_test, y_test


def read_mnist_plain(directory: str | None):
    """The four MNIST arrays from ``directory`` (resolved by the parent with scratchnn)."""
    import gzip

    import numpy as np

    def read(stem: str, header: int) -> np.ndarray:
        path = os.path.join(str(directory), stem)
        with open(path, "rb") if os.path.exists(path) else gzip.open(path + ".gz") as f:
            raw = f.read()
        dims = np.frombuffer(raw, ">u4", count=(header - 4) // 4, offset=4)
        return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()

    return (
        (read("train-images-idx3-ubyte", 16), read("train-labels-idx1-ubyte", 8)),
        (read("t10k-images-idx3-ubyte", 16), read("t10k-labels-idx1-ubyte", 8)),
    )


def peak_rss_mib() -> float | None:
    """This process's peak resident set size so far, in MiB (None where unsupported).

    On Linux this is ``VmHWM`` from ``/proc/self/status``: ``getrusage``'s ``ru_maxrss``
    survives ``exec``, so a child started from the racing process would report the
    parent's peak (PyTorch's included) instead of its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB


def machine_description(threads: int) -> dict[str, Any]:
    """The machine (benchmarks/_machine.py), with PyTorch's side if it is installed."""
    try:
        import torch  # noqa: F401  (so that machine() describes it)
    except ImportError:
        pass
    return machine(threads)


# -- the two training loops -----------------------------------------------------------------
def scratchnn_model(cfg: Config, seed: int):
    import scratchnn as snn

    return snn.mlp(SIZES, rng=seed, dtype=cfg.dtype), snn.Adam(lr=LR)


def torch_twin(model, dtype: str):
    """A ``torch.nn.Sequential`` with the same layers and the same initial weights."""
    import torch

    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    modules: list[torch.nn.Module] = []
    for i, layer in enumerate(dense):
        linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.params["W"]))
            linear.bias.copy_(torch.from_numpy(layer.params["b"]))
        modules.append(linear)
        if i < len(dense) - 1:
            modules.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*modules)
    return net, torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)


def scratchnn_epoch(model, optimizer, X, y, batch_size: int, order_rng) -> float:
    """One epoch through ``fit``; returns the seconds ``fit`` measured for its training steps."""
    history = model.fit(
        X, y, optimizer=optimizer, epochs=1, batch_size=batch_size, rng=order_rng, verbose=0
    )
    return history["seconds"][0]


def torch_epoch(net, optimizer, X_t, y_t, batch_size: int, order_rng) -> float:
    """The same epoch in PyTorch: same permutation (one draw from ``order_rng``), same bookkeeping."""
    import torch
    import torch.nn.functional as F

    n = X_t.shape[0]
    total_loss = 0.0
    correct = 0
    start = time.perf_counter()
    order = torch.from_numpy(order_rng.permutation(n))
    for first in range(0, n, batch_size):
        idx = order[first : first + batch_size]
        xb, yb = X_t.index_select(0, idx), y_t.index_select(0, idx)
        logits = net(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * idx.shape[0]
        correct += int((logits.argmax(1) == yb).sum())
    seconds = time.perf_counter() - start
    if not math.isfinite(total_loss):
        raise SystemExit(f"PyTorch diverged (loss {total_loss}, {correct} correct)")
    return seconds


def torch_accuracy(net, X_t, y_t) -> float:
    import torch

    with torch.no_grad():
        return float((net(X_t).argmax(1) == y_t).double().mean())


class MatmulFloor:
    """The 8 matrix products of one training step of the MLP, alone, for one epoch's batches."""

    def __init__(self, X, batch_size: int) -> None:
        import numpy as np

        rng = np.random.default_rng(0)
        n, dtype = X.shape[0], X.dtype
        self.sizes = [min(batch_size, n - first) for first in range(0, n, batch_size)]
        self.X = X
        self.W = [rng.standard_normal((o, i)).astype(dtype) for i, o in zip(SIZES[:-1], SIZES[1:])]
        self.dW = [np.empty_like(W) for W in self.W]
        self.buffers = {}
        for size in set(self.sizes):
            Z = [np.empty((size, o), dtype) for o in SIZES[1:]]
            dX = [np.empty((size, i), dtype) for i in SIZES[1:-1]]
            self.buffers[size] = (Z, dX)

    def epoch(self) -> float:
        import numpy as np

        W, dW = self.W, self.dW
        start = time.perf_counter()
        first = 0
        for size in self.sizes:
            Z, dX = self.buffers[size]
            X = self.X[first : first + size]
            first += size
            np.matmul(X, W[0].T, out=Z[0])  # forward: Z = X @ W.T, three layers
            np.matmul(Z[0], W[1].T, out=Z[1])
            np.matmul(Z[1], W[2].T, out=Z[2])
            np.matmul(Z[2].T, Z[1], out=dW[2])  # backward: dW = dZ.T @ X, dX = dZ @ W
            np.matmul(Z[2], W[2], out=dX[1])
            np.matmul(dX[1].T, Z[0], out=dW[1])
            np.matmul(dX[1], W[1], out=dX[0])
            np.matmul(dX[0].T, X, out=dW[0])  # no dX for the data
        return time.perf_counter() - start


# -- racing ---------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def race(cfg: Config, data, repeat: int) -> dict[str, list[float]]:
    """One run: fresh models from seed ``cfg.seed + repeat``, epochs alternating between them."""
    import numpy as np
    import torch

    X, y, X_test, y_test = data
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    X_test_t, y_test_t = torch.from_numpy(X_test), torch.from_numpy(y_test.astype(np.int64))
    seed = cfg.seed + repeat

    # Warm-up on throw-away twins: allocator, BLAS/OpenMP thread pools, first-call costs.
    n_warm = min(X.shape[0], cfg.warmup_steps * cfg.batch_size)
    warm_model, warm_opt = scratchnn_model(cfg, seed)
    warm_net, warm_topt = torch_twin(warm_model, cfg.dtype)
    scratchnn_epoch(
        warm_model, warm_opt, X[:n_warm], y[:n_warm], cfg.batch_size, np.random.default_rng(seed)
    )
    torch_epoch(
        warm_net, warm_topt, X_t[:n_warm], y_t[:n_warm], cfg.batch_size, np.random.default_rng(seed)
    )
    floor = MatmulFloor(X, cfg.batch_size)

    model, optimizer = scratchnn_model(cfg, seed)
    net, torch_optimizer = torch_twin(model, cfg.dtype)
    # Two generators from one seed: both libraries draw the same permutation every epoch.
    order_s, order_t = np.random.default_rng(seed), np.random.default_rng(seed)
    out: dict[str, list[float]] = {k: [] for k in ("scratchnn", "torch", "floor", "acc_s", "acc_t")}
    for epoch in range(cfg.epochs):
        runs = [
            (
                "scratchnn",
                partial(scratchnn_epoch, model, optimizer, X, y, cfg.batch_size, order_s),
            ),
            (
                "torch",
                partial(torch_epoch, net, torch_optimizer, X_t, y_t, cfg.batch_size, order_t),
            ),
        ]
        if epoch % 2 == 1:
            runs.reverse()  # ABBA: neither library always runs right after the other
        seconds = {name: run() for name, run in runs}
        s, t = seconds["scratchnn"], seconds["torch"]
        out["scratchnn"].append(s)
        out["torch"].append(t)
        out["floor"].append(floor.epoch())
        out["acc_s"].append(model.evaluate(X_test, y_test).accuracy)
        out["acc_t"].append(torch_accuracy(net, X_test_t, y_test_t))
        log(
            f"  run {repeat + 1}/{cfg.repeats} epoch {epoch + 1}/{cfg.epochs}: scratchnn {s:.3f} s, "
            f"torch {t:.3f} s, floor {out['floor'][-1]:.3f} s; test accuracy "
            f"{out['acc_s'][-1]:.2%} / {out['acc_t'][-1]:.2%}"
        )
    return out


def memory_probe(cfg: Config, framework: str) -> dict[str, Any]:
    """Run in a child process: one epoch of the work with one library only; report peak RSS."""
    import numpy as np

    X, y, X_test, y_test = load_data(cfg, without_scratchnn=framework == "torch")
    data_mib = (X.nbytes + X_test.nbytes) / 2**20
    order = np.random.default_rng(cfg.seed)
    if framework == "scratchnn":
        model, optimizer = scratchnn_model(cfg, cfg.seed)
        scratchnn_epoch(model, optimizer, X, y, cfg.batch_size, order)
        accuracy = model.evaluate(X_test, y_test).accuracy
    else:
        import torch

        torch.manual_seed(cfg.seed)  # PyTorch's own initialisation: memory does not care
        layers: list[torch.nn.Module] = []
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
            layers += [
                torch.nn.Linear(n_in, n_out, dtype=getattr(torch, cfg.dtype)),
                torch.nn.ReLU(),
            ]
        net = torch.nn.Sequential(*layers[:-1])
        torch_optimizer = torch.optim.Adam(net.parameters(), lr=LR)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        torch_epoch(net, torch_optimizer, X_t, y_t, cfg.batch_size, order)
        accuracy = torch_accuracy(net, torch.from_numpy(X_test), torch.from_numpy(y_test))
    return {
        "framework": framework,
        "peak_rss_mib": peak_rss_mib(),
        "data_mib": data_mib,
        "accuracy": accuracy,
        "torch_imported": "torch" in sys.modules,
        "scratchnn_imported": "scratchnn" in sys.modules,
    }


def measure_memory(cfg: Config, framework: str) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--memory-probe", framework]
    command += config_arguments(cfg)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"memory probe for {framework} failed:\n{result.stderr[-2000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    other = "torch" if framework == "scratchnn" else "scratchnn"
    if report[f"{other}_imported"]:
        raise SystemExit(f"the {framework} memory probe imported {other}; its RSS would be wrong")
    return report


def config_arguments(cfg: Config) -> list[str]:
    args = [
        f"--dtype={cfg.dtype}",
        f"--batch-size={cfg.batch_size}",
        f"--train-size={cfg.train_size}",
        f"--test-size={cfg.test_size}",
        f"--threads={cfg.threads}",
        f"--seed={cfg.seed}",
    ]
    if cfg.data_dir is not None:
        args.append(f"--data-dir={cfg.data_dir}")
    return args


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def benchmark(cfg: Config, measure_rss: bool = True) -> dict[str, Any]:
    """Race ``cfg.repeats`` times and summarise (medians over runs, per epoch and overall)."""
    log(f"{cfg.label()}: {cfg.epochs} epochs x {cfg.repeats} run(s) on {cfg.train_size} images")
    data = load_data(cfg)
    runs = [race(cfg, data, r) for r in range(cfg.repeats)]

    def per_epoch(key: str) -> list[float]:
        return [median([run[key][e] for run in runs]) for e in range(cfg.epochs)]

    def overall(key: str) -> float:
        return median([value for run in runs for value in run[key]])

    s_epochs, t_epochs = per_epoch("scratchnn"), per_epoch("torch")
    acc_s, acc_t = per_epoch("acc_s"), per_epoch("acc_t")
    s, t = overall("scratchnn"), overall("torch")
    result: dict[str, Any] = {
        "scratchnn_s_per_epoch": s,
        "torch_s_per_epoch": t,
        "ratio": s / t,
        "matmul_floor_s_per_epoch": overall("floor"),
        "scratchnn_peak_rss_mib": None,
        "torch_peak_rss_mib": None,
        "scratchnn_test_accuracy": acc_s[-1],
        "torch_test_accuracy": acc_t[-1],
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "dtype": cfg.dtype,
        "train_size": cfg.train_size,
        "repeats": cfg.repeats,
        "scratchnn_epoch_seconds": s_epochs,
        "torch_epoch_seconds": t_epochs,
        # Epoch-time drift: the last epoch over the second (the first pays for page faults).
        "scratchnn_drift": s_epochs[-1] / s_epochs[1] if cfg.epochs >= 2 else None,
        "torch_drift": t_epochs[-1] / t_epochs[1] if cfg.epochs >= 2 else None,
        "scratchnn_epoch_test_accuracy": acc_s,
        "torch_epoch_test_accuracy": acc_t,
    }
    if measure_rss:
        log("  peak RSS: one epoch in a child process per library")
        from scratchnn.datasets import find_mnist

        cfg = Config(**{**asdict(cfg), "data_dir": str(find_mnist(cfg.data_dir))})
        mem_s, mem_t = measure_memory(cfg, "scratchnn"), measure_memory(cfg, "torch")
        result["scratchnn_peak_rss_mib"] = mem_s["peak_rss_mib"]
        result["torch_peak_rss_mib"] = mem_t["peak_rss_mib"]
        result["data_mib"] = mem_s["data_mib"]
    return result


# -- reporting ------------------------------------------------------------------------------
def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'epoch':>5}  {'scratchnn s':>11}  {'torch s':>8}  {'ratio':>5}  "
        f"{'acc scratchnn':>13}  {'acc torch':>9}"
    ]
    for e, (s, t) in enumerate(
        zip(result["scratchnn_epoch_seconds"], result["torch_epoch_seconds"])
    ):
        lines.append(
            f"{e + 1:>5}  {s:>11.3f}  {t:>8.3f}  {s / t:>5.2f}  "
            f"{result['scratchnn_epoch_test_accuracy'][e]:>13.2%}  "
            f"{result['torch_epoch_test_accuracy'][e]:>9.2%}"
        )
    lines += [
        f"median s/epoch: scratchnn {result['scratchnn_s_per_epoch']:.3f}, torch "
        f"{result['torch_s_per_epoch']:.3f}, ratio {result['ratio']:.2f}; matrix products alone "
        f"{result['matmul_floor_s_per_epoch']:.3f}",
        f"last epoch / epoch 2: scratchnn {fmt(result['scratchnn_drift'], '.2f')}, torch "
        f"{fmt(result['torch_drift'], '.2f')}",
        f"peak RSS, one epoch in its own process: scratchnn "
        f"{fmt(result['scratchnn_peak_rss_mib'], '.0f')} MiB, torch "
        f"{fmt(result['torch_peak_rss_mib'], '.0f')} MiB (data {fmt(result.get('data_mib'), '.0f')} MiB)",
    ]
    return "\n".join(lines)


README_START = "<!-- benchmarks/mlp_mnist.py: start -->"
README_END = "<!-- benchmarks/mlp_mnist.py: end -->"


def goals(ref: dict[str, Any]) -> list[str]:
    """The issue's three goals for the reference work, each with its measured value."""
    out = [
        f"ratio {ref['ratio']:.2f} (goal at most 0.9: {'met' if ref['ratio'] <= 0.9 else 'NOT met'})"
    ]
    if ref["epochs"] >= 10:
        drift = ref["scratchnn_epoch_seconds"][9] / ref["scratchnn_epoch_seconds"][1]
        verdict = "met" if abs(drift - 1) <= 0.1 else "NOT met"
        out.append(f"epoch 10 / epoch 2 = {drift:.2f} (goal within 10 %: {verdict})")
    if ref["epochs"] >= 5:
        s, t = ref["scratchnn_epoch_test_accuracy"][4], ref["torch_epoch_test_accuracy"][4]
        verdict = "met" if abs(s - t) <= 0.003 else "NOT met"
        out.append(
            f"test accuracy after 5 epochs {s:.2%} vs PyTorch {t:.2%} "
            f"(goal within 0.3 points: {verdict})"
        )
    return out


def markdown(results: list[dict[str, Any]], machine: dict[str, Any], command: str) -> str:
    """The README section: command, machine, one row per configuration, per-epoch detail."""
    ref = results[0]
    epochs = ref["epochs"]
    mid = min(5, epochs)  # the issue compares accuracies after 5 epochs
    lines = [
        README_START,
        "<!-- generated by the command below; regenerate it (--markdown-file docs/benchmarks.md), do not edit -->",
        f"Command: `{command}`",
        "",
        f"Machine: {one_line(machine)}; {machine['threads']} threads each. "
        f"CPU type: {cpu_type(machine)}.",
        "",
        f"Seed MLP 784-524-124-10, Adam lr 1e-3, the first {ref['train_size']:,} MNIST images "
        f"per epoch; medians of {ref['repeats']} run(s) of {epochs} epochs, the two libraries "
        "alternating epoch by epoch in one process from the same initial weights and batch "
        "order. Ratio = scratchnn / PyTorch (below 1: scratchnn is faster). Peak RSS: one "
        "epoch in a fresh process per library, data included.",
        "",
        f"| work | scratchnn s/epoch | PyTorch s/epoch | ratio | matrix products alone | "
        f"last / 2nd epoch (scratchnn, PyTorch) | test accuracy after {mid} epochs "
        f"(scratchnn, PyTorch) | after {epochs} | peak RSS MiB (scratchnn, PyTorch) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(results):
        name = f"{r['dtype']}, batch {r['batch_size']}" + (" (reference)" if i == 0 else "")
        lines.append(
            f"| {name} | {r['scratchnn_s_per_epoch']:.3f} | {r['torch_s_per_epoch']:.3f} | "
            f"**{r['ratio']:.2f}** | {r['matmul_floor_s_per_epoch']:.3f} | "
            f"{fmt(r['scratchnn_drift'], '.2f')}, {fmt(r['torch_drift'], '.2f')} | "
            f"{r['scratchnn_epoch_test_accuracy'][mid - 1]:.2%}, "
            f"{r['torch_epoch_test_accuracy'][mid - 1]:.2%} | "
            f"{r['scratchnn_test_accuracy']:.2%}, {r['torch_test_accuracy']:.2%} | "
            f"{fmt(r['scratchnn_peak_rss_mib'], '.0f')}, {fmt(r['torch_peak_rss_mib'], '.0f')} |"
        )
    lines += [
        "",
        f"Reference work ({ref['dtype']}, batch {ref['batch_size']}): "
        + "; ".join(goals(ref))
        + ".",
        "Per epoch (median over runs):",
        "",
        "| epoch | " + " | ".join(str(e + 1) for e in range(epochs)) + " |",
        "|---|" + "---:|" * epochs,
        "| scratchnn s | " + " | ".join(f"{s:.3f}" for s in ref["scratchnn_epoch_seconds"]) + " |",
        "| PyTorch s | " + " | ".join(f"{t:.3f}" for t in ref["torch_epoch_seconds"]) + " |",
        "| scratchnn test accuracy | "
        + " | ".join(f"{a:.2%}" for a in ref["scratchnn_epoch_test_accuracy"])
        + " |",
        "| PyTorch test accuracy | "
        + " | ".join(f"{a:.2%}" for a in ref["torch_epoch_test_accuracy"])
        + " |",
        README_END,
    ]
    return "\n".join(lines)


def update_readme(path: str, section: str) -> None:
    """Replace the generated section of ``path`` (between the two markers), atomically."""
    replace_block(path, section, README_START, README_END)


# -- command line ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Race scratchnn against PyTorch on the seed MLP (MNIST), in one process."
    )
    parser.add_argument(
        "--data-dir",
        help="directory with the MNIST IDX files "
        "(default: $SCRATCHNN_DATA/mnist or the user cache)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run (default 3)")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="independent runs (seeds seed..seed+repeats-1); medians are reported",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads for each library (2)")
    parser.add_argument("--train-size", type=int, default=48_000)
    parser.add_argument("--test-size", type=int, default=10_000)
    parser.add_argument("--warmup-steps", type=int, default=20, help="untimed steps first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--suite",
        action="store_true",
        help="all four configurations of the docs/benchmarks.md table: float32 and float64 "
        "at batch 250, float32 at batch 32 and 1024 (ignores --dtype/--batch-size)",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-RSS child processes"
    )
    parser.add_argument("--json", action="store_true", help="end with a one-line JSON summary")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table section (markdown)"
    )
    parser.add_argument(
        "--markdown-file",
        "--readme",  # the old name, from when the tables lived in README.md
        dest="readme",
        metavar="PATH",
        help="also write the table section into the markdown file PATH, in place, between "
        "its marker comments (the tables live in docs/benchmarks.md)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run that exercises everything (no meaningful timings)",
    )
    parser.add_argument("--memory-probe", choices=("scratchnn", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "repeats", "threads", "train_size", "test_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.smoke:
        args.train_size, args.test_size = min(args.train_size, 1000), min(args.test_size, 500)
        args.epochs, args.repeats, args.warmup_steps = 2, 1, 2
        args.batch_size = min(args.batch_size, 250)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit_threads(args.threads)  # before NumPy and torch load their thread pools
    if args.memory_probe == "torch":
        return run(args, argv)  # without importing scratchnn, even for its errors
    from scratchnn.errors import ScratchnnError

    try:
        return run(args, argv)
    except ScratchnnError as exc:  # e.g. no MNIST at --data-dir: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    import numpy  # noqa: F401

    if not args.memory_probe or args.memory_probe == "torch":
        try:
            import torch
        except ImportError:
            raise SystemExit(
                "this benchmark races PyTorch: pip install torch==2.13.0 "
                "(or pip install -e '.[bench]')"
            ) from None
        torch.set_num_threads(args.threads)
    _limiter = blas_limiter(args.threads)  # after the imports: it limits the loaded libraries
    base = Config(
        epochs=args.epochs,
        repeats=args.repeats,
        train_size=args.train_size,
        test_size=args.test_size,
        warmup_steps=args.warmup_steps,
        threads=args.threads,
        seed=args.seed,
        data_dir=args.data_dir,
        dtype=args.dtype,
        batch_size=args.batch_size,
    )
    if args.memory_probe:
        print(json.dumps(memory_probe(base, args.memory_probe)))
        return 0
    configs = [base]
    if args.suite:
        configs = [Config(**{**asdict(base), "dtype": d, "batch_size": b}) for d, b in SUITE]
    machine = machine_description(args.threads)
    command = "python benchmarks/mlp_mnist.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    results = [benchmark(cfg, measure_rss=not args.no_memory) for cfg in configs]

    print(
        f"scratchnn vs PyTorch, seed MLP on MNIST ({'smoke run, timings meaningless' if args.smoke else command})"
    )
    print(
        f"machine: {one_line(machine)}; {args.threads} threads each\nCPU type: {cpu_type(machine)}"
    )
    for cfg, result in zip(configs, results):
        print(f"\n{cfg.label()}, {cfg.train_size} images, median of {cfg.repeats} run(s)")
        print(table(result))
    section = markdown(results, machine, command.strip())
    if args.markdown:
        print()
        print(section)
    if args.readme:
        update_readme(args.readme, section)
        log(f"wrote the benchmark section of {args.readme}")
    if args.json:
        summary = {
            **results[0],
            "smoke": args.smoke,
            "machine": machine,
            "command": command.strip(),
        }
        if len(results) > 1:
            summary["runs"] = results
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
