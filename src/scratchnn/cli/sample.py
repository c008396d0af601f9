"""``scratchnn sample``: names drawn from a trained language model, one a line.

    scratchnn sample runs/gpt                          # 20 names: the run's samples.txt again
    scratchnn sample runs/gpt -n 50 --temperature 0.8 --top-k 10 --seed 7

Each name is drawn a character at a time from the boundary ``.`` to the boundary
(:func:`scratchnn.models.lm.sample`): ``--temperature`` below 1 sharpens the distribution
(towards the most likely names), above 1 flattens it; ``--top-k K`` draws only among the
K most likely characters. The same seed gives the same names; without ``--seed`` the
run's own seed is used, so ``scratchnn sample RUN`` prints the names of ``samples.txt``.
"""

from __future__ import annotations

import argparse
import math

from .. import experiments
from ..errors import InputError
from ..io.model_file import load_model
from ._common import non_negative_int, positive_int
from .evaluate import model_path


def _sample(args: argparse.Namespace) -> int:
    if not math.isfinite(args.temperature) or args.temperature <= 0:
        raise InputError(
            f"--temperature must be a positive number, got {args.temperature:g} (1 samples as "
            "the model learned; below 1 is sharper, above 1 flatter)"
        )
    if args.top_k is not None and args.top_k < 1:
        raise InputError(f"--top-k must be 1 or more, got {args.top_k} (1: the likeliest only)")
    path = model_path(args.run)
    model = load_model(path)
    tokenizer = experiments.text.tokenizer_of(model, path)
    seed = int(model.metadata.get("seed", 0)) if args.seed is None else args.seed
    names = experiments.sample_names(
        model,
        tokenizer,
        args.n,
        experiments.rng_for(seed, "sample"),
        temperature=args.temperature,
        top_k=args.top_k,
        max_len=args.max_len,
    )
    for name in names:
        print(name)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sample",
        help="print names drawn from a trained language model",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    parser.add_argument(
        "run",
        metavar="RUN_DIR",
        help="the run folder of 'scratchnn train --dataset names' (or its model.npz)",
    )
    parser.add_argument("-n", type=positive_int, default=20, help="how many names (20)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        metavar="T",
        help="divide the logits by T > 0: below 1 sharper, above 1 flatter (1)",
    )
    parser.add_argument(
        "--top-k", type=int, metavar="K", help="draw among the K likeliest characters only"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        help="the same seed, the same names (default: the run's own, as in samples.txt)",
    )
    parser.add_argument(
        "--max-len",
        type=positive_int,
        default=50,
        metavar="L",
        help="cut a name that has not ended after L characters (50)",
    )
    parser.set_defaults(func=_sample)
