"""One experiment from a configuration dict to a run folder, and the helpers to write one.

:func:`resolve_config` fills in defaults, :func:`prepare_experiment` loads, scales and builds,
:func:`run_training` trains and :func:`finish_run` evaluates and writes ``history.csv``,
``metrics.json``, ``model.npz`` and the plots (:func:`write_plots`) next to ``config.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .. import losses as losses_mod
from .. import optimizers as optimizers_mod
from .. import schedules as schedules_mod
from ..errors import InputError
from ..model import Sequential
from ..serialization import atomic_write_bytes
from .data import (
    DATASETS,
    Data,
    apply_preprocess,
    fit_preprocess,
    load_dataset,
    outputs_to_labels,
    predict_outputs,
    rng_for,
)
from .registry import MODELS, ModelRequest, ModelSpec, describe_model

__all__ = [
    "DEFAULTS",
    "Experiment",
    "RunResult",
    "finish_run",
    "make_optimizer",
    "make_run_dir",
    "make_schedule",
    "namespace_options",
    "prepare_experiment",
    "resolve_config",
    "run_training",
    "summary_rows",
    "summary_table",
    "write_history",
    "write_json",
    "write_plots",
]

#: Training defaults before a dataset's own (``DatasetInfo.defaults``) and the user's options.
DEFAULTS: dict[str, Any] = {
    "model": "mlp",
    "hidden": (16, 16),
    "activation": "relu",
    "dropout": 0.0,
    "loss": None,  # "ce" for classification, "mse" for regression
    "optimizer": "adam",
    "lr": 1e-3,
    "lr_schedule": "constant",
    "weight_decay": 0.0,
    "epochs": 20,
    "batch_size": 32,
    "seed": 0,
    "dtype": "float32",
    "val_split": 0.1,
    "test_split": 0.2,
    "n": None,  # points to generate (synthetic datasets)
    "data_dir": None,
    "target": "label",
    "task": "auto",
}


# -- configuration ------------------------------------------------------------------------
def resolve_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in defaults: :data:`DEFAULTS`, then the dataset's own, then ``options`` (non-None).

    Also chooses the loss from the task (``"ce"`` or ``"mse"``) if not given and checks the
    values that would otherwise fail late (after a long data load).
    """
    if not options.get("dataset"):
        raise InputError("no dataset given; pass --dataset NAME or --dataset PATH.csv")
    key = str(options["dataset"]).lower()
    info = DATASETS.get(key)
    config = dict(DEFAULTS)
    if info is not None:
        config.update(info.defaults)
    config.update({k: v for k, v in options.items() if v is not None})
    config["dataset"] = key if info is not None else str(options["dataset"])
    if config["model"] not in MODELS:
        raise InputError(f"unknown model {config['model']!r}; choose one of {', '.join(MODELS)}")
    if config["hidden"] is not None:
        config["hidden"] = [int(h) for h in config["hidden"]]
    np_dtype = np.dtype(config["dtype"])
    if np_dtype.kind != "f":
        raise InputError(f"dtype must be float32 or float64, got {config['dtype']!r}")
    config["dtype"] = np_dtype.name
    if config["loss"] is None and info is not None:
        config["loss"] = "mse" if info.task == "regression" else "ce"
    if config["loss"] is not None:
        losses_mod.get(config["loss"])  # an unknown name fails here, with the choices
    optimizers_mod.get(config["optimizer"], lr=config["lr"])
    make_schedule(config)
    return config


def _loss_and_outputs(config: Mapping[str, Any], data: Data) -> tuple[str, int]:
    loss = config.get("loss") or ("mse" if data.task == "regression" else "ce")
    kind = type(losses_mod.get(loss)).__name__
    if data.task == "regression":
        if kind != "MSE":
            raise InputError(f"{data.name} is a regression dataset; use --loss mse (not {loss!r})")
        return loss, 1
    if kind == "MSE":
        raise InputError(f"{data.name} is a classification dataset; use --loss ce or bce")
    if kind == "BCEWithLogits":
        if data.num_classes != 2:
            raise InputError(
                f"--loss bce needs two classes but {data.name} has {data.num_classes}; use --loss ce"
            )
        return loss, 1
    return loss, int(data.num_classes or 0)


def make_schedule(config: Mapping[str, Any]) -> schedules_mod.Schedule:
    """The learning-rate schedule of a config: ``"constant"`` or ``"cosine"`` (over ``epochs``)."""
    name = config.get("lr_schedule") or "constant"
    if name == "cosine":
        return schedules_mod.CosineAnnealingLR(T_max=int(config["epochs"]))
    if name == "constant":
        return schedules_mod.ConstantLR()
    raise InputError(f"unknown lr_schedule {name!r}; choose constant or cosine")


def make_optimizer(config: Mapping[str, Any]) -> optimizers_mod.Optimizer:
    kwargs: dict[str, Any] = {"lr": config["lr"]}
    if config.get("weight_decay"):
        kwargs["weight_decay"] = config["weight_decay"]
    return optimizers_mod.get(config["optimizer"], **kwargs)


# -- run folders --------------------------------------------------------------------------
def json_ready(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; NaN and infinities become ``null``."""
    path = Path(path)
    text = json.dumps(json_ready(obj), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode())
    return path


def write_history(path: str | os.PathLike[str], history: Any) -> Path:
    """Write a History (or DataFrame) as CSV, atomically."""
    frame = history.to_dataframe() if hasattr(history, "to_dataframe") else history
    path = Path(path)
    atomic_write_bytes(path, frame.to_csv(index=False).encode())
    return path


_RUN_FILES = ("config.json", "metrics.json", "model.npz", "history.csv")


def make_run_dir(out: str | os.PathLike[str] | None, label: str, overwrite: bool = False) -> Path:
    """Create the run folder: ``out``, or ``runs/<label>-<date>-<time>`` if not given.

    A folder that already holds a run is refused unless ``overwrite``, so that no result is
    lost by accident.
    """
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{label}-{stamp}"
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory; choose another --out")
    held = [name for name in _RUN_FILES if (path / name).exists()]
    if held and not overwrite:
        raise InputError(
            f"{path}: already holds a run ({', '.join(held)}); choose another --out or pass "
            "--overwrite"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot create the run folder ({exc.strerror or exc}); choose a writable --out"
        ) from None
    return path


def summary_table(rows: Iterable[tuple[str, Any]], title: str | None = None) -> str:
    """Two aligned columns under a rule, for the end of a command's output.

    >>> print(summary_table([("test accuracy", "98.1 %"), ("parameters", "477,690")]))
    -------------------------
    test accuracy   98.1 %
    parameters      477,690
    -------------------------
    """
    rows = [(str(k), str(v)) for k, v in rows]
    width = max((len(k) for k, _ in rows), default=0) + 3
    total = max([width + max((len(v) for _, v in rows), default=0), len(title or "")]) + 2
    lines = ["-" * total]
    if title:
        lines += [title, "-" * total]
    lines += [k.ljust(width) + v for k, v in rows]
    lines.append("-" * total)
    return "\n".join(lines)


# -- one experiment -----------------------------------------------------------------------
@dataclass
class Experiment:
    """Everything :func:`prepare_experiment` sets up before training starts."""

    config: dict[str, Any]
    data: Data
    spec: ModelSpec
    preprocess: dict[str, Any]
    model: Sequential
    loss: str
    X_train: np.ndarray
    X_val: np.ndarray | None
    X_test: np.ndarray


@dataclass
class RunResult:
    """What :func:`run_training` returns."""

    run_dir: Path
    model: Sequential
    history: Any
    metrics: dict[str, Any]
    data: Data
    files: list[Path]


def prepare_experiment(config: Mapping[str, Any]) -> Experiment:
    """Load and split the data, fit the scaling on the training split, build the model."""
    config = dict(config)
    data = load_dataset(
        config["dataset"],
        data_dir=config.get("data_dir"),
        n=config.get("n"),
        seed=config["seed"],
        val_split=config["val_split"],
        test_split=config["test_split"],
        target=config.get("target", "label"),
        task=config.get("task", "auto"),
    )
    loss, outputs = _loss_and_outputs(config, data)
    config["loss"] = loss
    spec = MODELS[config["model"]]
    preprocess = fit_preprocess(data, spec.input_layout)
    dtype = np.dtype(config["dtype"])
    X_train = apply_preprocess(preprocess, data.X_train, dtype)
    X_val = apply_preprocess(preprocess, data.X_val, dtype) if len(data.X_val) else None
    X_test = apply_preprocess(preprocess, data.X_test, dtype)
    request = ModelRequest(
        X_train.shape[1:], outputs, config, rng_for(config["seed"], "init"), dtype
    )
    model = spec.build(request)
    model.metadata = {
        "scratchnn_version": __version__,
        "dataset": data.name,
        "task": data.task,
        "loss": loss,
        "classes": data.classes,
        "feature_names": data.feature_names,
        "target": data.target,
        # not "model": save_model(model, path, **metadata) takes its metadata as keywords
        "model_type": spec.name,
        "preprocess": preprocess,
        "seed": config["seed"],
    }
    return Experiment(config, data, spec, preprocess, model, loss, X_train, X_val, X_test)


def run_training(
    config: Mapping[str, Any],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    callbacks: Sequence[Any] = (),
    fit_options: Mapping[str, Any] | None = None,
    verbose: int = 1,
    plots: bool = True,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Run one experiment from a resolved config (:func:`resolve_config`) into a run folder.

    ``config.json`` is written before training starts; ``history.csv``, ``metrics.json``,
    ``model.npz`` and the plots after it. ``callbacks`` and ``fit_options`` go to
    :func:`~scratchnn.training.fit` unchanged.
    """
    from ..training import fit

    config = dict(config)
    experiment = prepare_experiment(config)
    config = experiment.config
    run_dir = make_run_dir(out_dir, f"{experiment.data.name}-{config['model']}", overwrite)
    write_json(run_dir / "config.json", {**config, "scratchnn_version": __version__})
    data, model = experiment.data, experiment.model
    n_train, n_val, n_test = data.sizes
    log(
        f"{data.name}: {n_train:,} train / {n_val:,} validation / {n_test:,} test examples "
        f"({data.source})"
    )
    log(f"model: {describe_model(model)}, {model.num_parameters:,} parameters, {model.dtype.name}")

    validation = (experiment.X_val, data.y_val) if experiment.X_val is not None else None
    start = time.perf_counter()
    history = fit(
        model,
        experiment.X_train,
        data.y_train,
        loss=experiment.loss,
        optimizer=make_optimizer(config),
        lr_schedule=make_schedule(config),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        validation_data=validation,
        rng=rng_for(config["seed"], "shuffle"),
        callbacks=callbacks,
        verbose=verbose,
        **dict(fit_options or {}),
    )
    train_seconds = time.perf_counter() - start
    return finish_run(experiment, history, train_seconds, run_dir, plots=plots, log=log)


def finish_run(
    experiment: Experiment,
    history: Any,
    train_seconds: float,
    run_dir: Path,
    *,
    plots: bool = True,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Evaluate on the test split, write history, metrics, model and plots, print the summary."""
    from ..training import evaluate

    data, model, config = experiment.data, experiment.model, experiment.config
    test = evaluate(model, experiment.X_test, data.y_test, loss=experiment.loss)
    last = history.records[-1] if len(history) else {}
    metrics: dict[str, Any] = {
        "dataset": data.name,
        "model": config["model"],
        "architecture": describe_model(model),
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(np.mean(history["seconds"])) if len(history) else None,
        "epochs": len(history),
        "parameters": model.num_parameters,
        "n_train": len(data.X_train),
        "n_val": len(data.X_val),
        "n_test": len(data.X_test),
        "train_loss": last.get("loss"),
        "train_accuracy": last.get("accuracy"),
        "val_loss": last.get("val_loss"),
        "val_accuracy": last.get("val_accuracy"),
    }
    if data.task == "classification":
        counts = np.bincount(data.y_test, minlength=data.num_classes or 0)
        metrics["chance_accuracy"] = float(counts.max() / counts.sum())
    info = data.info
    if info is not None and info.bayes is not None:
        best = info.bayes(data.X_test)
        if data.task == "classification":
            metrics["best_possible_accuracy"] = float(np.mean(best == data.y_test))
        else:
            metrics["best_possible_loss"] = float(np.mean((best - data.y_test) ** 2))
    files = [run_dir / "config.json"]
    files.append(write_history(run_dir / "history.csv", history))
    files.append(write_json(run_dir / "metrics.json", metrics))
    model.save(run_dir / "model.npz")
    files.append(run_dir / "model.npz")
    if plots:
        files += write_plots(run_dir, experiment, history, metrics)
    log("")
    log(summary_table(summary_rows(metrics, config), title=f"results: {run_dir}"))
    log("files: " + ", ".join(p.name for p in files))
    return RunResult(run_dir, model, history, metrics, data, files)


def _pct(value: Any) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.2f} %"


def _num(value: Any, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def summary_rows(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The rows of the final summary table and of the results panel of ``curves.png``."""
    rows = [
        ("dataset", str(metrics["dataset"])),
        ("model", f"{metrics['model']} {metrics['architecture']}"),
        ("parameters", f"{metrics['parameters']:,}"),
        (
            "train / val / test",
            f"{metrics['n_train']:,} / {metrics['n_val']:,} / {metrics['n_test']:,}",
        ),
        ("epochs × batch", f"{metrics['epochs']} × {config['batch_size']}"),
        (
            "optimizer",
            f"{config['optimizer']}, lr {config['lr']:g}"
            + (
                f" ({config['lr_schedule']})"
                if config.get("lr_schedule", "constant") != "constant"
                else ""
            ),
        ),
    ]
    if metrics.get("test_accuracy") is not None and math.isfinite(metrics["test_accuracy"]):
        rows.append(("test accuracy", _pct(metrics["test_accuracy"])))
        if "best_possible_accuracy" in metrics:
            rows.append(("best possible (Bayes)", _pct(metrics["best_possible_accuracy"])))
        rows.append(("chance (majority)", _pct(metrics.get("chance_accuracy"))))
    rows.append(("test loss", _num(metrics["test_loss"])))
    if "best_possible_loss" in metrics:
        rows.append(("best possible loss", _num(metrics["best_possible_loss"])))
    per_epoch = metrics.get("seconds_per_epoch")
    rows.append(
        (
            "training time",
            f"{metrics['train_seconds']:.2f} s"
            + (f" ({per_epoch:.2f} s/epoch)" if per_epoch is not None else ""),
        )
    )
    return rows


# -- plots of a run -------------------------------------------------------------------------
def write_plots(
    run_dir: Path, experiment: Experiment, history: Any, metrics: Mapping[str, Any]
) -> list[Path]:
    """Write the figures that suit the dataset; returns their paths.

    Always ``curves.png`` (loss and accuracy per epoch with the results table). Classifiers
    add ``confusion_matrix.png``; 2-D datasets ``dataset.png`` and ``decision_regions.png``;
    images ``predictions.png`` and ``weights.png`` (first Dense layer); a 1-D regression
    ``fit.png``.
    """
    from ..plotting import classification, curves, images

    data, model, config = experiment.data, experiment.model, experiment.config
    written = []
    title = f"{data.name}: {metrics['model']} {metrics['architecture']}"
    path = run_dir / "curves.png"
    curves.training_curves(
        history,
        dict(summary_rows(metrics, config)),
        path=path,
        chance=metrics.get("chance_accuracy"),
        title=title,
        test_accuracy=metrics.get("test_accuracy"),
        test_loss=metrics.get("test_loss"),
        best=metrics.get("best_possible_accuracy"),
    )
    written.append(path)

    if data.task == "classification":
        outputs = model.predict(experiment.X_test)
        y_pred = outputs_to_labels(outputs)
        path = run_dir / "confusion_matrix.png"
        classification.confusion_matrix_plot(
            data.y_test, y_pred, data.classes, path=path, title=f"{data.name}: confusion matrix"
        )
        written.append(path)

        def predict(X_raw: np.ndarray) -> np.ndarray:
            return outputs_to_labels(predict_outputs(model, X_raw))

        if data.is_2d:
            path = run_dir / "dataset.png"
            classification.dataset_scatter(
                data.X_train,
                data.y_train,
                data.classes,
                path=path,
                title=f"{data.name}: training data",
                axis_labels=data.feature_names or ("x", "y"),
            )
            written.append(path)
            path = run_dir / "decision_regions.png"
            best = data.info.bayes if data.info is not None else None
            classification.decision_regions(
                predict,
                data.X_test,
                data.y_test,
                data.classes,
                path=path,
                best=best,
                axis_labels=data.feature_names or ("x", "y"),
                title=f"{data.name}: decision regions, test points "
                f"({_pct(metrics['test_accuracy'])} right)",
            )
            written.append(path)
        if data.image_shape is not None:
            shown = images.choose_examples(data.y_test, y_pred, n=40)
            wrong = int(np.sum(data.y_test[shown] != y_pred[shown]))
            total_wrong = int(np.sum(data.y_test != y_pred))
            path = run_dir / "predictions.png"
            images.prediction_grid(
                data.X_test[shown],
                data.y_test[shown],
                y_pred[shown],
                data.classes,
                path=path,
                title=f"{data.name}: the first {len(shown) - wrong} test images and {wrong} of "
                f"the {total_wrong:,} misclassified ones (red: predicted, and the true label)",
            )
            written.append(path)
            first = model.layers[0]
            if type(first).__name__ == "Dense" and first.in_features == data.input_size:
                path = run_dir / "weights.png"
                images.weight_images(first.params["W"], data.image_shape, path=path)
                written.append(path)
    elif data.X_train.ndim == 2 and data.X_train.shape[1] == 1:
        path = run_dir / "fit.png"
        truth = (lambda x: np.sin(x)) if data.name == "sine" else None
        classification.regression_fit(
            lambda X_raw: predict_outputs(model, X_raw),
            data.X_test,
            data.y_test,
            path=path,
            truth=truth,
            title=f"{data.name}: model fit on the test points (MSE {_num(metrics['test_loss'])})",
        )
        written.append(path)
    return written


def namespace_options(args: argparse.Namespace, keys: Iterable[str]) -> dict[str, Any]:
    """The given ``keys`` of parsed command-line options, as a dict (``None`` = not given)."""
    return {key: getattr(args, key, None) for key in keys}
