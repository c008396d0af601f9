"""``scratchnn train``: one experiment, everything kept in one run folder.

    scratchnn train --dataset circle
    scratchnn train --dataset mnist --hidden 524,124 --epochs 10 --batch-size 250 --lr 1e-3 \\
        --data-dir ../shared/data/mnist --out runs/mnist

writes ``config.json``, ``history.csv``, ``metrics.json``, ``model.npz`` and the plots into
``--out`` (see :mod:`scratchnn.experiments`), shows a progress bar per epoch and ends with a
summary table. Options left out take the dataset's defaults, listed by ``scratchnn datasets``.
"""

from __future__ import annotations

import argparse

from .. import experiments
from ._common import (
    add_data_arguments,
    add_model_arguments,
    add_output_arguments,
    add_training_arguments,
    config_from_args,
)


def _train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    experiments.run_training(
        config,
        args.out,
        overwrite=args.overwrite,
        verbose=args.verbose,
        plots=not args.no_plots,
        log=print if args.verbose else (lambda line: None),
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="train a model and write config, history, metrics, model and plots",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    add_data_arguments(parser)
    add_model_arguments(parser)
    add_training_arguments(parser)
    add_output_arguments(parser)
    parser.set_defaults(func=_train)
