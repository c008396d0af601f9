"""An experiment's configuration: defaults, checks, and the objects it names.

:func:`~scratchnn.experiments.resolve_config` turns the options a user gave into the
complete configuration dict that a run saves as ``config.json``;
:func:`~scratchnn.experiments.make_optimizer`, :func:`~scratchnn.experiments.make_schedule`
and :func:`~scratchnn.experiments.loss_and_outputs` turn its names into the optimizer, the
learning-rate schedule and the loss (with the number of model outputs it needs).

A text dataset (``--dataset names``) has a configuration of its own: :data:`TEXT_DEFAULTS`,
then the language model's defaults (:attr:`LanguageModelSpec.defaults`), then the options;
an option the model does not read is refused rather than silently ignored, and its
learning-rate schedule is applied per step (:func:`make_step_schedule`).
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
from .registry import LANGUAGE_MODELS, MODELS

__all__ = [
    "DEFAULTS",
    "STEP_SCHEDULES",
    "TEXT_DEFAULTS",
    "is_text_config",
    "loss_and_outputs",
    "make_optimizer",
    "make_schedule",
    "make_step_schedule",
    "resolve_config",
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


#: The settings of every language model, before the model's own defaults and the options.
TEXT_DEFAULTS: dict[str, Any] = {
    "model": "gpt",
    "optimizer": "adam",
    "lr": 3e-3,
    "lr_schedule": "warmup_cosine",
    "warmup_steps": 100,  # of warmup_cosine
    "min_lr_ratio": 0.1,  # warmup_cosine ends at this fraction of lr
    "weight_decay": 0.0,
    "clip_norm": None,
    "epochs": 6,
    "batch_size": 32,
    "seed": 0,
    "dtype": "float32",
    "val_split": 0.1,
    "test_split": 0.1,
    "split_seed": 0,  # the split by name is fixed: every run is scored on the same names
    "data_dir": None,
}

#: The learning-rate schedules of a language model, applied per step.
STEP_SCHEDULES = ("constant", "cosine", "warmup_cosine")


#: Whole-number settings and their largest accepted value: a config.json edited by hand (or
#: tampered with) is checked as strictly as the command line, and never makes ``n`` 10^12.
INT_LIMITS: dict[str, int] = {
    "epochs": 10**7,
    "batch_size": 10**7,
    "seed": 2**63 - 1,
    "split_seed": 2**63 - 1,
    "n": 10**7,
    "hidden": 1 << 20,
    "channels": 1 << 16,
    "kernel_size": 1 << 10,
    "block_size": 1 << 16,
    "embed_dim": 1 << 16,
    "num_heads": 1 << 10,
    "num_layers": 1 << 10,
    "steps_per_epoch": 10**9,
    "warmup_steps": 10**9,
}
#: Settings that are numbers (finite; ranges are checked where they are used).
NUMBERS = ("lr", "weight_decay", "dropout", "val_split", "test_split", "min_lr_ratio", "clip_norm")
#: Settings that are names or paths.
STRINGS = ("model", "activation", "loss", "optimizer", "lr_schedule", "dtype", "dataset")
STRINGS += ("data_dir", "target", "task")


def check_values(config: Mapping[str, Any]) -> None:
    """Refuse a setting of the wrong type or out of range, naming it (one line).

    Every value is a JSON scalar or a flat list of them; whole numbers are integers (not
    ``"abc"``, ``2.5`` or ``true``) within :data:`INT_LIMITS`; numbers are finite.
    """
    for key, value in config.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in items):
            raise InputError(
                f"{key} must be a number, a name or a list of numbers, got {_short(value)}"
            )
        if key in INT_LIMITS and value is not None:
            top = INT_LIMITS[key]
            if not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top for v in items
            ):
                raise InputError(
                    f"{key} must be {'whole numbers' if items is value else 'a whole number'} "
                    f"from 0 to {top:,}, got {_short(value)}"
                )
        elif key in NUMBERS and value is not None:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise InputError(f"{key} must be a finite number, got {_short(value)}")
        elif key in STRINGS and value is not None and not isinstance(value, str):
            raise InputError(f"{key} must be a name, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_text_config(config: Mapping[str, Any]) -> bool:
    """Whether a configuration trains a language model (its dataset is text, e.g. names)."""
    info = DATASETS.get(str(config.get("dataset", "")).lower())
    return info is not None and info.kind == "text"


def resolve_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in defaults: :data:`DEFAULTS`, the dataset's own, the model's
    (:attr:`ModelSpec.defaults`), then ``options`` (non-None).

    Also chooses the loss from the task (``"ce"`` or ``"mse"``) if not given and checks the
    values that would otherwise fail late (after a long data load). A text dataset resolves
    with :data:`TEXT_DEFAULTS` and the language model's defaults instead.
    """
    if not options.get("dataset"):
        raise InputError("no dataset given; pass --dataset NAME or --dataset PATH.csv")
    key = str(options["dataset"]).lower()
    info = DATASETS.get(key)
    if info is not None and info.kind == "text":
        return _resolve_text(options, key)
    config = dict(DEFAULTS)
    if info is not None:
        config.update(info.defaults)
    model = options.get("model") or config["model"]
    if model not in MODELS and model in LANGUAGE_MODELS:
        text = ", ".join(n for n, d in DATASETS.items() if d.kind == "text")
        raise InputError(
            f"--model {model} is a language model, for text (--dataset {text}); for "
            f"{options['dataset']} choose --model {' or '.join(MODELS)}"
        )
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    feature_keys = set(DEFAULTS) | {k for spec in MODELS.values() for k in spec.options}
    text_keys = set(TEXT_DEFAULTS) | {k for s in LANGUAGE_MODELS.values() for k in s.options}
    stray = sorted(k for k in text_keys - feature_keys if options.get(k) is not None)
    if stray:
        flags = ", ".join("--" + k.replace("_", "-") for k in stray)
        raise InputError(
            f"{flags} {'is an option' if len(stray) == 1 else 'are options'} of the language "
            f"models (--dataset names), not of --model {model} on {options['dataset']}; drop "
            f"{'it' if len(stray) == 1 else 'them'}"
        )
    config.update(MODELS[model].defaults)
    config.update({k: v for k, v in options.items() if v is not None})
    config["dataset"] = key if info is not None else str(options["dataset"])
    check_values(config)
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
    check_values(config)
    optimizers_mod.get(config["optimizer"], lr=config["lr"])
    make_schedule(config)
    _check_clip_norm(config.get("clip_norm"))
    return config


def _resolve_text(options: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The configuration of a language model on a text dataset (see the module docstring)."""
    info = DATASETS[dataset]
    model = options.get("model") or info.defaults.get("model") or TEXT_DEFAULTS["model"]
    if model not in LANGUAGE_MODELS:
        raise InputError(
            f"--model {model} is not a language model; for --dataset {dataset} choose one of "
            f"{', '.join(LANGUAGE_MODELS)}"
        )
    spec = LANGUAGE_MODELS[model]
    config = {**TEXT_DEFAULTS, **info.defaults, **spec.defaults}
    given = {k: v for k, v in options.items() if v is not None and k != "dataset"}
    extra = sorted(set(given) - set(config) - set(spec.options))
    if extra:
        flags = ", ".join("--" + k.replace("_", "-") for k in extra)
        own = ", ".join("--" + k.replace("_", "-") for k in spec.options) or "none"
        raise InputError(
            f"{flags} {'does' if len(extra) == 1 else 'do'} not apply to --model {spec.name} "
            f"on --dataset {dataset} (its own options: {own}); drop "
            f"{'it' if len(extra) == 1 else 'them'}"
        )
    config.update(given)
    config["dataset"], config["model"] = dataset, spec.name
    check_values(config)
    hidden = config.get("hidden")
    if isinstance(hidden, (list, tuple)):
        if len(hidden) != 1:
            raise InputError(
                f"--model {spec.name} has one hidden size; pass one number such as --hidden "
                f"128, not {','.join(map(str, hidden)) or 'none'}"
            )
        config["hidden"] = int(hidden[0])
    np_dtype = np.dtype(config["dtype"])
    if np_dtype.kind != "f":
        raise InputError(f"dtype must be float32 or float64, got {config['dtype']!r}")
    config["dtype"] = np_dtype.name
    val, test = float(config["val_split"]), float(config["test_split"])
    if not 0 < test < 1 or not 0 <= val < 1 or val + test >= 1:
        raise InputError(
            f"--val-split {val:g} and --test-split {test:g} must leave names to train and to "
            "test on: 0 <= val, 0 < test, val + test < 1"
        )
    optimizers_mod.get(config["optimizer"], lr=config["lr"])
    if config["lr_schedule"] not in STEP_SCHEDULES:
        raise InputError(
            f"unknown lr_schedule {config['lr_schedule']!r} for a language model; choose one "
            f"of {', '.join(STEP_SCHEDULES)}"
        )
    if "steps_per_epoch" in config:  # the run's length is known before the data: check now
        make_step_schedule(config, int(config["epochs"]) * int(config["steps_per_epoch"]))
    _check_clip_norm(config.get("clip_norm"))
    return config


def make_step_schedule(config: Mapping[str, Any], total_steps: int) -> schedules_mod.Schedule:
    """A language model's schedule, a function of the step over a run of ``total_steps``.

    ``"constant"``; ``"cosine"``, from ``lr`` to 0; ``"warmup_cosine"``, a linear warm-up over
    ``warmup_steps`` then half a cosine down to ``min_lr_ratio · lr``
    (:class:`~scratchnn.schedules.WarmupCosineLR`).
    """
    name = config.get("lr_schedule") or "constant"
    if name == "warmup_cosine":
        return schedules_mod.WarmupCosineLR(
            int(config["warmup_steps"]), int(total_steps), float(config["min_lr_ratio"])
        )
    if name == "cosine":
        return schedules_mod.CosineAnnealingLR(T_max=int(total_steps))
    if name == "constant":
        return schedules_mod.ConstantLR()
    raise InputError(f"unknown lr_schedule {name!r}; choose one of {', '.join(STEP_SCHEDULES)}")


def _check_clip_norm(clip: Any) -> None:
    if clip is not None and (
        isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip < math.inf
    ):
        raise InputError(f"clip_norm must be a positive number or null, got {clip!r}")


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
    if name == "warmup_cosine":
        raise InputError(
            "lr_schedule warmup_cosine is applied per step, for the language models "
            "(--dataset names); choose constant or cosine"
        )
    raise InputError(f"unknown lr_schedule {name!r}; choose constant or cosine")


def make_optimizer(config: Mapping[str, Any]) -> optimizers_mod.Optimizer:
    """The optimizer of a config: ``optimizer`` by name, with ``lr`` and ``weight_decay``."""
    kwargs: dict[str, Any] = {"lr": config["lr"]}
    if config.get("weight_decay"):
        kwargs["weight_decay"] = config["weight_decay"]
    return optimizers_mod.get(config["optimizer"], **kwargs)
