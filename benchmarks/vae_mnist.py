"""VAE on MNIST: scratchnn against PyTorch in one process, same network, weights, data and order.

Both train the classic 784-400-20-400-784 VAE (ReLU, Bernoulli decoder with logits, negative
ELBO in nats per example) with Adam (lr 1e-3) in batches of 128 over the full 60,000 training
images, starting from the same initial weights and visiting the examples in the same order.
The epochs alternate (scratchnn epoch 1, PyTorch epoch 1, scratchnn epoch 2, ...) so that
load from other processes on a shared machine hits both alike, and each library gets
``--threads`` threads (BLAS for NumPy, intra-op for PyTorch). A few warm-up steps on
throw-away copies are run first and not timed.

scratchnn trains through its ordinary ``fit`` (one epoch per call, same optimizer and
shuffling generator throughout), so its time includes everything ``fit`` does per batch:
the gather of the batch, the divergence check, the History. PyTorch's time covers its loop:
gather, forward, loss, backward, ``Adam.step`` and ``loss.item()``.

    python benchmarks/vae_mnist.py --epochs 10   # MNIST from --data-dir or $SCRATCHNN_DATA
    python benchmarks/vae_mnist.py --smoke --json      # seconds: a subset, for the tests

The last line with ``--json`` is one JSON object: scratchnn_s_per_epoch, torch_s_per_epoch
(medians over the epochs), ratio (scratchnn / torch; below 1 means scratchnn is faster),
scratchnn_test_neg_elbo, torch_test_neg_elbo (10,000 test images, one z per image), epochs;
then the fastest epoch of each and their ratio (``ratio_of_min``: least disturbed by other
processes on a shared machine) and the 1-minute load average before and after the run (above
the thread count means other processes competed for the cores and the timings are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from _machine import ProductFloor, cpu_type, dense_products, machine, one_line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST directory (or $SCRATCHNN_DATA)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--latent", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2, help="threads for each library")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument(
        "--smoke", action="store_true", help="1 epoch on 1,024 images (tests; timings meaningless)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # Thread counts must be set before NumPy (OpenBLAS) and PyTorch are first imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import torch
    from torch.nn import functional as F

    from scratchnn.datasets import load_mnist
    from scratchnn.models import VAE
    from scratchnn.optimizers import Adam

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    (X_train, _), (X_test, _) = load_mnist(args.data_dir)
    X_train = (X_train.reshape(len(X_train), -1) / 255).astype(np.float32)
    X_test = (X_test.reshape(len(X_test), -1) / 255).astype(np.float32)
    epochs = args.epochs
    if args.smoke:
        X_train, X_test, epochs = X_train[:1024], X_test[:512], 1
    D, K, J, bs = X_train.shape[1], args.hidden, args.latent, args.batch_size

    class TorchVAE(torch.nn.Module):
        """PyTorch's classic example (fc1, fc21, fc22, fc3, fc4), decoder returning logits."""

        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc21, self.fc22 = (
                torch.nn.Linear(D, K),
                torch.nn.Linear(K, J),
                torch.nn.Linear(K, J),
            )
            self.fc3, self.fc4 = torch.nn.Linear(J, K), torch.nn.Linear(K, D)

        def forward(self, x):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return self.fc4(F.relu(self.fc3(z))), mu, logvar

    def torch_loss(out, x, mu, logvar):
        bce = F.binary_cross_entropy_with_logits(out, x, reduction="sum")
        kl = 0.5 * torch.sum(logvar.exp() + mu * mu - 1 - logvar)
        return (bce + kl) / x.shape[0]

    def twin_of(vae: VAE) -> TorchVAE:
        model = TorchVAE()
        pairs = {
            model.fc1: vae.encoder[0],
            model.fc21: vae.mu_head,
            model.fc22: vae.logvar_head,
            model.fc3: vae.decoder[0],
            model.fc4: vae.decoder[2],
        }
        with torch.no_grad():
            for lin, dense in pairs.items():
                lin.weight.copy_(torch.from_numpy(dense.params["W"]))
                lin.bias.copy_(torch.from_numpy(dense.params["b"]))
        return model

    X_train_t, X_test_t = torch.from_numpy(X_train), torch.from_numpy(X_test)

    def torch_epoch(model, opt, order: np.ndarray) -> tuple[float, float]:
        model.train()
        order_t = torch.from_numpy(order)
        total = 0.0
        start_time = time.perf_counter()
        for start in range(0, len(order), bs):
            xb = X_train_t[order_t[start : start + bs]]
            out, mu, logvar = model(xb)
            loss = torch_loss(out, xb, mu, logvar)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        return time.perf_counter() - start_time, total / len(order)

    def torch_test_neg_elbo(model) -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(X_test_t), 1024):
                xb = X_test_t[start : start + 1024]
                out, mu, logvar = model(xb)
                total += torch_loss(out, xb, mu, logvar).item() * xb.shape[0]
        return total / len(X_test_t)

    # warm-up on throw-away copies: BLAS threads, allocator, torch's first-call costs
    warm = VAE(D, (K,), J, rng=args.seed + 1)
    warm_twin = twin_of(warm)
    n_warm = min(20 * bs, len(X_train))
    warm.fit(X_train[:n_warm], epochs=1, batch_size=bs, optimizer=Adam(args.lr), verbose=0)
    torch_epoch(
        warm_twin,
        torch.optim.Adam(warm_twin.parameters(), lr=args.lr),
        np.arange(n_warm),
    )

    vae = VAE(D, (K,), J, rng=args.seed)
    twin = twin_of(vae)
    ours_opt = Adam(lr=args.lr)
    torch_opt = torch.optim.Adam(twin.parameters(), lr=args.lr)
    # One generator for each side, same seed: fit draws one permutation per epoch from
    # its rng, and the PyTorch loop draws the same permutation from its copy.
    ours_order_rng = np.random.default_rng(args.seed)
    torch_order_rng = np.random.default_rng(args.seed)

    # The floor: the 14 products of one step (5 forward; dW of all 5 Dense layers; dX of
    # the 4 above the data: the decoder's two, and the two heads' into the encoder output)
    floor = ProductFloor(
        dense_products([(D, K, False), (K, J, True), (K, J, True), (J, K, True), (K, D, True)], bs)
    )
    n_batches = -(-len(X_train) // bs)
    floor_s = []

    load_before = os.getloadavg()[0]
    rows = []
    for epoch in range(1, epochs + 1):
        history = vae.fit(
            X_train, epochs=1, batch_size=bs, optimizer=ours_opt, rng=ours_order_rng, verbose=0
        )
        ours_s, ours_loss = history["seconds"][0], history["loss"][0]
        torch_s, torch_loss_value = torch_epoch(
            twin, torch_opt, torch_order_rng.permutation(len(X_train))
        )
        rows.append((epoch, ours_s, torch_s, ours_loss, torch_loss_value))
        floor_s.append(floor.seconds(n_batches))  # full batches: a slight overcount
        if not args.json:
            print(
                f"epoch {epoch}: scratchnn {ours_s:.2f} s (train loss {ours_loss:.2f}), "
                f"PyTorch {torch_s:.2f} s (train loss {torch_loss_value:.2f})",
                flush=True,
            )

    ours_test = vae.evaluate(X_test).neg_elbo
    torch_test = torch_test_neg_elbo(twin)
    load_after = os.getloadavg()[0]
    ours_s = statistics.median(r[1] for r in rows)
    torch_s = statistics.median(r[2] for r in rows)
    ours_min, torch_min = min(r[1] for r in rows), min(r[2] for r in rows)
    result = {
        "scratchnn_s_per_epoch": round(ours_s, 4),
        "torch_s_per_epoch": round(torch_s, 4),
        "ratio": round(ours_s / torch_s, 4),
        "product_floor_s_per_epoch": round(statistics.median(floor_s), 4),
        "floor_ratio": round(ours_s / statistics.median(floor_s), 4),
        "scratchnn_test_neg_elbo": round(ours_test, 3),
        "torch_test_neg_elbo": round(torch_test, 3),
        "epochs": epochs,
        "scratchnn_min_s_per_epoch": round(ours_min, 4),
        "torch_min_s_per_epoch": round(torch_min, 4),
        "ratio_of_min": round(ours_min / torch_min, 4),
        "load_avg_before": round(load_before, 2),
        "load_avg_after": round(load_after, 2),
        "n_train": len(X_train),
        "batch_size": bs,
        "threads": args.threads,
        "smoke": args.smoke,
        "machine": machine(args.threads),
    }
    result["cpu_type"] = cpu_type(result["machine"])

    print(f"\nVAE {D}-{K}-{J}, Bernoulli decoder, Adam lr {args.lr:g}, batch {bs}, ", end="")
    print(f"{len(X_train):,} training images, {args.threads} threads each")
    print(
        f"{'epoch':>5} {'scratchnn s':>12} {'PyTorch s':>10} {'scratchnn loss':>15} {'PyTorch loss':>13}"
    )
    for epoch, a, b, la, lb in rows:
        print(f"{epoch:>5} {a:>12.3f} {b:>10.3f} {la:>15.2f} {lb:>13.2f}")
    print(
        f"median s/epoch: scratchnn {ours_s:.3f}, PyTorch {torch_s:.3f}, ratio {ours_s / torch_s:.3f}"
    )
    print(
        f"fastest epoch:  scratchnn {ours_min:.3f}, PyTorch {torch_min:.3f}, "
        f"ratio {ours_min / torch_min:.3f}"
    )
    print(
        f"matrix products alone: {result['product_floor_s_per_epoch']:.3f} s per epoch; "
        f"scratchnn / floor {result['floor_ratio']:.2f}"
    )
    print(f"machine: {one_line(result['machine'])}")
    print(f"CPU type: {result['cpu_type']}")
    print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after the run")
    print(f"test negative ELBO (nats/example): scratchnn {ours_test:.2f}, PyTorch {torch_test:.2f}")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
