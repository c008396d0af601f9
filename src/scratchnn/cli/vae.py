"""``scratchnn vae``: train a variational autoencoder on MNIST and keep everything it produced.

    scratchnn vae --dataset mnist --latent 20 --hidden 400 --epochs 10 --batch-size 128 \\
        --lr 1e-3 --data-dir DIR --out runs/NAME
    scratchnn vae --resume runs/NAME --epochs 20     # continue that run, exactly

writes into ``--out``: ``config.json`` (the command's arguments and the architecture, first),
``checkpoint.npz`` (replaced after every epoch: ``--resume`` continues from it),
``history.csv`` (per epoch: training and test negative ELBO with its reconstruction and KL
terms), ``metrics.json`` (test negative ELBO, reconstruction, KL, the importance-weighted
estimate of the test log-likelihood, timings), ``model.npz`` (load it with
``scratchnn.load``) and the plots ``reconstructions.png``, ``samples.png``, ``elbo.png``
and, for ``--latent 2``, ``latent.png`` and ``manifold.png``.

Ctrl-C (exit code 130) or SIGTERM (143) finish the current step, save the checkpoint and
the history so far (``metrics.json`` then says ``"status": "interrupted"``), and print the
``scratchnn vae --resume DIR`` that continues the run, bit-identical to one never stopped.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, experiments
from ..datasets import REMOTE_DATASETS, load_mnist
from ..errors import InputError, TrainingInterrupted
from ..experiments.run_dir import lock_run_dir, read_config_json, remove_stale_files
from ..experiments.session import seconds_before
from ..io.atomic import write_csv, write_json
from ..models import VAE
from ..optimizers import Adam
from ..training.checkpoint import CHECKPOINT_FILE, load_checkpoint
from ._common import (
    add_threads_argument,
    apply_threads,
    did_you_mean,
    hidden_sizes,
    interrupted,
    non_negative_int,
    positive_float,
    positive_int,
)

DESCRIPTION = (
    "Train a variational autoencoder on MNIST-format images and write everything it produced "
    "(config, checkpoint, history, metrics, model, plots) into one run folder; --resume DIR "
    "continues a stopped run."
)

#: The defaults of the options (``None`` in the parser, so that ``--resume`` can tell which
#: options were given).
DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",
    "data_dir": None,
    "out": "runs/vae",
    "latent": 20,
    "hidden": [400],
    "likelihood": "bernoulli",
    "obs_std": 1.0,
    "epochs": 10,
    "batch_size": 128,
    "lr": 1e-3,
    "beta": 1.0,
    "warmup": 0,
    "iwae_k": 100,
    "iwae_n": 1000,
    "limit": None,
    "seed": 0,
    "checkpoint_every": 1,
}

#: What may be given with ``--resume``: the rest is the run's own (its config.json).
_WITH_RESUME = ("epochs", "data_dir", "checkpoint_every")


def _load(
    args: argparse.Namespace,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    _check_dataset(args.dataset, args.data_dir)
    (X_train, _), (X_test, y_test) = load_mnist(args.data_dir, name=args.dataset)
    if args.limit is not None:
        X_train, X_test, y_test = X_train[: args.limit], X_test[: args.limit], y_test[: args.limit]
    image_shape = X_train.shape[1:]
    X_train = (X_train.reshape(len(X_train), -1) / 255).astype(np.float32)
    X_test = (X_test.reshape(len(X_test), -1) / 255).astype(np.float32)
    return X_train, X_test, y_test, tuple(int(s) for s in image_shape)


def _check_dataset(name: str, data_dir: str | None) -> None:
    """A VAE trains on images: refuse a generated or text dataset, suggest a close name."""
    images = [d.name for d in experiments.DATASETS.values() if d.kind == "images"]
    info = experiments.DATASETS.get(str(name).lower())
    if info is not None and info.kind != "images":
        what = "a generated 2-D dataset" if info.kind == "synthetic" else "a text dataset"
        raise InputError(
            f"--dataset {name} is {what}, not images; vae needs an image dataset in MNIST "
            f"format, e.g. --dataset mnist ({' or '.join(images)}; "
            f"'scratchnn train --dataset {name}' trains a classifier on it)"
        )
    if info is None and data_dir is None and name not in REMOTE_DATASETS:
        raise InputError(
            f"unknown image dataset {name!r}{did_you_mean(str(name).lower(), images)}; pass "
            f"one of {', '.join(images)}, or --data-dir DIR for your own MNIST-format files"
        )


def _check_args(args: argparse.Namespace) -> None:
    if args.beta < 0 or not math.isfinite(args.beta):
        raise InputError(f"--beta must be a finite non-negative number, got {args.beta:g}")


def _given(args: argparse.Namespace) -> list[str]:
    given = [k for k in DEFAULTS if k not in _WITH_RESUME and getattr(args, k) is not None]
    return ["--" + k.replace("_", "-") for k in given]


def _resumed(args: argparse.Namespace) -> argparse.Namespace:
    """``--resume DIR``: the run's own arguments (its config.json), and --epochs/--data-dir."""
    given = _given(args)
    if given:
        raise InputError(
            f"--resume continues {args.resume} with the configuration it was started with (its "
            f"config.json), so {', '.join(given)} cannot be changed; drop "
            f"{'it' if len(given) == 1 else 'them'}, or start a new run with another --out"
        )
    run_dir = Path(args.resume).expanduser()
    path = run_dir / "config.json"
    if not os.path.lexists(path):
        raise InputError(
            f"{run_dir}: not a vae run folder (no config.json); pass the --out of a "
            "'scratchnn vae' run"
        )
    saved = read_config_json(path)  # untrusted: a FIFO, a huge or deeply nested file refused
    if not isinstance(saved, dict) or saved.get("command") != "vae":
        raise InputError(
            f"{run_dir}: not a vae run (its config.json is for another command); resume a "
            "'scratchnn train' run with 'scratchnn train --resume'"
        )
    if not (run_dir / CHECKPOINT_FILE).is_file():
        raise InputError(
            f"{run_dir}: holds no {CHECKPOINT_FILE} to resume from (trained with "
            "--checkpoint-every 0, or by an older scratchnn); start a new run"
        )
    kept = saved.get("arguments", {})
    arguments = {**DEFAULTS, **{k: v for k, v in kept.items() if k in DEFAULTS}}
    for key in _WITH_RESUME:
        if getattr(args, key) is not None:
            arguments[key] = getattr(args, key)
    arguments["out"] = str(run_dir)
    if not arguments.get("checkpoint_every"):
        raise InputError(
            "--resume continues from the run's checkpoint and keeps replacing it; drop "
            "--checkpoint-every 0"
        )
    return argparse.Namespace(**{**vars(args), **arguments})


def _with_defaults(args: argparse.Namespace) -> argparse.Namespace:
    values = {k: (DEFAULTS[k] if getattr(args, k) is None else getattr(args, k)) for k in DEFAULTS}
    return argparse.Namespace(**{**vars(args), **values})


def _architecture(input_dim: int, args: argparse.Namespace) -> str:
    return "-".join(str(s) for s in (input_dim, *args.hidden, args.latent))


def _vae(args: argparse.Namespace) -> int:
    # matplotlib is heavy: imported only when a command draws plots, not for --help
    from ..plotting import vae as plots

    if args.quiet:
        args.verbose = 0
    log = print if args.verbose else (lambda line: None)
    args = _resumed(args) if args.resume is not None else _with_defaults(args)
    _check_args(args)
    apply_threads(args, log)
    X_train, X_test, y_test, image_shape = _load(args)  # bad data: refused, no folder made
    if args.resume is None:
        # before training: a folder that is not writable, holds a run or is in use is refused now
        out = experiments.make_run_dir(
            args.out, "vae", overwrite=args.overwrite, command="scratchnn vae"
        )
    else:  # the run's own folder: one run at a time, and no temporaries of a killed write
        out = Path(args.out)
        lock_run_dir(out)
        remove_stale_files(out)
    shape = image_shape if len(image_shape) == 2 else (1, X_train.shape[1])
    vae = VAE(
        X_train.shape[1],
        hidden=tuple(args.hidden),
        latent_dim=args.latent,
        likelihood=args.likelihood,
        obs_std=args.obs_std,
        rng=args.seed,
    )
    arch = _architecture(X_train.shape[1], args)
    log(
        f"scratchnn {__version__}: VAE {arch} ({args.likelihood} decoder, "
        f"{vae.num_parameters:,} parameters) on {len(X_train):,} {args.dataset} images, "
        f"{args.epochs} epochs, Adam lr {args.lr:g}, batch {args.batch_size}"
        + (f", β {args.beta:g}" if args.beta != 1 else "")
        + (f", KL warm-up {args.warmup} epochs" if args.warmup else "")
    )

    arguments = {k: v for k, v in vars(args).items() if k not in ("func", "resume", "quiet")}
    config = {
        "command": "vae",
        "scratchnn_version": __version__,
        "dataset": args.dataset,
        "epochs": args.epochs,
        "arguments": arguments,
        "model": vae.get_config(),
    }
    before = 0.0
    if args.resume is not None:
        before = seconds_before(load_checkpoint(out))
    else:
        # config.json first, as 'train' does: a stopped run can then be listed and resumed
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", config)
    fit_options: dict[str, Any] = {}
    if args.checkpoint_every:
        fit_options = {
            "checkpoint": out,
            "checkpoint_every": args.checkpoint_every,
            "resume": args.resume is not None,
        }

    start = time.perf_counter()
    try:
        history = vae.fit(
            X_train,
            optimizer=Adam(lr=args.lr),
            epochs=args.epochs,
            batch_size=args.batch_size,
            beta=args.beta,
            warmup_epochs=args.warmup,
            validation_data=X_test,
            seed=args.seed,
            verbose=args.verbose,
            **fit_options,
        )
    except TrainingInterrupted as exc:
        _write_interrupted(out, exc, before + time.perf_counter() - start)
        exc.run_dir = out
        raise interrupted(exc, "vae") from None
    train_seconds = before + time.perf_counter() - start
    if args.resume is not None:  # only now that fit has accepted the resumption
        write_json(out / "config.json", config)

    test = vae.evaluate(X_test)
    metrics: dict[str, Any] = {
        "status": "complete",
        "dataset": args.dataset,
        "model": "vae",
        "architecture": arch,
        "test_neg_elbo": test.neg_elbo,
        "test_recon": test.recon,
        "test_kl": test.kl,
        "train_neg_elbo_last_epoch": history["recon"][-1] + history["kl"][-1],
        "epochs": len(history),
        "parameters": vae.num_parameters,
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

    vae.metadata = {"dataset": args.dataset, "image_shape": list(shape), "epochs": len(history)}
    vae.save(out / "model.npz")  # the model first: it is what a full disk must not cost
    write_csv(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)
    written = ["config.json", "history.csv", "metrics.json", "model.npz"]
    if (out / CHECKPOINT_FILE).is_file():
        written.append(CHECKPOINT_FILE)

    plot_rng = np.random.default_rng(args.seed)
    shown = np.concatenate([np.flatnonzero(y_test == d)[:2] for d in np.unique(y_test)])[:20]
    plots.reconstructions(
        X_test[shown], vae.reconstruct(X_test[shown]), out / "reconstructions.png", shape
    )
    plots.samples(vae.sample(100, rng=plot_rng), out / "samples.png", shape)
    plots.elbo_curves(history, out / "elbo.png")
    written += ["reconstructions.png", "samples.png", "elbo.png"]
    if args.latent == 2:
        mu, _ = vae.encode(X_test)
        plots.latent_scatter(mu, y_test, out / "latent.png")
        values = plots.latent_span(mu, 20)  # the codes' actual spread, not the prior's
        grid = np.array([(z1, z2) for z2 in values[::-1] for z1 in values])
        plots.manifold(vae.decode(grid), values, out / "manifold.png", shape)
        written += ["latent.png", "manifold.png"]

    log("")
    log(experiments.summary_table(_summary_rows(metrics, args), title=f"results: {out}"))
    log("files: " + ", ".join(written))
    experiments.release_run_dir(out)
    return 0


def _summary_rows(metrics: dict[str, Any], args: argparse.Namespace) -> list[tuple[str, str]]:
    """The rows of the summary box, as ``train`` shows it: what was trained, then the scores."""
    rows = [
        ("dataset", str(metrics["dataset"])),
        ("model", f"vae {metrics['architecture']} ({args.likelihood} decoder)"),
        ("parameters", f"{metrics['parameters']:,}"),
        ("train / test", f"{metrics['n_train']:,} / {metrics['n_test']:,}"),
        ("epochs × batch", f"{metrics['epochs']} × {args.batch_size}"),
        (
            "optimizer",
            f"adam, lr {args.lr:g}"
            + (f", β {args.beta:g}" if args.beta != 1 else "")
            + (f", KL warm-up {args.warmup}" if args.warmup else ""),
        ),
        ("test negative ELBO", f"{metrics['test_neg_elbo']:.2f} nats per image"),
        ("  reconstruction + KL", f"{metrics['test_recon']:.2f} + {metrics['test_kl']:.2f}"),
    ]
    if "test_iwae_nll" in metrics:
        rows.append(
            (
                f"-log p(x), k={metrics['iwae_k']}",
                f"{metrics['test_iwae_nll']:.2f} nats (importance-weighted, on "
                f"{metrics['iwae_n']:,} test images)",
            )
        )
    rows.append(
        (
            "training time",
            f"{metrics['train_seconds']:.2f} s ({metrics['seconds_per_epoch']:.2f} s/epoch)",
        )
    )
    return rows


def _write_interrupted(out: Path, exc: TrainingInterrupted, seconds: float) -> None:
    """What a stop leaves: ``history.csv`` (fit keeps it) and an ``"interrupted"`` metrics.json."""
    if exc.epoch is None:  # a second signal, in the middle of a step: nothing more is written
        return
    history = exc.history
    metrics = {
        "status": "interrupted",
        "stopped_by": exc.signal_name,
        "stopped_at": {"epoch": exc.epoch, "batch": exc.batch},
        "epochs": len(history) if history is not None else 0,
        "train_seconds": seconds,
    }
    if history is not None and len(history):
        write_csv(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vae", help="train a variational autoencoder on MNIST", description=DESCRIPTION
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        metavar="NAME",
        help="MNIST-format image dataset: mnist or fashion-mnist, or your own with --data-dir "
        "(default mnist)",
    )
    data.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory with the four IDX files (else $SCRATCHNN_DATA/NAME, then the cache)",
    )
    data.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="use only the first N training and N test images (default: all)",
    )
    data.add_argument(
        "--seed",
        type=non_negative_int,
        metavar="SEED",
        help="one seed for the weights, the batches and the sampled codes (0)",
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--latent",
        type=positive_int,
        metavar="J",
        help="latent dimensions J (20; 2 adds the latent.png and manifold.png plots)",
    )
    model.add_argument(
        "--hidden",
        type=hidden_sizes,
        metavar="SIZES",
        help="hidden layer sizes of the encoder (the decoder mirrors them), e.g. 256,128; "
        "'none' for no hidden layer (400)",
    )
    model.add_argument(
        "--likelihood",
        choices=("bernoulli", "gaussian"),
        help="the decoder's p(x|z): bernoulli (pixels in [0, 1], the default) or gaussian",
    )
    model.add_argument(
        "--obs-std",
        type=positive_float,
        metavar="σ",
        help="σ_x of the gaussian likelihood (1)",
    )
    training = p.add_argument_group("training")
    training.add_argument(
        "--epochs",
        type=positive_int,
        metavar="EPOCHS",
        help="passes over the training images, in total (10)",
    )
    training.add_argument(
        "--batch-size", type=positive_int, metavar="B", help="images per step (128)"
    )
    training.add_argument(
        "--lr", type=positive_float, metavar="LR", help="learning rate of Adam (1e-3)"
    )
    training.add_argument(
        "--beta", type=float, metavar="β", help="weight of the KL term (β-VAE; 1)"
    )
    training.add_argument(
        "--warmup",
        type=non_negative_int,
        metavar="E",
        help="raise β linearly from 0 over the first E epochs (0: none)",
    )
    add_threads_argument(training)
    evaluation = p.add_argument_group("evaluation")
    evaluation.add_argument(
        "--iwae-k",
        type=non_negative_int,
        metavar="K",
        help="importance samples per image for the estimate of -log p(x) (100; 0 skips it)",
    )
    evaluation.add_argument(
        "--iwae-n",
        type=non_negative_int,
        metavar="N",
        help="test images for that estimate (1,000; 0 skips it)",
    )
    reliability = p.add_argument_group("reliability")
    reliability.add_argument(
        "--checkpoint-every",
        type=non_negative_int,
        metavar="K",
        help="replace checkpoint.npz in the run folder every K epochs (default 1; 0: never, "
        "and the run cannot be resumed)",
    )
    reliability.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the vae run in DIR with its saved configuration, until --epochs in "
        "total (default: the run's own); --data-dir only for data that moved",
    )
    output = p.add_argument_group("output")
    output.add_argument("--out", metavar="DIR", help="run folder (default runs/vae)")
    output.add_argument(
        "--overwrite", action="store_true", help="replace the run already in --out, if any"
    )
    output.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 a progress bar per epoch (default), 2 a line per epoch",
    )
    output.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_vae)
