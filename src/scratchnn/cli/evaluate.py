"""``scratchnn evaluate``: a trained model's loss and accuracy on a dataset, printed as JSON.

    scratchnn evaluate --model runs/circle                # the run's own dataset
    scratchnn evaluate --model runs/circle/model.npz --dataset circle --n 200000
    scratchnn evaluate --model runs/mnist --dataset mnist --data-dir DIR  # MNIST elsewhere
    scratchnn evaluate --model runs/pets/model.npz --dataset new_pets.csv
    scratchnn evaluate --model runs/gpt --input names.txt --skip-unknown

The inputs go through the scaling saved with the model. For a synthetic dataset the model
meets a fresh sample it never saw (and, for circle and square, the best possible accuracy on
that same sample is reported next to its own); for MNIST-format data the official test set;
for a CSV file every row, with the model's feature columns and label names. Without
``--dataset`` the run's own dataset and data folder are used (its ``config.json``); a
dataset other than the model's own is evaluated, with a warning on stderr.

A language model (``scratchnn train --dataset names``) scores a text file of names, one a
line (``--input``): ``loss`` is the mean negative log-likelihood of each whole name, from
the boundary ``.`` through its closing ``.``, in nats per character
(:func:`scratchnn.experiments.name_loss`, the unit of the run's ``val_loss`` and
``test_loss``). A name with a character the model never saw is an error, or with
``--skip-unknown`` left out and counted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from .. import experiments
from ..datasets import read_lines
from ..errors import InputError, ShapeError
from ..io.atomic import json_ready, write_json
from ..io.model_file import load_model
from ..loop import evaluate
from ..model import Sequential
from ..models.lm import LanguageModel
from ..training.checkpoint import CHECKPOINT_FILE
from ._common import add_model_file_argument, add_old_spelling, non_negative_int, positive_int


def model_path(text: str | os.PathLike[str]) -> Path:
    """A model file, or a run folder: its ``model.npz``, else its ``checkpoint.npz``.

    A run stopped before its end (a crash, ``kill -9``) has a checkpoint but maybe no
    ``model.npz`` yet; the checkpoint holds the model too.
    """
    path = Path(text)
    if not path.is_dir():
        return path
    if (path / "model.npz").is_file():
        return path / "model.npz"
    if (path / CHECKPOINT_FILE).is_file():
        print(
            f"scratchnn: {path} has no model.npz (the run did not finish); using its "
            f"{CHECKPOINT_FILE}",
            file=sys.stderr,
        )
        return path / CHECKPOINT_FILE
    raise InputError(
        f"{path}: a directory without model.npz or {CHECKPOINT_FILE}; pass a model file or the "
        "folder of a run"
    )


def check_inputs(model: Sequential, path: Path, X: np.ndarray, source: object) -> None:
    """One line naming the data (and the model file) for inputs the model cannot take.

    Real numbers only, all finite, and as many features per example as the model was trained
    with.
    """
    if X.dtype.kind not in "biuf":
        raise InputError(
            f"{source}: inputs of dtype {X.dtype}; the model takes real numbers, "
            "convert them (e.g. numpy.asarray(X, dtype=float))"
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise InputError(
            f"{source}: {bad:,} NaN or infinite value(s); fill them in or drop those examples"
        )
    check_feature_count(model, path, X, source)


def check_feature_count(model: Sequential, path: Path, X: np.ndarray, source: object) -> None:
    """One line naming the data and the model file when their feature counts differ."""
    preprocess = model.metadata.get("preprocess") or {}
    expected = model.input_dim
    if preprocess.get("layout") == "image" and preprocess.get("image_shape"):
        expected = math.prod(preprocess["image_shape"])
    got = math.prod(X.shape[1:]) if X.ndim >= 2 else 1
    if expected is None or got == expected:
        return
    shape = " × ".join(map(str, X.shape[1:]))
    what = f"{got} feature{'s' if got != 1 else ''} per example" + (
        f" ({shape})" if X.ndim > 2 else ""
    )
    trained = model.metadata.get("dataset")
    raise ShapeError(
        f"{source}: {what}, but the model {path} expects {expected}"
        + (f" (it was trained on {trained})" if trained else "")
        + "; use data of the kind the model was trained on, or another model"
    )


def _report(report: dict, out: str | None) -> int:
    text = json.dumps(json_ready(report), indent=2)
    if out:
        write_json(out, report)
    print(text)
    return 0


def _evaluate_names(args: argparse.Namespace, path: Path, model: LanguageModel) -> int:
    """``--input FILE``: a language model's loss over whole names, in nats per character."""
    tokenizer = experiments.text.tokenizer_of(model, path)
    names = read_lines(args.input)
    kept, unknown = experiments.text.scorable(model, names, tokenizer)
    if unknown and not args.skip_unknown:
        first = unknown[0]
        char = next(c for c in first if c not in tokenizer.stoi or c == tokenizer.boundary)
        raise InputError(
            f"{args.input}: name {first!r} (number {names.index(first) + 1}) has the character "
            f"{char!r}, which the model never saw (its vocabulary: "
            f"{''.join(tokenizer.itos[1:])}); pass --skip-unknown to skip such names "
            f"({len(unknown):,} of {len(names):,})"
        )
    if not kept:
        raise InputError(
            f"{args.input}: every one of its {len(names):,} names has a character the model "
            "never saw; nothing to score"
        )
    loss, characters = experiments.name_loss(model, kept, tokenizer)
    report = {
        "model": str(path),
        "input": str(args.input),
        "names": len(kept),
        "skipped": len(unknown),
        "characters": characters,
        "loss": loss,
        "loss_unit": "nats per character",
        "bits_per_character": loss / math.log(2),
        "perplexity": math.exp(loss),
        "uniform_loss": math.log(tokenizer.vocab_size),
    }
    return _report(report, args.out)


def _run_config(path: Path) -> dict | None:
    """The configuration of the run folder holding the model file ``path``, if it has one."""
    if not (path.parent / "config.json").is_file():
        return None
    try:
        return experiments.read_run_config(path.parent)
    except InputError:  # another command's folder (vae), or a damaged file: no defaults
        return None


def _default_data(args: argparse.Namespace, path: Path) -> None:
    """No --dataset: the run's own dataset and data folder (its config.json), said on stderr."""
    config = _run_config(path)
    if config is None or experiments.is_text_config(config):
        raise InputError(
            "what to evaluate on? pass --dataset NAME|PATH.csv, or --input FILE (one name a "
            "line) for a language model"
            + ("" if config is None else f"; {path.parent} is a language model's run")
        )
    args.dataset = config["dataset"]
    if args.data_dir is None and config.get("data_dir"):
        args.data_dir = config["data_dir"]
    print(
        f"scratchnn: evaluating on {args.dataset}, the dataset of the run "
        f"({path.parent / 'config.json'})",
        file=sys.stderr,
    )


def _warn_if_other_data(meta: dict, dataset: str) -> None:
    """A warning on stderr when the data are not of the kind the model was trained on."""
    trained = meta.get("dataset")
    given = Path(dataset).stem if experiments.DATASETS.get(dataset.lower()) is None else dataset
    builtin = {str(trained).lower(), dataset.lower()} & set(experiments.DATASETS)
    if trained and builtin and str(trained).lower() != given.lower():
        print(
            f"scratchnn: warning: the model was trained on {trained}, not {dataset}; its "
            "scores here do not say how well it learned its own task",
            file=sys.stderr,
        )


def _evaluate(args: argparse.Namespace) -> int:
    if args.input is not None and args.dataset is not None:
        raise InputError("pass --dataset (features, images) or --input (names), not both")
    path = model_path(args.model)
    model = load_model(path)
    experiments.check_model_metadata(model, path)  # JSON from a file: checked
    if args.input is not None:
        return _evaluate_names(args, path, model)
    if args.dataset is None and not isinstance(model, LanguageModel):
        _default_data(args, path)
    if args.dataset is None:
        raise InputError(
            f"{path}: a language model; pass --input FILE with one name a line to score it"
        )
    if isinstance(model, LanguageModel):
        raise InputError(
            f"{path}: a language model scores names, not --dataset {args.dataset}; pass "
            "--input FILE with one name a line"
        )
    meta = model.metadata
    X, y, described = experiments.load_evaluation_data(
        meta, args.dataset, data_dir=args.data_dir, n=args.n, seed=args.seed, target=args.target
    )
    if y is None:
        raise InputError(f"{args.dataset}: no target column to evaluate against; pass --target")
    check_inputs(model, path, np.asarray(X), args.dataset)
    _warn_if_other_data(meta, str(args.dataset))  # after: an error already names both
    loss = meta.get("loss", "ce")
    X_in = experiments.apply_preprocess(meta.get("preprocess", {}), X, model.dtype)
    result = evaluate(model, X_in, y, loss=loss)
    report = {
        "model": str(path),
        "dataset": args.dataset,
        "trained_on": meta.get("dataset"),
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
    return _report(report, args.out)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="print a trained model's loss and accuracy on a dataset (or a language model's "
        "loss on a file of names) as JSON",
        description="Print a trained model's loss and accuracy on a dataset as JSON; for a "
        "language model, its loss in nats per character on a file of names (--input).",
    )
    add_model_file_argument(parser)
    parser.add_argument(
        "--dataset",
        metavar="NAME|PATH.csv",
        help="dataset name or CSV file (default: the run's own, from its config.json; a "
        "warning if it is not the one the model was trained on)",
    )
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="language models: a text file of names, one a line, scored over whole names "
        "(loss in nats per character)",
    )
    parser.add_argument(
        "--skip-unknown",
        action="store_true",
        help="with --input: skip (and count) the names with characters the model never saw, "
        "instead of stopping at the first",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory of MNIST-format files (default: the run's own, if it gave one)",
    )
    parser.add_argument(
        "--n", type=positive_int, help="points of a fresh synthetic sample (default 100,000)"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        help="seed of the fresh sample (default: the model's training seed, another stream)",
    )
    parser.add_argument("--target", metavar="COLUMN", help="label column of a CSV file")
    parser.add_argument("--out", metavar="FILE.json", help="also write the JSON here")
    add_old_spelling(parser, "--output", "out", "FILE.json")
    parser.set_defaults(func=_evaluate)
