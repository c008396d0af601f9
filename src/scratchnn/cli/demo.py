"""``scratchnn demo``: the original project's two toy problems, in seconds.

Trains the original ``2 -> 3 -> 2`` network and a wider ``2 -> 16 -> 16 -> 2`` one on circle
and square regions, writes a run folder for each (curves, decision regions, model, metrics)
under ``--out`` and prints their test accuracy next to the best possible one.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import __version__, experiments
from ..errors import InputError, TrainingInterrupted
from ._common import interrupted, non_negative_int, positive_int

#: (hidden sizes, activation): the original idea and a wider net.
NETWORKS = (((3,), "tanh"), ((16, 16), "relu"))


def _demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _refuse_earlier_results(out, args.overwrite)
    print(f"scratchnn {__version__} demo: the two toy problems of the original project\n")
    rows = []
    for dataset in ("circle", "square"):
        for hidden, activation in NETWORKS:
            config = experiments.resolve_config(
                {
                    "dataset": dataset,
                    "n": args.n,
                    "hidden": hidden,
                    "activation": activation,
                    "epochs": args.epochs,
                    "seed": args.seed,
                    "lr": 1e-2,
                }
            )
            name = f"{dataset}-2-{'-'.join(map(str, hidden))}-2"
            if args.verbose:
                print(f"{name}:", flush=True)
            try:
                result = experiments.run_training(
                    config,
                    out / name,
                    overwrite=args.overwrite,
                    verbose=args.verbose,
                    plots=not args.no_plots,
                    log=lambda line: None,
                )
            except TrainingInterrupted as exc:  # the hint in command-line form, not Python
                raise interrupted(exc, "train") from None
            m = result.metrics
            rows.append(
                (
                    dataset,
                    f"{m['architecture']}",
                    m["test_accuracy"],
                    m["best_possible_accuracy"],
                    m["train_seconds"],
                    result.run_dir,
                )
            )
    table = [("dataset, network", "test acc.  best possible  seconds  folder")]
    for dataset, arch, acc, best, seconds, folder in rows:
        table.append(
            (f"{dataset} {arch}", f"{acc:>9.1%}  {best:>13.1%}  {seconds:>7.2f}  {folder}")
        )
    print(experiments.summary_table(table, title=f"demo: {out}"))
    # A 3-unit ReLU layer often loses a unit for good (a "dead" ReLU) and stalls near 72 %, as
    # the original project saw; the 3-unit net here uses tanh, whose units cannot die.
    print(
        f"\n'best possible' is the Bayes classifier's accuracy on the same test points.\n"
        f"Results written to {out}/ (each folder: curves.png, decision_regions.png, "
        "dataset.png, confusion_matrix.png, metrics.json, history.csv, model.npz,\n"
        "checkpoint.npz: 'scratchnn train --resume FOLDER --epochs N' trains it further)."
    )
    return 0


def _folders() -> list[str]:
    return [
        f"{dataset}-2-{'-'.join(map(str, hidden))}-2"
        for dataset in ("circle", "square")
        for hidden, _ in NETWORKS
    ]


def _refuse_earlier_results(out: Path, overwrite: bool) -> None:
    """A second demo into the same --out is refused before anything trains, unless --overwrite."""
    if overwrite:
        return
    held = [
        f"{name}/{file}"
        for name in _folders()
        for file in experiments.RUN_FILES
        if os.path.lexists(out / name / file)
    ]
    if held:
        raise InputError(
            f"{out}: already holds the results of a demo ({held[0]}, ...); pass --overwrite "
            "to replace them, or choose another --out"
        )


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="train the original project's small networks on its two toy problems",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    demo.add_argument(
        "--epochs", type=positive_int, default=20, help="epochs per network (default 20)"
    )
    demo.add_argument(
        "--n", type=positive_int, default=4000, help="points per dataset (default 4,000)"
    )
    demo.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--out", default="runs/demo", metavar="DIR", help="where to write (default runs/demo)"
    )
    demo.add_argument(
        "--overwrite", action="store_true", help="replace the results of an earlier demo in --out"
    )
    demo.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    demo.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="training progress, as for train: 0 none (default here: only the results), "
        "1 a progress bar per epoch, 2 a line per epoch",
    )
    demo.set_defaults(func=_demo)
