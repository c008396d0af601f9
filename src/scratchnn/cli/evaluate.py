"""``scratchnn evaluate``: a trained model's loss and accuracy on a dataset, printed as JSON.

    scratchnn evaluate --model runs/circle/model.npz --dataset circle --n 200000
    scratchnn evaluate --model runs/mnist --dataset mnist --data-dir ../shared/data/mnist
    scratchnn evaluate --model runs/pets/model.npz --dataset new_pets.csv

The inputs go through the scaling saved with the model. For a synthetic dataset the model
meets a fresh sample it never saw (and, for circle and square, the best possible accuracy on
that same sample is reported next to its own); for MNIST-format data the official test set;
for a CSV file every row, with the model's feature columns and label names.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from .. import experiments
from ..errors import InputError
from ..serialization import load_model
from ..training import evaluate
from ._common import non_negative_int, positive_int


def model_path(text: str | os.PathLike[str]) -> Path:
    """A model file, or a run folder holding ``model.npz``."""
    path = Path(text)
    if path.is_dir() and (path / "model.npz").is_file():
        return path / "model.npz"
    return path


def _evaluate(args: argparse.Namespace) -> int:
    path = model_path(args.model)
    model = load_model(path)
    meta = model.metadata
    X, y, described = experiments.load_evaluation_data(
        meta, args.dataset, data_dir=args.data_dir, n=args.n, seed=args.seed, target=args.target
    )
    if y is None:
        raise InputError(f"{args.dataset}: no target column to evaluate against; pass --target")
    loss = meta.get("loss", "ce")
    X_in = experiments.apply_preprocess(meta.get("preprocess", {}), X, model.dtype)
    result = evaluate(model, X_in, y, loss=loss)
    report = {
        "model": str(path),
        "dataset": args.dataset,
        "data": described,
        "examples": len(X),
        "loss": result.loss,
        "loss_function": loss,
        "accuracy": result.accuracy,
    }
    info = experiments.DATASETS.get(str(args.dataset).lower())
    if info is not None and info.bayes is not None:
        best = info.bayes(X)
        if info.task == "classification":
            report["best_possible_accuracy"] = float(np.mean(best == y))
            report["gap_points"] = 100 * (report["best_possible_accuracy"] - result.accuracy)
        else:
            report["best_possible_loss"] = float(np.mean((best - y) ** 2))
    text = json.dumps(experiments.json_ready(report), indent=2)
    if args.output:
        experiments.write_json(args.output, report)
    print(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="print a trained model's loss and accuracy on a dataset as JSON",
        description="Print a trained model's loss and accuracy on a dataset as JSON.",
    )
    parser.add_argument(
        "--model", required=True, metavar="PATH", help="model.npz, or the run folder holding it"
    )
    parser.add_argument(
        "--dataset", required=True, metavar="NAME|PATH.csv", help="dataset name or CSV file"
    )
    parser.add_argument("--data-dir", metavar="DIR", help="directory of MNIST-format files")
    parser.add_argument(
        "--n", type=positive_int, help="points of a fresh synthetic sample (default 100,000)"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        help="seed of the fresh sample (default: the model's training seed, another stream)",
    )
    parser.add_argument("--target", metavar="COLUMN", help="label column of a CSV file")
    parser.add_argument("--output", metavar="FILE.json", help="also write the JSON here")
    parser.set_defaults(func=_evaluate)
