"""An experiment's configuration: defaults, checks, and the objects it names.

:func:`~scratchnn.experiments.resolve_config` turns the options a user gave into the
complete configuration dict that a run saves as ``config.json``;
:func:`~scratchnn.experiments.make_optimizer`, :func:`~scratchnn.experiments.make_schedule`
and :func:`~scratchnn.experiments.loss_and_outputs` turn its names into the optimizer, the
learning-rate schedule and the loss (with the number of model outputs it needs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import losses as losses_mod
from .. import optimizers as optimizers_mod
from .. import schedules as schedules_mod
from ..errors import InputError
from .data import DATASETS, Data
from .registry import MODELS

__all__ = ["DEFAULTS", "loss_and_outputs", "make_optimizer", "make_schedule", "resolve_config"]

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


def loss_and_outputs(config: Mapping[str, Any], data: Data) -> tuple[str, int]:
    """The loss name for ``data`` and the number of outputs the model needs with it.

    The config's ``loss`` (else ``"mse"`` for regression, ``"ce"`` for classes), checked
    against the task: MSE for regression (1 output), cross-entropy for classes (one output
    per class) or binary cross-entropy for two classes (1 output, a logit).
    """
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
    """The optimizer of a config: ``optimizer`` by name, with ``lr`` and ``weight_decay``."""
    kwargs: dict[str, Any] = {"lr": config["lr"]}
    if config.get("weight_decay"):
        kwargs["weight_decay"] = config["weight_decay"]
    return optimizers_mod.get(config["optimizer"], **kwargs)
