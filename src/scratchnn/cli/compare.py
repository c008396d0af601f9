"""``scratchnn compare``: the same network trained in scratchnn and in PyTorch, side by side.

    scratchnn compare --dataset mnist --hidden 524,124 --epochs 10 --batch-size 250 \\
        --out runs/compare-mnist   # MNIST from $SCRATCHNN_DATA/mnist or the download cache
    scratchnn compare --dataset circle --hidden 8 --epochs 5 --dtype float64   # curves coincide

Same initial weights, same batches in the same order, same optimizer; writes compare.csv,
compare.json and compare.png (the overlaid loss curves). Needs the optional PyTorch extra.
"""

from __future__ import annotations

import argparse

from ..compare import compare_with_torch
from ..errors import TrainingInterrupted
from ._common import (
    add_data_arguments,
    add_model_arguments,
    add_output_arguments,
    add_training_arguments,
    config_from_args,
)

_NOTHING_SAVED = "; no checkpoint directory was given, so nothing was saved"


def _compare(args: argparse.Namespace) -> int:
    try:
        compare_with_torch(
            config_from_args(args),
            args.out,
            overwrite=args.overwrite,
            verbose=args.verbose,
            plots=not args.no_plots,
            log=print if args.verbose else (lambda line: None),
        )
    except TrainingInterrupted as exc:  # in scratchnn's half: say it in command-line terms
        text = str(exc).replace(_NOTHING_SAVED, "")
        error = TrainingInterrupted(
            f"{text} (scratchnn's side); a comparison is not resumable: run the same "
            "'scratchnn compare' command again, with another --out or --overwrite",
            exc.signum,
            history=exc.history,
        )
        raise error from None
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compare",
        help="train the same network in scratchnn and PyTorch and overlay the loss curves",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    add_data_arguments(parser)
    add_model_arguments(parser)
    add_training_arguments(parser)
    add_output_arguments(parser)
    parser.set_defaults(func=_compare)
