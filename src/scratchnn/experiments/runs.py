"""One experiment from a configuration dict to a run folder, and the helpers to write one.

:func:`resolve_config` fills in defaults, :func:`prepare_experiment` loads, scales and builds,
:func:`run_training` trains and :func:`finish_run` evaluates and writes ``history.csv``,
``metrics.json``, ``model.npz`` and the plots (:func:`write_plots`) next to ``config.json``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from .. import losses as losses_mod
from .. import optimizers as optimizers_mod
from .. import schedules as schedules_mod
from ..checkpoint import CHECKPOINT_FILE, load_checkpoint
from ..errors import DivergenceError, InputError, OutputError, TrainingInterrupted
from ..model import Sequential
from ..serialization import atomic_write_bytes
from ..training import Callback
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

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint

__all__ = [
    "DEFAULTS",
    "Experiment",
    "RunResult",
    "finish_run",
    "make_optimizer",
    "make_run_dir",
    "make_schedule",
    "open_run",
    "prepare_experiment",
    "read_run_config",
    "resolve_config",
    "resume_training",
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
    "clip_norm": None,  # clip the global gradient norm to this before every step
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
    """Fill in defaults: :data:`DEFAULTS`, the dataset's own, the model's
    (:attr:`ModelSpec.defaults`), then ``options`` (non-None).

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
    model = options.get("model") or config["model"]
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    config.update(MODELS[model].defaults)
    config.update({k: v for k, v in options.items() if v is not None})
    config["dataset"] = key if info is not None else str(options["dataset"])
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
    clip = config.get("clip_norm")
    if clip is not None and (
        isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip < math.inf
    ):
        raise InputError(f"clip_norm must be a positive number or null, got {clip!r}")
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


_RUN_FILES = ("config.json", "metrics.json", "model.npz", "history.csv", CHECKPOINT_FILE)


def make_run_dir(out: str | os.PathLike[str] | None, label: str, overwrite: bool = False) -> Path:
    """Create the run folder: ``out``, or ``runs/<label>-<date>-<time>`` if not given.

    A folder that already holds a run is refused unless ``overwrite``, so that no result is
    lost by accident (a run with a checkpoint is continued with :func:`resume_training`,
    ``--resume``). With ``overwrite`` the old checkpoint is deleted, so that the new run
    starts from scratch instead of being refused by ``fit``.
    """
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{label}-{stamp}"
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory; choose another --out")
    held = [name for name in _RUN_FILES if (path / name).exists()]
    if held and not overwrite:
        hint = f"continue it with --resume {path}, " if CHECKPOINT_FILE in held else ""
        raise InputError(
            f"{path}: already holds a run ({', '.join(held)}); {hint}choose another --out, or "
            "pass --overwrite to replace it"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            (path / CHECKPOINT_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot create the run folder ({exc.strerror or exc}); choose a writable --out"
        ) from None
    return path


def read_run_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The configuration a run folder was trained with (its ``config.json``), checked."""
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise InputError(
            f"{path}: no such run folder; pass the folder that 'scratchnn train' wrote (its --out)"
        )
    config_path = path / "config.json"
    if not config_path.is_file():
        raise InputError(
            f"{path}: not a run folder (no config.json); pass the folder that 'scratchnn train' "
            "wrote (its --out)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{config_path}: unreadable ({type(exc).__name__}: {exc}); restore the file, or "
            "start a new run"
        ) from None
    if not isinstance(config, dict) or not config.get("dataset"):
        raise InputError(f"{config_path}: not a run configuration (no dataset); restore the file")
    config.pop("scratchnn_version", None)
    try:
        return resolve_config(config)
    except (InputError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{config_path}: {exc}; restore the file, or start a new run") from None


def open_run(
    run_dir: str | os.PathLike[str],
    epochs: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
) -> tuple[dict[str, Any], Checkpoint]:
    """The configuration and checkpoint to continue a run with, until ``epochs`` in total.

    ``epochs`` defaults to the run's own; ``data_dir`` and ``dataset`` replace the saved ones,
    for data that moved (a CSV file is saved as the path it was given by): the data are
    fingerprinted, so other data are still refused. A cosine schedule is planned for the
    run's number of epochs and so cannot be extended.
    """
    path = Path(run_dir).expanduser()
    config = read_run_config(path)
    if not (path / CHECKPOINT_FILE).is_file():
        raise InputError(
            f"{path}: holds no {CHECKPOINT_FILE} to resume from (trained with --checkpoint-every "
            "0, or before checkpoints existed); start a new run"
        )
    checkpoint = load_checkpoint(path)
    done = checkpoint.epoch if checkpoint.in_epoch is None else checkpoint.in_epoch
    target = int(config["epochs"]) if epochs is None else int(epochs)
    if target < done:
        raise InputError(
            f"{path}: the run has already reached epoch {done}; pass --epochs {done} or more "
            "(--epochs counts the total, not the epochs still to train)"
        )
    if config.get("lr_schedule") == "cosine" and target != config["epochs"]:
        raise InputError(
            f"{path}: the learning rate follows a cosine decay planned for {config['epochs']} "
            f"epochs, which cannot be stretched to {target}; resume without --epochs, or start "
            f"a new run with --epochs {target}"
        )
    config["epochs"] = target
    if data_dir is not None:
        config["data_dir"] = str(data_dir)
    if dataset is not None:
        config = resolve_config({**config, "dataset": dataset})
    return config, checkpoint


def _seconds_before(checkpoint: Checkpoint) -> float:
    """Training time spent before a checkpoint: its epochs and any part of the next one."""
    seconds = (
        sum(float(s) for s in checkpoint.history["seconds"]) if len(checkpoint.history) else 0.0
    )
    position = checkpoint.state.get("position")
    return seconds + (float(position["seconds"]) if position else 0.0)


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
    checkpoint_every: int | None = 1,
    resume: Checkpoint | None = None,
) -> RunResult:
    """Run one experiment from a resolved config (:func:`resolve_config`) into a run folder.

    ``config.json`` is written before training starts; ``history.csv``, ``metrics.json``,
    ``model.npz`` and the plots after it. ``callbacks`` and ``fit_options`` go to
    :func:`~scratchnn.training.fit` unchanged.

    Every ``checkpoint_every`` epochs (``None`` or 0: never) ``fit`` replaces
    ``checkpoint.npz`` in the run folder, so that the run can be continued: ``resume`` (a
    checkpoint of this folder, see :func:`open_run`) continues it with the same ``fit``
    call, which restores the parameters, optimizer, random generators and position and
    checks that the data and settings are the run's.

    When training stops early, the folder keeps what there is and the exception goes on,
    with ``run_dir`` set on it:

    - :class:`~scratchnn.errors.TrainingInterrupted` (SIGINT, SIGTERM): ``history.csv``,
      ``model.npz`` (the state after the last complete step, the checkpoint's) and a
      ``metrics.json`` whose ``status`` is ``"interrupted"``, with ``stopped_by`` and
      ``stopped_at`` (epoch and batch); no plots.
    - :class:`~scratchnn.errors.DivergenceError`: ``fit`` has written the History so far and
      kept the last good checkpoint; the results of an earlier session stay as they were.
    - :class:`~scratchnn.errors.OutputError` (disk full): the previous files are unchanged.
    """
    from ..training import fit

    config = dict(config)
    experiment = prepare_experiment(config)
    config = experiment.config
    saved_config = {**config, "scratchnn_version": __version__}
    callbacks = list(callbacks)
    if resume is None:
        run_dir = make_run_dir(out_dir, f"{experiment.data.name}-{config['model']}", overwrite)
        write_json(run_dir / "config.json", saved_config)
    else:
        # config.json changes (epochs, data_dir) only once fit has accepted the resumption
        run_dir = resume.directory
        checkpoint_every = checkpoint_every or resume.settings.get("checkpoint_every", 1)
        callbacks.append(_WriteOnTrainBegin(run_dir / "config.json", saved_config))
    data, model = experiment.data, experiment.model
    n_train, n_val, n_test = data.sizes
    log(
        f"{data.name}: {n_train:,} train / {n_val:,} validation / {n_test:,} test examples "
        f"({data.source})"
    )
    log(f"model: {describe_model(model)}, {model.num_parameters:,} parameters, {model.dtype.name}")

    validation = (experiment.X_val, data.y_val) if experiment.X_val is not None else None
    options: dict[str, Any] = {}
    if checkpoint_every:
        options = {"checkpoint": run_dir, "checkpoint_every": checkpoint_every}
        options["resume"] = resume if resume is not None else False
    before = 0.0 if resume is None else _seconds_before(resume)
    start = time.perf_counter()
    try:
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
            clip_norm=config.get("clip_norm"),
            callbacks=callbacks,
            verbose=verbose,
            **{**options, **dict(fit_options or {})},
        )
    except TrainingInterrupted as exc:
        exc.run_dir = run_dir
        if exc.epoch is not None:  # stopped cleanly between two steps: keep what there is
            status = {
                "status": "interrupted",
                "stopped_by": exc.signal_name,
                "stopped_at": {"epoch": exc.epoch, "batch": exc.batch},
            }
            seconds = before + time.perf_counter() - start
            try:
                finish_run(
                    experiment,
                    exc.history,
                    seconds,
                    run_dir,
                    plots=False,
                    status=status,
                    log=_quiet,
                )
            except OutputError as error:  # e.g. a full disk: the checkpoint was still saved
                error.run_dir = run_dir
                raise error from None
        raise
    except (DivergenceError, OutputError) as exc:
        exc.run_dir = run_dir
        raise
    train_seconds = before + time.perf_counter() - start
    try:
        return finish_run(experiment, history, train_seconds, run_dir, plots=plots, log=log)
    except (OutputError, KeyboardInterrupt) as exc:  # the checkpoint holds the trained model
        exc.run_dir = run_dir
        raise


def resume_training(
    run_dir: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    checkpoint_every: int | None = None,
    **options: Any,
) -> RunResult:
    """Continue the run in ``run_dir`` until ``epochs`` epochs in total (default: its own).

    The configuration comes from the folder's ``config.json`` and the training state from its
    ``checkpoint.npz`` (:func:`open_run`); the result is bit-identical to a run trained
    straight to ``epochs``, apart from timings. ``options`` go to :func:`run_training`.
    """
    config, checkpoint = open_run(run_dir, epochs, data_dir, dataset)
    return run_training(
        config,
        checkpoint.directory,
        resume=checkpoint,
        checkpoint_every=checkpoint_every,
        **options,
    )


def _quiet(line: str) -> None:
    pass


class _WriteOnTrainBegin(Callback):
    """Write a JSON file when training starts, i.e. after ``fit`` has checked a resumption.

    Last in the list of callbacks, so that the others keep their place in the checkpoint.
    """

    def __init__(self, path: Path, obj: Any) -> None:
        self.path, self.obj = path, obj

    def on_train_begin(self, logs: dict[str, float]) -> None:
        write_json(self.path, self.obj)


def finish_run(
    experiment: Experiment,
    history: Any,
    train_seconds: float,
    run_dir: Path,
    *,
    plots: bool = True,
    log: Callable[[str], None] = print,
    status: Mapping[str, Any] | None = None,
) -> RunResult:
    """Evaluate on the test split, write history, metrics, model and plots, print the summary.

    ``status`` goes into ``metrics.json`` (default ``{"status": "complete"}``).
    """
    from ..training import evaluate

    data, model, config = experiment.data, experiment.model, experiment.config
    test = evaluate(model, experiment.X_test, data.y_test, loss=experiment.loss)
    last = history.records[-1] if len(history) else {}
    metrics: dict[str, Any] = {
        **(status or {"status": "complete"}),
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
    # the model first: it is what a full disk must not cost
    model.save(run_dir / "model.npz")
    files = [run_dir / "config.json"]
    files.append(write_history(run_dir / "history.csv", history))
    files.append(write_json(run_dir / "metrics.json", metrics))
    files.append(run_dir / "model.npz")
    if (run_dir / CHECKPOINT_FILE).exists():
        files.append(run_dir / CHECKPOINT_FILE)
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
    images ``predictions.png`` and ``weights.png`` (first Dense layer), or for a convolutional
    network ``filters.png`` and ``feature_maps.png``; a 1-D regression ``fit.png``.
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
            if any(type(layer).__name__ == "Conv2D" for layer in model):
                written += _cnn_plots(run_dir, experiment, y_pred)
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


def _cnn_plots(run_dir: Path, experiment: Experiment, y_pred: np.ndarray) -> list[Path]:
    """``filters.png`` (the first convolution's kernels) and ``feature_maps.png`` (what every
    convolution block makes of the first test image)."""
    from ..plotting import cnn as cnn_plots

    data, model = experiment.data, experiment.model
    path = run_dir / "filters.png"
    cnn_plots.plot_filters(model, path=path)
    written = [path]
    label, predicted = data.classes[int(data.y_test[0])], data.classes[int(y_pred[0])]
    path = run_dir / "feature_maps.png"
    cnn_plots.plot_feature_maps(
        model,
        experiment.X_test[0],
        path=path,
        title=f"{data.name}: feature maps of the first test image "
        f"(label {label}, predicted {predicted})",
    )
    written.append(path)
    return written
