"""One experiment set up: data loaded and scaled, the model built, nothing trained yet.

:func:`~scratchnn.experiments.prepare_experiment` is the first step of every training
command (``train``, ``compare``): it turns a resolved configuration into an
:class:`~scratchnn.experiments.Experiment`, which the later steps (training, evaluating,
writing the run folder, drawing the plots) read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import __version__
from ..model import Sequential
from .config import loss_and_outputs
from .data import Data, load_dataset, rng_for
from .registry import MODELS, ModelRequest, ModelSpec
from .transform import apply_preprocess, fit_preprocess

__all__ = ["Experiment", "prepare_experiment"]


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
    loss, outputs = loss_and_outputs(config, data)
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
