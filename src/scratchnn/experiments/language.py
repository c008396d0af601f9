"""A language model trained into a run folder: what ``scratchnn train --dataset names`` runs.

:func:`~scratchnn.experiments.run_training` hands a text configuration to
:func:`run_language_training`, which follows the same steps as for features (a run folder,
``config.json`` first, :func:`scratchnn.training.fit` with a checkpoint kept in the folder,
exact resume, the same handling of Ctrl-C, divergence and full disks:
:func:`~scratchnn.experiments.session.train_then_finish`) with the language model's data
and callbacks:

- the training arrays of the model's layout (:mod:`scratchnn.experiments.text`);
- :class:`~scratchnn.training.Validate`, which adds ``val_loss``, the loss over whole
  validation names in nats per character (:func:`~scratchnn.experiments.text.name_loss`),
  to every epoch's row;
- :class:`~scratchnn.training.PerStepSchedule`, the learning rate of every step
  (:func:`~scratchnn.experiments.make_step_schedule`: by default a 100-step warm-up, then
  half a cosine down to 10 %);
- the progress bar, after the validation so that it shows it.

:func:`finish_language_run` writes ``history.csv``, ``metrics.json`` (``val_loss`` and
``test_loss`` in nats per character), ``model.npz`` (the tokenizer in its metadata, so that
``scratchnn sample`` and ``scratchnn evaluate --input`` work from the file alone),
``samples.txt`` (20 names drawn from the model) and the plots (``curves.png``, and for a
GPT ``attention.png``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..io.atomic import atomic_write_bytes, write_csv, write_json
from ..models.lm import LanguageModel
from ..training import PerStepSchedule, Validate, fit
from ..training.callbacks import ProgressBar
from ..training.checkpoint import CHECKPOINT_FILE, Checkpoint
from .config import make_optimizer, make_step_schedule
from .data import rng_for
from .plots import write_language_plots
from .registry import (
    LANGUAGE_MODELS,
    LanguageModelRequest,
    LanguageModelSpec,
    describe_language_model,
)
from .results import format_number, summary_table
from .run_dir import lock_run_dir, make_run_dir, no_larger_than, remove_stale_files
from .session import RunResult, WriteOnTrainBegin, seconds_before, train_then_finish
from .text import TextData, load_text_data, name_loss, sample_names, training_arrays, uniform_loss

__all__ = [
    "SAMPLES",
    "LanguageExperiment",
    "finish_language_run",
    "prepare_language_experiment",
    "run_language_training",
]

#: Names drawn into ``samples.txt`` at the end of a run.
SAMPLES = 20
#: What one training example of each layout is, for the log.
_EXAMPLES = {"stream": "windows", "windows": "contexts", "pairs": "pairs"}


@dataclass
class LanguageExperiment:
    """A language model and its data, ready to train (:func:`prepare_language_experiment`)."""

    config: dict[str, Any]
    data: TextData
    spec: LanguageModelSpec
    model: LanguageModel
    X_train: np.ndarray
    Y_train: np.ndarray

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.X_train) / int(self.config["batch_size"]))

    @property
    def total_steps(self) -> int:
        return int(self.config["epochs"]) * self.steps_per_epoch


def prepare_language_experiment(config: Mapping[str, Any]) -> LanguageExperiment:
    """Read and split the names, fit the tokenizer, build the model and its training arrays."""
    config = dict(config)
    spec = LANGUAGE_MODELS[config["model"]]
    data = load_text_data(config)
    seed = int(config["seed"])
    request = LanguageModelRequest(
        data.tokenizer.vocab_size, config, rng_for(seed, "init"), np.dtype(config["dtype"])
    )
    model = spec.build(request)
    model.metadata = {
        "scratchnn_version": __version__,
        "dataset": data.name,
        "task": "language model",
        "loss": "ce",
        "loss_unit": "nats per character",
        # not "model": save_model(model, path, **metadata) takes its metadata as keywords
        "model_type": spec.name,
        "layout": spec.layout,
        "tokenizer": data.tokenizer.get_config(),
        "seed": seed,
        "split_seed": int(config["split_seed"]),
    }
    X, Y = training_arrays(spec.layout, data.train, data.tokenizer, config, rng_for(seed, "data"))
    return LanguageExperiment(config, data, spec, model, X, Y)


def _validation(data: TextData) -> Callable[[Any], dict[str, float]]:
    known, _ = data.tokenizer.known(data.val)

    def measure(model: Any) -> dict[str, float]:
        return {"val_loss": name_loss(model, known, data.tokenizer)[0]} if known else {}

    return measure


def run_language_training(
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
    """Train a language model from a resolved text config into a run folder.

    The arguments are :func:`~scratchnn.experiments.run_training`'s; so is what a run that
    stops early leaves behind. ``callbacks`` come after the model's own (validation, the
    per-step schedule, the progress bar), so that they see ``val_loss``.
    """
    with no_larger_than(resume):
        experiment = prepare_language_experiment(config)
    config, data, model = experiment.config, experiment.data, experiment.model
    schedule = make_step_schedule(config, experiment.total_steps)  # a bad warm-up fails here
    saved_config = {**config, "scratchnn_version": __version__}
    own = [Validate(_validation(data)), PerStepSchedule(schedule), ProgressBar(verbose)]
    callbacks = [*own, *callbacks]
    if resume is None:
        run_dir = make_run_dir(out_dir, f"{data.name}-{config['model']}", overwrite)
        write_json(run_dir / "config.json", saved_config)
    else:
        # config.json changes (epochs, data_dir) only once fit has accepted the resumption
        run_dir = resume.directory
        lock_run_dir(run_dir)  # released by train_then_finish, however the run ends
        remove_stale_files(run_dir)
        checkpoint_every = checkpoint_every or resume.settings.get("checkpoint_every", 1)
        callbacks.append(WriteOnTrainBegin(run_dir / "config.json", saved_config))
    n_train, n_val, n_test = data.sizes
    log(
        f"{data.name}: {n_train:,} train / {n_val:,} validation / {n_test:,} test names, "
        f"{data.tokenizer.vocab_size} tokens ({data.source})"
    )
    log(
        f"model: {experiment.spec.name} {describe_language_model(model)}, "
        f"{model.num_parameters:,} parameters, {model.dtype.name}"
    )
    log(
        f"training: {config['epochs']} epochs × {experiment.steps_per_epoch:,} steps of "
        f"{config['batch_size']} {_EXAMPLES[experiment.spec.layout]} = "
        f"{experiment.total_steps:,} steps, {config['optimizer']} lr {config['lr']:g} "
        f"({_schedule_text(config)})"
    )
    if resume is not None:
        where = f"after epoch {resume.epoch} of {config['epochs']}"
        if resume.in_epoch is not None:  # continues with the step after the last one done
            step = int(resume.state["position"]["batch"]) + 1
            where = (
                f"at epoch {resume.in_epoch} of {config['epochs']}, step {step} of "
                f"{experiment.steps_per_epoch:,}"
            )
        log(f"resuming {resume.path} {where}")

    options: dict[str, Any] = {}
    if checkpoint_every:
        options = {"checkpoint": run_dir, "checkpoint_every": checkpoint_every}
        options["resume"] = resume if resume is not None else False

    def train() -> Any:
        return fit(
            model,
            experiment.X_train,
            experiment.Y_train,
            loss="ce",
            optimizer=make_optimizer(config),
            epochs=int(config["epochs"]),
            batch_size=int(config["batch_size"]),
            rng=rng_for(int(config["seed"]), "shuffle"),
            clip_norm=config.get("clip_norm"),
            callbacks=callbacks,
            verbose=0,  # the progress bar is one of the callbacks, after the validation
            **{**options, **dict(fit_options or {})},
        )

    return train_then_finish(
        run_dir,
        train,
        partial(finish_language_run, experiment, run_dir=run_dir),
        before=0.0 if resume is None else seconds_before(resume),
        plots=plots,
        log=log,
    )


def _schedule_text(config: Mapping[str, Any]) -> str:
    name = config.get("lr_schedule", "constant")
    if name == "warmup_cosine":
        return (
            f"warm-up over {config['warmup_steps']} steps, then cosine to "
            f"{100 * float(config['min_lr_ratio']):g} %"
        )
    return "cosine to 0, per step" if name == "cosine" else str(name)


def language_metrics(
    experiment: LanguageExperiment,
    history: Any,
    train_seconds: float,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``metrics.json`` holds for a language model: losses in nats per character."""
    data, model, config = experiment.data, experiment.model, experiment.config
    tokenizer = data.tokenizer
    scores: dict[str, Any] = {}
    for part, names in (("val", data.val), ("test", data.test)):
        known, skipped = tokenizer.known(names)
        loss, characters = name_loss(model, known, tokenizer) if known else (None, 0)
        scores[f"{part}_loss"] = loss
        scores[f"{part}_characters"] = characters
        scores[f"{part}_names_skipped"] = skipped  # characters the training names never had
    stopped = (status or {}).get("stopped_at") or {}
    steps = len(history) * experiment.steps_per_epoch + int(stopped.get("batch") or 0)
    last = history.records[-1] if len(history) else {}
    test = scores["test_loss"]
    return {
        **(status or {"status": "complete"}),
        "dataset": data.name,
        "model": experiment.spec.name,
        "architecture": describe_language_model(model),
        "loss_unit": "nats per character",
        "val_loss": scores["val_loss"],
        "test_loss": test,
        "test_bits_per_character": None if test is None else test / math.log(2),
        "uniform_loss": uniform_loss(tokenizer),
        "train_loss": last.get("loss"),  # over the training layout's examples, last epoch
        "train_seconds": train_seconds,  # the whole session: steps, validation, checkpoints
        "seconds_per_step": _seconds_per_step(history, experiment.steps_per_epoch),
        "epochs": len(history),
        "steps": steps,
        "steps_per_epoch": experiment.steps_per_epoch,
        "batch_size": int(config["batch_size"]),
        "layout": experiment.spec.layout,
        "parameters": model.num_parameters,
        "vocab_size": tokenizer.vocab_size,
        "n_train": len(data.train),
        "n_val": len(data.val),
        "n_test": len(data.test),
        **{k: v for k, v in scores.items() if k not in ("val_loss", "test_loss")},
    }


def _seconds_per_step(history: Any, steps_per_epoch: int) -> float | None:
    """The mean time of a training step alone: the History's ``seconds`` over its steps."""
    if not len(history):
        return None
    return float(sum(history["seconds"])) / (len(history) * steps_per_epoch)


def language_summary_rows(
    metrics: Mapping[str, Any], config: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The rows of the final summary table and of the results panel of ``curves.png``."""
    per_step = metrics.get("seconds_per_step")
    test = metrics.get("test_loss")
    return [
        ("dataset", f"{metrics['dataset']} ({metrics['vocab_size']} tokens)"),
        ("model", f"{metrics['model']} {metrics['architecture']}"),
        ("parameters", f"{metrics['parameters']:,}"),
        (
            "train / val / test names",
            f"{metrics['n_train']:,} / {metrics['n_val']:,} / {metrics['n_test']:,}",
        ),
        (
            "epochs × steps × batch",
            f"{metrics['epochs']} × {metrics['steps_per_epoch']:,} × {metrics['batch_size']}",
        ),
        ("optimizer", f"{config['optimizer']}, lr {config['lr']:g} ({config['lr_schedule']})"),
        ("validation loss", f"{format_number(metrics.get('val_loss'))} nats/char"),
        (
            "test loss",
            f"{format_number(test)} nats/char"
            + (f" ({metrics['test_bits_per_character']:.3f} bits)" if test is not None else ""),
        ),
        ("uniform (ln V)", f"{metrics['uniform_loss']:.4f} nats/char"),
        (
            "training time",
            f"{metrics['train_seconds']:.1f} s"
            + (f" ({1000 * per_step:.1f} ms/step)" if per_step else ""),
        ),
    ]


def _figure_rows(rows: list[tuple[str, str]], metrics: Mapping[str, Any]) -> dict[str, str]:
    """The summary rows, with the model by name only: its architecture is the title."""
    return {k: (str(metrics["model"]) if k == "model" else v) for k, v in rows}


def finish_language_run(
    experiment: LanguageExperiment,
    history: Any,
    train_seconds: float,
    run_dir: Path,
    *,
    plots: bool = True,
    log: Callable[[str], None] = print,
    status: Mapping[str, Any] | None = None,
) -> RunResult:
    """Score the model on whole names, write the run folder's results, print the summary."""
    metrics = language_metrics(experiment, history, train_seconds, status)
    data, model, config = experiment.data, experiment.model, experiment.config
    model.save(run_dir / "model.npz")  # the model first: it is what a full disk must not cost
    files = [run_dir / "config.json"]
    files.append(write_csv(run_dir / "history.csv", history))
    files.append(write_json(run_dir / "metrics.json", metrics))
    files.append(run_dir / "model.npz")
    if (run_dir / CHECKPOINT_FILE).exists():
        files.append(run_dir / CHECKPOINT_FILE)
    samples = sample_names(model, data.tokenizer, SAMPLES, rng_for(int(config["seed"]), "sample"))
    atomic_write_bytes(run_dir / "samples.txt", ("\n".join(samples) + "\n").encode("utf-8"))
    files.append(run_dir / "samples.txt")
    rows = language_summary_rows(metrics, config)
    if plots:
        title = f"{data.name}: {metrics['model']} {metrics['architecture']}"
        files += write_language_plots(
            run_dir,
            model,
            data.tokenizer,
            history,
            _figure_rows(rows, metrics),
            title,
            data.test,
            metrics,
        )
    log("")
    log(summary_table(rows, title=f"results: {run_dir}"))
    log("samples: " + ", ".join(samples[:10]) + ", ...")
    log("files: " + ", ".join(p.name for p in files))
    return RunResult(run_dir, model, history, metrics, data, files)
