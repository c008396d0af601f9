"""``scratchnn predict``: a trained model's predictions for new inputs, written as CSV.

    scratchnn predict --model runs/circle/model.npz --input points.csv --out predictions.csv
    scratchnn predict --model runs/mnist --input t10k-images-idx3-ubyte.gz --out digits.csv

Inputs: a CSV file (the model's feature columns are picked by name; other columns, such as a
label, are kept in the output but not used), a NumPy ``.npy`` array, or an IDX file of
images. The output has the input's columns (or an ``index``), then ``prediction`` in the
model's own labels and, for a classifier, one probability column ``p_<class>`` per class.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .. import experiments
from ..datasets import read_idx
from ..datasets.tabular import load_features
from ..errors import InputError, ShapeError
from ..io.atomic import write_csv
from ..io.model_file import load_model
from ..models.lm import LanguageModel
from ._common import add_model_file_argument, add_old_spelling
from .evaluate import check_inputs, model_path


def _read_inputs(path: Path, meta: dict, input_size: int | None) -> tuple[np.ndarray, pd.DataFrame]:
    name = path.name.lower()
    if name.endswith(".npy"):
        if not path.is_file():
            raise InputError(f"{path}: file not found; check the path")
        try:
            X = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(
                f"{path}: not a readable .npy array ({type(exc).__name__}: {exc}); save the "
                "inputs with numpy.save"
            ) from None
        if not isinstance(X, np.ndarray) or X.ndim == 0 or len(X) == 0:
            raise InputError(
                f"{path}: holds no examples (shape {getattr(X, 'shape', None)}); save an array "
                "of shape (N, features)"
            )
        return X, pd.DataFrame({"index": np.arange(len(X))})
    if "idx" in name or name.endswith("-ubyte") or name.endswith("-ubyte.gz"):
        X = read_idx(path)
        return X, pd.DataFrame({"index": np.arange(len(X))})
    target = meta.get("target") or "label"
    X, features, frame = load_features(path, meta.get("feature_names"), exclude=(target,))
    if input_size is not None and len(features) != input_size:
        raise ShapeError(
            f"{path}: {len(features)} feature columns but the model expects {input_size}; "
            "use a file with the columns the model was trained on"
        )
    return X, frame


def _predict(args: argparse.Namespace) -> int:
    path = model_path(args.model)
    model = load_model(path)
    experiments.check_model_metadata(model, path)  # JSON from a file: checked
    if isinstance(model, LanguageModel):
        raise InputError(
            f"{path}: a language model predicts characters, not labels: draw names with "
            f"'scratchnn sample {args.model}', score a file of names with 'scratchnn evaluate "
            f"--model {args.model} --input FILE'"
        )
    meta = model.metadata
    X, frame = _read_inputs(Path(args.input), meta, model.input_dim)
    check_inputs(model, path, X, args.input)
    outputs = experiments.predict_outputs(model, X)
    out = frame.copy()
    if meta.get("task", "classification") == "regression":
        out["prediction"] = outputs[:, 0] if outputs.shape[1] == 1 else list(outputs)
    else:
        classes = meta.get("classes") or list(range(max(outputs.shape[1], 2)))
        labels = experiments.outputs_to_labels(outputs)
        out["prediction"] = [classes[i] for i in labels]
        probabilities = experiments.outputs_to_probabilities(outputs)
        for k, name in enumerate(classes):
            out[f"p_{name}"] = probabilities[:, k]
    if args.out in (None, "-"):
        sys.stdout.write(out.to_csv(index=False))
    else:
        write_csv(args.out, out)
        print(f"wrote {len(out):,} predictions to {args.out}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "predict",
        help="write a trained model's predictions for new inputs as CSV",
        description="Write a trained model's predictions for new inputs as CSV.",
    )
    add_model_file_argument(parser)
    parser.add_argument(
        "--input", required=True, metavar="FILE", help="a CSV, .npy or IDX file of inputs"
    )
    parser.add_argument(
        "--out", metavar="FILE.csv", help="where to write the predictions (default: stdout)"
    )
    add_old_spelling(parser, "--output", "out", "FILE.csv")
    parser.set_defaults(func=_predict)
