"""``scratchnn vae``: train a variational autoencoder on MNIST and keep everything it produced.

    scratchnn vae --dataset mnist --latent 20 --hidden 400 --epochs 10 --batch-size 128 \\
        --lr 1e-3 --data-dir DIR --out runs/NAME

writes into ``--out``: ``history.csv`` (per epoch: training and test negative ELBO with its
reconstruction and KL terms), ``metrics.json`` (test negative ELBO, reconstruction, KL, the
importance-weighted estimate of the test log-likelihood, timings), ``model.npz`` (load it with
``scratchnn.load``), ``config.json`` (the command's arguments and the architecture) and the
plots ``reconstructions.png``, ``samples.png``, ``elbo.png`` and, for ``--latent 2``,
``latent.png`` and ``manifold.png``.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np

from .. import __version__, experiments
from ..datasets import load_mnist
from ..errors import InputError
from ..io.atomic import write_csv, write_json
from ..models import VAE
from ..optimizers import Adam
from ._common import add_threads_argument, apply_threads

DESCRIPTION = __doc__.split("\n\n")[0]


def _load(
    args: argparse.Namespace,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    (X_train, _), (X_test, y_test) = load_mnist(args.data_dir, name=args.dataset)
    if args.limit is not None:
        X_train, X_test, y_test = X_train[: args.limit], X_test[: args.limit], y_test[: args.limit]
    image_shape = X_train.shape[1:]
    X_train = (X_train.reshape(len(X_train), -1) / 255).astype(np.float32)
    X_test = (X_test.reshape(len(X_test), -1) / 255).astype(np.float32)
    return X_train, X_test, y_test, tuple(int(s) for s in image_shape)


def _check_args(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "latent"):
        if getattr(args, name) < 1:
            raise InputError(
                f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}"
            )
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    if args.iwae_k < 0 or args.iwae_n < 0:
        raise InputError("--iwae-k and --iwae-n must be non-negative (0 skips the estimate)")
    if args.warmup < 0:
        raise InputError(f"--warmup must be non-negative, got {args.warmup}")
    if not args.lr > 0 or not math.isfinite(args.lr):
        raise InputError(f"--lr must be a positive number, got {args.lr}")


def _vae(args: argparse.Namespace) -> int:
    # matplotlib is heavy: imported only when a command draws plots, not for --help
    from ..plotting import vae as plots

    _check_args(args)
    apply_threads(args, print if args.verbose else (lambda line: None))
    # before training: a folder that is not writable, holds a run or is in use is refused now
    out = experiments.make_run_dir(args.out, "vae", overwrite=args.overwrite)
    X_train, X_test, y_test, image_shape = _load(args)
    shape = image_shape if len(image_shape) == 2 else (1, X_train.shape[1])
    vae = VAE(
        X_train.shape[1],
        hidden=tuple(args.hidden),
        latent_dim=args.latent,
        likelihood=args.likelihood,
        obs_std=args.obs_std,
        rng=args.seed,
    )
    arch = "-".join(str(s) for s in (X_train.shape[1], *args.hidden, args.latent))
    print(
        f"scratchnn {__version__}: VAE {arch} ({args.likelihood} decoder, "
        f"{vae.num_parameters:,} parameters) on {len(X_train):,} {args.dataset} images, "
        f"{args.epochs} epochs, Adam lr {args.lr:g}, batch {args.batch_size}"
        + (f", β {args.beta:g}" if args.beta != 1 else "")
        + (f", KL warm-up {args.warmup} epochs" if args.warmup else ""),
        flush=True,
    )

    start = time.perf_counter()
    history = vae.fit(
        X_train,
        optimizer=Adam(lr=args.lr),
        epochs=args.epochs,
        batch_size=args.batch_size,
        beta=args.beta,
        warmup_epochs=args.warmup,
        validation_data=X_test,
        seed=args.seed,
        verbose=0 if args.quiet else args.verbose,
    )
    train_seconds = time.perf_counter() - start

    test = vae.evaluate(X_test)
    metrics: dict[str, Any] = {
        "test_neg_elbo": test.neg_elbo,
        "test_recon": test.recon,
        "test_kl": test.kl,
        "train_neg_elbo_last_epoch": history["recon"][-1] + history["kl"][-1],
        "epochs": len(history),
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(np.mean(history["seconds"])),
        "n_train": len(X_train),
        "n_test": len(X_test),
    }
    if args.iwae_k and args.iwae_n:
        subset = X_test[: args.iwae_n]
        log_px = vae.log_likelihood(subset, k=args.iwae_k, rng=args.seed)
        metrics.update(
            {
                "test_iwae_nll": float(-log_px.mean()),
                "test_neg_elbo_iwae_subset": vae.evaluate(subset).neg_elbo,
                "iwae_k": args.iwae_k,
                "iwae_n": len(subset),
            }
        )

    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)
    config = {
        "command": "vae",
        "scratchnn_version": __version__,
        "arguments": {k: v for k, v in vars(args).items() if k != "func"},
        "model": vae.get_config(),
    }
    write_json(out / "config.json", config)
    vae.metadata = {"dataset": args.dataset, "image_shape": list(shape), "epochs": len(history)}
    vae.save(out / "model.npz")

    plot_rng = np.random.default_rng(args.seed)
    shown = np.concatenate([np.flatnonzero(y_test == d)[:2] for d in np.unique(y_test)])[:20]
    plots.reconstructions(
        X_test[shown], vae.reconstruct(X_test[shown]), out / "reconstructions.png", shape
    )
    plots.samples(vae.sample(100, rng=plot_rng), out / "samples.png", shape)
    plots.elbo_curves(history, out / "elbo.png")
    written = [
        "history.csv",
        "metrics.json",
        "config.json",
        "model.npz",
        "reconstructions.png",
        "samples.png",
        "elbo.png",
    ]
    if args.latent == 2:
        mu, _ = vae.encode(X_test)
        plots.latent_scatter(mu, y_test, out / "latent.png")
        values = plots.normal_quantiles(20)
        grid = np.array([(z1, z2) for z2 in values[::-1] for z1 in values])
        plots.manifold(vae.decode(grid), values, out / "manifold.png", shape)
        written += ["latent.png", "manifold.png"]

    print(
        f"test negative ELBO {test.neg_elbo:.2f} nats/example "
        f"(reconstruction {test.recon:.2f} + KL {test.kl:.2f})"
    )
    if "test_iwae_nll" in metrics:
        print(
            f"importance-weighted estimate of -log p(x), k={args.iwae_k} on {metrics['iwae_n']:,} "
            f"test images: {metrics['test_iwae_nll']:.2f} nats "
            f"(negative ELBO on the same images {metrics['test_neg_elbo_iwae_subset']:.2f})"
        )
    print(
        f"training took {train_seconds:.1f} s ({metrics['seconds_per_epoch']:.2f} s/epoch of steps)"
    )
    print(f"wrote {', '.join(written)} to {out}")
    experiments.release_run_dir(out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vae", help="train a variational autoencoder on MNIST", description=DESCRIPTION
    )
    p.add_argument("--dataset", default="mnist", help="MNIST-format dataset name (default mnist)")
    p.add_argument(
        "--data-dir", default=None, help="directory with the IDX files (or $SCRATCHNN_DATA)"
    )
    p.add_argument("--out", default="runs/vae", help="output directory (default runs/vae)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the run already in --out, if any"
    )
    p.add_argument("--latent", type=int, default=20, help="latent dimensions J (default 20)")
    p.add_argument(
        "--hidden", type=int, nargs="+", default=[400], help="hidden sizes (default 400)"
    )
    p.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli")
    p.add_argument("--obs-std", type=float, default=1.0, help="σ_x of the Gaussian likelihood")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight β (β-VAE; default 1)")
    p.add_argument("--warmup", type=int, default=0, help="KL warm-up epochs (default 0: none)")
    p.add_argument(
        "--iwae-k", type=int, default=100, help="importance samples (0 skips; default 100)"
    )
    p.add_argument("--iwae-n", type=int, default=1000, help="test images for the IWAE estimate")
    p.add_argument(
        "--limit", type=int, default=None, help="use only the first N train and test images"
    )
    p.add_argument("--seed", type=int, default=0)
    add_threads_argument(p)
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 a progress bar per epoch (default), 2 a line per epoch (as for train)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars (--verbose 0)")
    p.set_defaults(func=_vae)
