"""Race scratchnn's LeNet-like CNN against the same network in PyTorch on real MNIST.

One run trains both networks from the same initial weights on the same mini-batches in
the same order (the explicit loop: forward, loss, backward, Adam step, with the learning
rate annealed per epoch by half a cosine, as ``scratchnn.models.cnn.fit_settings``
does), taking turns every 50 batches (``--chunk``) so that a busy shared machine slows
both alike. NumPy's BLAS and PyTorch get the
same number of threads (2 by default); warm-up steps run on throwaway copies and are not
timed. Test accuracy is measured after training, in evaluation mode.

Peak memory: each framework also trains alone for a few batches (and evaluates the test
set) in a child process that imports only it; the child reports its peak resident set
size while training (Linux ``VmHWM``, reset once the data is loaded: libraries, data and
training together) and the part above its size before training (the training working
set).

    python benchmarks/cnn_mnist.py                     # 3 epochs, a table
    python benchmarks/cnn_mnist.py --epochs 1 --json   # last line: JSON
    python benchmarks/cnn_mnist.py --smoke --json      # a few batches, as the tests run it

Data: ``--data-dir``, else ``$SCRATCHNN_DATA/mnist``. Requires ``torch==2.13.0``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

from _machine import ProductFloor, cpu_type, dense_products, load_average, machine, one_line

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=None, help="MNIST directory (default $SCRATCHNN_DATA)"
    )
    # the defaults are scratchnn.models.cnn.TRAINING_DEFAULTS (3 epochs, 64, Adam 2e-3, cosine)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per framework")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3, help="initial Adam learning rate")
    parser.add_argument("--threads", type=int, default=2, help="BLAS / torch threads each")
    parser.add_argument("--warmup", type=int, default=20, help="untimed warm-up batches")
    parser.add_argument(
        "--chunk", type=int, default=50, help="batches per turn before the other framework runs"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    parser.add_argument("--smoke", action="store_true", help="a few batches on a data subset")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    parser.add_argument("--probe", choices=("scratchnn", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--probe-steps", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.warmup, args.probe_steps = 1, 2, 3
    return args


def set_threads(threads: int) -> None:
    """Limit BLAS/OpenMP pools; must run before NumPy or torch is imported."""
    if "numpy" in sys.modules:
        raise RuntimeError("set the thread variables before importing NumPy")
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)


# -- data and models -----------------------------------------------------------------------
def load_data(args: argparse.Namespace):
    import numpy as np

    from scratchnn.datasets import load_mnist
    from scratchnn.models.cnn import as_images

    (X, y), (Xt, yt) = load_mnist(args.data_dir)
    if args.smoke:
        X, y, Xt, yt = X[:1024], y[:1024], Xt[:512], yt[:512]
    return as_images(X), y.astype(np.int64), as_images(Xt), yt.astype(np.int64)


def torch_twin(model: Any):
    """The same network in PyTorch with a copy of ``model``'s parameters (float32)."""
    from scratchnn.compare import to_torch

    return to_torch(model)


# -- one epoch of the explicit loop in each framework --------------------------------------
def scratchnn_steps(model, optimizer, X, y, batches) -> None:
    from scratchnn.losses import SoftmaxCrossEntropy

    loss = SoftmaxCrossEntropy()
    for idx in batches:
        Xb, yb = X[idx], y[idx]
        logits = model.forward(Xb)
        _, dlogits = loss(logits, yb)
        model.backward(dlogits, input_grad=False)
        optimizer.step(model.parameters())


def torch_steps(net, optimizer, X, y, batches) -> None:
    import torch
    import torch.nn.functional as F

    net.train()
    for idx in batches:
        Xb, yb = torch.from_numpy(X[idx]), torch.from_numpy(y[idx])
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(Xb), yb).backward()
        optimizer.step()


def product_floor(model: Any, batch_size: int) -> ProductFloor:
    """The matrix products of one training step of ``model`` (Conv2D and Dense layers), alone.

    The same calls, shapes and memory layouts as the layers make (see
    ``scratchnn.layers.conv.Conv2D``): per convolution the im2col product ``cols @ Wm.T``,
    ``dWᵀ = cols.T @ dZ`` and, above the first layer, the batched ``dcols = dZ @ W[:, :, p, q]``;
    per Dense layer ``X @ W.T``, ``dZ.T @ X`` and ``dZ @ W``. Arrays are random and made once:
    the floor is BLAS time only, no im2col copy, col2im, pooling or activation.
    """
    import numpy as np

    from scratchnn.layers import Conv2D, Dense

    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    products, shape, first = [], (batch_size, *model.layers[0].input_shape()[1:]), True
    for layer in model:
        out_shape = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            (F, C, KH, KW), (N, _, OH, OW) = layer.params["W"].shape, out_shape
            rows, K = N * OH * OW, KH * KW * C
            cols = rand(K, rows).T if C == 1 else rand(rows, K)  # im2col's layouts
            Wm, dZ = rand(F, K), rand(rows, F)
            products += [(cols, Wm.T, np.empty((rows, F), np.float32))]
            products += [(cols.T, dZ, np.empty((K, F), np.float32))]
            if not first:
                products += [(dZ, rand(KH * KW, F, C), np.empty((KH * KW, rows, C), np.float32))]
        elif isinstance(layer, Dense):
            products += dense_products([(*layer.params["W"].shape[::-1], not first)], batch_size)
        first = first and not isinstance(layer, (Conv2D, Dense))
        shape = out_shape
    return ProductFloor(products)


def split(order, batch_size: int) -> list:
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def scratchnn_accuracy(model, X, y) -> float:
    return float(model.evaluate(X, y, batch_size=1000).accuracy)


def torch_accuracy(net, X, y) -> float:
    import torch

    net.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(X), 1000):
            logits = net(torch.from_numpy(X[start : start + 1000]))
            correct += int((logits.argmax(1).numpy() == y[start : start + 1000]).sum())
    return correct / len(X)


# -- memory probe (runs in a child process) ------------------------------------------------
def _status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB; None off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> float:
    """Start measuring the peak from now (Linux: clear_refs 5); returns the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass  # the peak then includes the set-up (imports, data)
    return _status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process (since :func:`reset_peak_rss`) in MiB.

    ``VmHWM`` rather than ``ru_maxrss``: the latter survives ``exec`` and would report the
    parent's size in a freshly started child.
    """
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    peak_raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak_raw / 1024 if sys.platform != "darwin" else peak_raw / 2**20


def probe(args: argparse.Namespace) -> int:
    import numpy as np

    import scratchnn as snn

    X, y, Xt, yt = load_data(args)
    model = snn.cnn(rng=args.seed)
    order = np.random.default_rng(args.seed).permutation(len(X))
    batches = split(order, args.batch_size)[: args.probe_steps]
    if args.probe == "scratchnn":
        baseline = reset_peak_rss()
        scratchnn_steps(model, snn.Adam(lr=args.lr), X, y, batches)
        scratchnn_accuracy(model, Xt, yt)
    else:
        import torch

        torch.set_num_threads(args.threads)
        net = torch_twin(model)
        baseline = reset_peak_rss()
        torch_steps(net, torch.optim.Adam(net.parameters(), lr=args.lr), X, y, batches)
        torch_accuracy(net, Xt, yt)
    peak = peak_rss_mb()
    print(json.dumps({"peak_rss_mb": peak, "training_mb": max(peak - baseline, 0.0)}))
    return 0


def measure_memory(args: argparse.Namespace, framework: str) -> dict[str, float]:
    command = [sys.executable, os.path.abspath(__file__), "--probe", framework]
    command += ["--probe-steps", str(args.probe_steps), "--batch-size", str(args.batch_size)]
    command += ["--threads", str(args.threads), "--seed", str(args.seed), "--lr", str(args.lr)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    if args.smoke:
        command.append("--smoke")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{framework} memory probe failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the race ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    set_threads(args.threads)
    if args.probe:
        raise SystemExit(probe(args))

    import numpy as np
    import torch

    import scratchnn as snn

    torch.set_num_threads(args.threads)
    X, y, Xt, yt = load_data(args)
    model = snn.cnn(rng=args.seed)
    net = torch_twin(model)
    with torch.no_grad():
        start_gap = float(
            np.abs(model.predict(Xt[:256]) - net.eval()(torch.from_numpy(Xt[:256])).numpy()).max()
        )
    optimizer = snn.Adam(lr=args.lr)
    torch_optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)

    # warm-up on throwaway copies: caches, thread pools and lazy initialisation, untimed
    rng = np.random.default_rng(args.seed)
    warm = split(rng.permutation(len(X)), args.batch_size)[: args.warmup]
    scratchnn_steps(copy.deepcopy(model), snn.Adam(lr=args.lr), X, y, warm)
    warm_net = copy.deepcopy(net)
    torch_steps(warm_net, torch.optim.Adam(warm_net.parameters(), lr=args.lr), X, y, warm)

    floor = product_floor(model, args.batch_size)
    n_batches = -(-len(X) // args.batch_size)
    load_start = load_average()
    times: dict[str, list[float]] = {"scratchnn": [], "torch": [], "floor": []}
    order_rng = np.random.default_rng(args.seed)
    schedule = snn.CosineAnnealingLR(T_max=args.epochs)
    for epoch in range(args.epochs):
        batches = split(order_rng.permutation(len(X)), args.batch_size)  # the same for both
        optimizer.lr = schedule.lr_at(epoch, args.lr)
        for group in torch_optimizer.param_groups:
            group["lr"] = optimizer.lr
        # alternate every `chunk` batches (and who goes first), so that a busy shared
        # machine slows both alike; each framework still sees every batch of the epoch
        spent = {"scratchnn": 0.0, "torch": 0.0}
        for c, start_batch in enumerate(range(0, len(batches), args.chunk)):
            chunk = batches[start_batch : start_batch + args.chunk]
            for framework in ("scratchnn", "torch") if c % 2 == 0 else ("torch", "scratchnn"):
                start = time.perf_counter()
                if framework == "scratchnn":
                    scratchnn_steps(model, optimizer, X, y, chunk)
                else:
                    torch_steps(net, torch_optimizer, X, y, chunk)
                spent[framework] += time.perf_counter() - start
        for framework, seconds in spent.items():
            times[framework].append(seconds)
        times["floor"].append(floor.seconds(n_batches))  # full batches: a slight overcount
        print(
            f"epoch {epoch + 1}/{args.epochs}: scratchnn {times['scratchnn'][-1]:.2f} s, "
            f"PyTorch {times['torch'][-1]:.2f} s, matrix products alone {times['floor'][-1]:.2f} s",
            flush=True,
        )

    ours = sum(times["scratchnn"]) / args.epochs
    theirs = sum(times["torch"]) / args.epochs
    result: dict[str, Any] = {
        "benchmark": "cnn_mnist",
        "model": "cnn() " + "-".join(type(layer).__name__ for layer in model),
        "train_examples": len(X),
        "test_examples": len(Xt),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "scratchnn_s_per_epoch": ours,
        "torch_s_per_epoch": theirs,
        "ratio": ours / theirs,
        "product_floor_s_per_epoch": sum(times["floor"]) / args.epochs,
        "floor_ratio": ours / (sum(times["floor"]) / args.epochs),
        "scratchnn_epoch_seconds": times["scratchnn"],
        "torch_epoch_seconds": times["torch"],
        "epoch_ratios": [a / b for a, b in zip(times["scratchnn"], times["torch"])],
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "scratchnn_test_accuracy": scratchnn_accuracy(model, Xt, yt),
        "torch_test_accuracy": torch_accuracy(net, Xt, yt),
        "initial_max_logit_difference": start_gap,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": machine(args.threads),
    }
    result["cpu_type"] = cpu_type(result["machine"])
    if not args.no_memory:
        for framework in ("scratchnn", "torch"):
            memory = measure_memory(args, framework)
            result[f"{framework}_peak_rss_mb"] = memory["peak_rss_mb"]
            result[f"{framework}_training_mb"] = memory["training_mb"]

    print_table(result, args)
    if args.json:
        print(json.dumps(result))
    return result


def print_table(r: dict[str, Any], args: argparse.Namespace) -> None:
    rows = [
        ("seconds per epoch", f"{r['scratchnn_s_per_epoch']:.2f}", f"{r['torch_s_per_epoch']:.2f}"),
        ("test accuracy", f"{r['scratchnn_test_accuracy']:.2%}", f"{r['torch_test_accuracy']:.2%}"),
    ]
    if "scratchnn_peak_rss_mb" in r:
        rows += [
            (
                "peak RSS (MiB)",
                f"{r['scratchnn_peak_rss_mb']:.0f}",
                f"{r['torch_peak_rss_mb']:.0f}",
            ),
            (
                "of it training (MiB)",
                f"{r['scratchnn_training_mb']:.0f}",
                f"{r['torch_training_mb']:.0f}",
            ),
        ]
    print(
        f"\n{r['model']}\n{r['train_examples']} training images, batch {r['batch_size']}, "
        f"{r['epochs']} epoch(s), {r['threads']} threads each"
        + (" (smoke mode)" if args.smoke else "")
    )
    print(f"{'':22s} {'scratchnn':>10s} {'PyTorch':>10s}")
    for name, a, b in rows:
        print(f"{name:22s} {a:>10s} {b:>10s}")
    print(f"ratio scratchnn / PyTorch: {r['ratio']:.2f} (goal <= 1.20)")
    print(
        f"matrix products alone: {r['product_floor_s_per_epoch']:.2f} s per epoch; "
        f"scratchnn / floor {r['floor_ratio']:.2f}"
    )
    print(f"machine: {one_line(r['machine'])}")
    print(f"CPU type: {r['cpu_type']}")
    if r["load_average_start"] is not None:
        print(
            f"load average (1 min) {r['load_average_start']:.1f} at the start, "
            f"{r['load_average_end']:.1f} at the end, on {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
