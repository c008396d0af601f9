"""Experiments: named datasets, a model registry and run folders, shared by every command.

An experiment is one call of :func:`run_training` with a plain configuration dict (what
``scratchnn train`` builds from its options and saves as ``config.json``)::

    config = resolve_config({"dataset": "circle"})   # fills in the dataset's defaults
    result = run_training(config, out_dir="runs/circle")

It loads the data (:func:`load_dataset`), fits the feature scaling on the training split only
(:func:`fit_preprocess`), builds the model from the registry (:data:`MODELS`), trains it with
:func:`scratchnn.training.fit`, evaluates it on the test split and writes the run folder:

============================  ===========================================================
``config.json``               the resolved configuration: rerun it with the same numbers
``checkpoint.npz``            everything needed to continue the run exactly (``--resume``)
``history.csv``               epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds
``metrics.json``              test_accuracy, test_loss, train_seconds, epochs, parameters, ...
``model.npz``                 :meth:`Sequential.save`, with the scaling, classes and feature
                              names in its ``metadata`` (so ``evaluate``/``predict`` apply the
                              same transform)
``curves.png`` and others     see :func:`~scratchnn.experiments.plots.write_plots`
============================  ===========================================================

Extension points for other commands
-----------------------------------
- **Another model** (``--model cnn``): ``register_model(ModelSpec("cnn", build,
  input_layout="image", add_arguments=...))``. ``build(request)`` receives a
  :class:`ModelRequest` (input shape of one example, number of outputs, the resolved config,
  an RNG and the dtype) and returns a :class:`~scratchnn.model.Sequential`. With
  ``input_layout="image"`` the model receives MNIST as float32 tensors ``(N, 1, 28, 28)``.
- **Another command** (``scratchnn vae``): :func:`load_dataset` gives raw train/val/test arrays,
  :func:`fit_preprocess`/:func:`apply_preprocess` scale them, :func:`make_run_dir` creates
  the run folder, :func:`scratchnn.io.atomic.write_json` and
  :func:`~scratchnn.io.atomic.write_csv` (the package's one JSON and one CSV writer) write it
  and :func:`summary_table` reports.
- **Callbacks and extra fit options**: :func:`run_training` passes ``callbacks`` and
  ``fit_options`` straight to :func:`~scratchnn.training.fit`, writes ``config.json`` before
  training starts, and exposes each step (:func:`prepare_experiment`, :func:`finish_run`);
  ``config["lr_schedule"]`` and :func:`make_schedule` give the learning-rate schedule, which
  depends on ``epochs``.
- **A language model** (``--dataset names --model gpt``): a text dataset resolves with its
  own defaults (:data:`TEXT_DEFAULTS`, then the :class:`LanguageModelSpec`'s) and
  :func:`run_training` hands it to :func:`run_language_training`, which writes the same run
  folder plus ``samples.txt`` (and ``attention.png`` for a GPT), with ``val_loss`` and
  ``test_loss`` in nats per character over whole names (:func:`name_loss`). Register
  another with ``register_language_model(LanguageModelSpec("name", build, layout=...))``.
- **Checkpoints and resume**: :func:`run_training` has ``fit`` keep ``checkpoint.npz`` in the
  run folder (every epoch by default); :func:`resume_training` (``scratchnn train --resume
  DIR``) reads ``config.json`` and the checkpoint (:func:`open_run`) and makes the same
  ``fit`` call with ``resume=``, so the continued run is bit-identical to a straight one. An
  interrupted run keeps its results so far, with ``"status": "interrupted"`` in
  ``metrics.json``.

Modules, in reading order (each imports only the ones above it):

1. :mod:`~scratchnn.experiments.data`: datasets by name, split train/validation/test;
2. :mod:`~scratchnn.experiments.transform`: the scaling saved with a model, and what its
   outputs mean;
3. :mod:`~scratchnn.experiments.registry`: the models behind ``--model``;
4. :mod:`~scratchnn.experiments.config`: defaults, :func:`resolve_config`, the optimizer,
   schedule and loss a configuration names;
5. :mod:`~scratchnn.experiments.run_dir`: creating a run folder, reopening one to resume;
6. :mod:`~scratchnn.experiments.experiment`: :func:`prepare_experiment`, data and model
   ready to train;
7. :mod:`~scratchnn.experiments.results`: ``metrics.json`` and the summary table;
8. :mod:`~scratchnn.experiments.plots`: the figures of a run;
9. :mod:`~scratchnn.experiments.session`: one ``fit`` in a run folder, and what a stop
   (Ctrl-C, divergence, a full disk) leaves behind;
10. :mod:`~scratchnn.experiments.text`: the names for the language models, split by name,
    laid out per model, and :func:`name_loss`, their score over whole names;
11. :mod:`~scratchnn.experiments.language`: :func:`run_language_training`, a language
    model's run folder;
12. :mod:`~scratchnn.experiments.driver`: :func:`run_training`, :func:`resume_training`,
    :func:`finish_run`.

Random streams: one ``seed`` drives everything, split into independent streams by purpose
(:func:`rng_for`): generating the data (a language model's training windows), splitting it,
initialising the weights, shuffling batches, drawing a fresh evaluation sample that
training never saw, and sampling from a language model.
"""

from __future__ import annotations

from ..io.atomic import json_ready, write_csv, write_json
from .config import (
    DEFAULTS,
    STEP_SCHEDULES,
    TEXT_DEFAULTS,
    is_text_config,
    loss_and_outputs,
    make_optimizer,
    make_schedule,
    make_step_schedule,
    resolve_config,
)
from .data import DATASETS, Data, DatasetInfo, load_dataset, load_evaluation_data, rng_for
from .driver import finish_run, resume_training, run_training
from .experiment import Experiment, prepare_experiment
from .language import (
    LanguageExperiment,
    finish_language_run,
    prepare_language_experiment,
    run_language_training,
)
from .plots import write_language_plots, write_plots
from .registry import (
    LANGUAGE_MODELS,
    MODELS,
    LanguageModelRequest,
    LanguageModelSpec,
    ModelRequest,
    ModelSpec,
    describe_language_model,
    describe_model,
    register_language_model,
    register_model,
)
from .results import format_number, format_percent, run_metrics, summary_rows, summary_table
from .run_dir import RUN_FILES, make_run_dir, open_run, read_run_config, release_run_dir
from .session import RunResult
from .text import TextData, load_text_data, name_loss, sample_names, training_arrays
from .transform import (
    apply_preprocess,
    check_model_metadata,
    fit_preprocess,
    outputs_to_labels,
    outputs_to_probabilities,
    predict_outputs,
)

#: The name of :func:`scratchnn.io.atomic.write_csv` before there was one CSV writer.
write_history = write_csv

__all__ = [
    "DATASETS",
    "DEFAULTS",
    "LANGUAGE_MODELS",
    "MODELS",
    "RUN_FILES",
    "STEP_SCHEDULES",
    "TEXT_DEFAULTS",
    "Data",
    "DatasetInfo",
    "Experiment",
    "LanguageExperiment",
    "LanguageModelRequest",
    "LanguageModelSpec",
    "ModelRequest",
    "ModelSpec",
    "RunResult",
    "TextData",
    "apply_preprocess",
    "check_model_metadata",
    "describe_language_model",
    "describe_model",
    "finish_language_run",
    "finish_run",
    "fit_preprocess",
    "format_number",
    "format_percent",
    "is_text_config",
    "json_ready",
    "load_dataset",
    "load_evaluation_data",
    "load_text_data",
    "loss_and_outputs",
    "make_optimizer",
    "make_run_dir",
    "make_schedule",
    "make_step_schedule",
    "name_loss",
    "open_run",
    "outputs_to_labels",
    "outputs_to_probabilities",
    "predict_outputs",
    "prepare_experiment",
    "prepare_language_experiment",
    "read_run_config",
    "register_language_model",
    "register_model",
    "release_run_dir",
    "resolve_config",
    "resume_training",
    "rng_for",
    "run_language_training",
    "run_metrics",
    "run_training",
    "sample_names",
    "summary_rows",
    "summary_table",
    "training_arrays",
    "write_history",
    "write_json",
    "write_language_plots",
    "write_plots",
]
