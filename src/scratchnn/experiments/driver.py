"""Running an experiment: train it into its run folder, resume it, write its results.

:func:`~scratchnn.experiments.run_training` is what ``scratchnn train`` runs:
:func:`~scratchnn.experiments.prepare_experiment`, ``config.json`` in a new run folder
(:func:`~scratchnn.experiments.make_run_dir`), :func:`scratchnn.training.fit` with a
checkpoint kept in the folder, then :func:`~scratchnn.experiments.finish_run`, which
evaluates the model and writes ``history.csv``, ``metrics.json``, ``model.npz`` and the
plots (:func:`~scratchnn.experiments.write_plots`).
:func:`~scratchnn.experiments.resume_training` continues a run from its checkpoint with the
same ``fit`` call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import InputError
from ..io.atomic import write_csv, write_json
from ..training import fit
from ..training.checkpoint import CHECKPOINT_FILE, Checkpoint, data_fingerprint
from .config import is_text_config, make_optimizer, make_schedule
from .data import rng_for
from .experiment import Experiment, prepare_experiment
from .language import run_language_training
from .plots import write_plots
from .registry import describe_model
from .results import run_metrics, summary_rows, summary_table
from .run_dir import lock_run_dir, make_run_dir, no_larger_than, open_run, remove_stale_files
from .session import RunResult, WriteOnTrainBegin, seconds_before, train_then_finish

__all__ = ["RunResult", "finish_run", "resume_training", "run_training"]


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
    if is_text_config(config):
        return run_language_training(
            config,
            out_dir,
            overwrite=overwrite,
            callbacks=callbacks,
            fit_options=fit_options,
            verbose=verbose,
            plots=plots,
            log=log,
            checkpoint_every=checkpoint_every,
            resume=resume,
        )
    config = dict(config)
    with no_larger_than(resume):
        experiment = prepare_experiment(config)
    config = experiment.config
    _check_test_data(experiment, resume)
    saved_config = {**config, "scratchnn_version": __version__}
    callbacks = list(callbacks)
    if resume is None:
        run_dir = make_run_dir(out_dir, f"{experiment.data.name}-{config['model']}", overwrite)
        write_json(run_dir / "config.json", saved_config)
    else:
        # config.json changes (epochs, data_dir) only once fit has accepted the resumption
        run_dir = resume.directory
        lock_run_dir(run_dir)  # released by train_then_finish, however the run ends
        remove_stale_files(run_dir)
        checkpoint_every = checkpoint_every or resume.settings.get("checkpoint_every", 1)
        callbacks.append(WriteOnTrainBegin(run_dir / "config.json", saved_config))
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

    def train() -> Any:
        return fit(
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

    return train_then_finish(
        run_dir,
        train,
        partial(finish_run, experiment, run_dir=run_dir),
        before=0.0 if resume is None else seconds_before(resume),
        plots=plots,
        log=log,
    )


def _check_test_data(experiment: Experiment, resume: Checkpoint | None) -> None:
    """Fingerprint the data into the model's metadata; on resume, they must be the run's.

    ``fit`` refuses other training data, but the test split is scored only at the end, so a
    changed test set (other MNIST test files) would silently give other metrics. Both are
    compared here, the training data first, before anything trains.
    """
    data = experiment.data
    splits = {
        "training": (data.X_train, data.y_train, data.X_val, data.y_val),
        "test": (data.X_test, data.y_test),
    }
    prints = {
        name: data_fingerprint(*(None if a is None else np.asarray(a) for a in arrays))
        for name, arrays in splits.items()
    }
    experiment.model.metadata["data_fingerprints"] = prints
    saved = None if resume is None else resume.model.metadata.get("data_fingerprints")
    if not isinstance(saved, dict):
        return  # a run saved before fingerprints: fit still checks the training data
    for name, fingerprint in prints.items():
        if saved.get(name, fingerprint) != fingerprint:
            raise InputError(
                f"{resume.path}: the {name} data differ from the run's ({data.source}); pass "
                "the data the run was trained on (--data-dir, --dataset), or start a new run"
            )


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
    metrics = run_metrics(experiment, history, train_seconds, status)
    data, model, config = experiment.data, experiment.model, experiment.config
    # the model first: it is what a full disk must not cost
    model.save(run_dir / "model.npz")
    files = [run_dir / "config.json"]
    files.append(write_csv(run_dir / "history.csv", history))
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
