"""The model registries behind ``--model``: a name, a builder and the data layout it wants.

Two registries, one per kind of data, because one name can mean a model of each kind
(``--model mlp`` is a classifier of feature rows, and on ``--dataset names`` the MLP
language model of Bengio et al.):

- :data:`MODELS`, for features and images: ``mlp`` (rows of features) and ``cnn`` (images,
  the LeNet-like :func:`scratchnn.models.cnn`);
- :data:`LANGUAGE_MODELS`, for text (``--dataset names``): ``bigram``, ``mlp``, ``rnn``,
  ``lstm`` and ``gpt``, the models of :mod:`scratchnn.models.lm`, each with the layout of
  its training data (:mod:`scratchnn.experiments.text`) and training defaults that suit it.

Register another architecture with :func:`register_model` (or
:func:`register_language_model`); ``scratchnn train --model NAME`` and ``scratchnn
compare`` then build it from a :class:`ModelRequest`::

    def build_wide(request):          # request.input_shape == (1, 28, 28) for MNIST images
        ...
        return Sequential(...)

    register_model(ModelSpec("wide", build_wide, input_layout="image",
                             description="my convolutional network",
                             defaults={"epochs": 5, "lr": 1e-3}))

A spec's ``defaults`` apply after the dataset's and before the user's options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..layers import Dense
from ..model import Sequential
from ..models import cnn, mlp
from ..models.lm import GPT, LSTMLM, MLPLM, RNNLM, BigramLM, LanguageModel
from ..registry import Registry

__all__ = [
    "LANGUAGE_MODELS",
    "LAYOUTS",
    "MODELS",
    "LanguageModelRequest",
    "LanguageModelSpec",
    "ModelRequest",
    "ModelSpec",
    "describe_language_model",
    "describe_model",
    "register_language_model",
    "register_model",
]


# -- models -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRequest:
    """What a model builder gets: shapes, the resolved config, an RNG and the dtype."""

    input_shape: tuple[int, ...]  # one example: (D,) for "flat", (C, H, W) for "image"
    num_outputs: int
    config: Mapping[str, Any]
    rng: np.random.Generator
    dtype: np.dtype


@dataclass(frozen=True)
class ModelSpec:
    """A named model for ``--model``: a builder and the input layout it wants."""

    name: str
    build: Callable[[ModelRequest], Sequential]
    input_layout: str = "flat"
    description: str = ""
    #: adds this model's options to an argparse group (the command line calls it; the
    #: built-in models' options are defined in :mod:`scratchnn.cli._common`)
    add_arguments: Callable[[Any], None] | None = None
    #: config keys this model reads besides the common ones (for config.json and --help)
    options: tuple[str, ...] = ()
    #: training settings that suit this model, applied over the dataset's defaults
    defaults: Mapping[str, Any] = field(default_factory=dict)


#: Models by name; :func:`register_model` adds one.
MODELS = Registry("model")


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a model to :data:`MODELS` (``--model NAME``); returns the spec."""
    if spec.input_layout not in ("flat", "image"):
        raise InputError(f"input_layout must be 'flat' or 'image', got {spec.input_layout!r}")
    MODELS.register(spec, name=spec.name)
    return spec


def _build_mlp(request: ModelRequest) -> Sequential:
    (inputs,) = request.input_shape
    hidden = tuple(request.config.get("hidden") or ())
    return mlp(
        [inputs, *hidden, request.num_outputs],
        activation=request.config.get("activation", "relu"),
        dropout=float(request.config.get("dropout") or 0.0),
        rng=request.rng,
        dtype=request.dtype,
    )


register_model(
    ModelSpec(
        "mlp",
        _build_mlp,
        description="fully connected: --hidden sizes, --activation, --dropout",
        options=("hidden", "activation", "dropout"),
    )
)


def _build_cnn(request: ModelRequest) -> Sequential:
    if len(request.input_shape) != 3:
        raise InputError(
            f"--model cnn needs images, but the inputs have shape {request.input_shape}; "
            "use --model mlp for rows of features"
        )
    hidden = list(request.config.get("hidden") or ())
    if len(hidden) != 1:
        raise InputError(
            f"--model cnn has one fully connected hidden layer; pass one size such as "
            f"--hidden 128, not {','.join(map(str, hidden)) or 'none'}"
        )
    channels = [int(c) for c in request.config.get("channels") or ()]
    if not channels:
        raise InputError("--channels needs at least one convolution, e.g. --channels 16,32")
    try:
        return cnn(
            request.input_shape,
            request.num_outputs,
            channels=channels,
            kernel_size=int(request.config.get("kernel_size", 5)),
            hidden=hidden[0],
            batchnorm=bool(request.config.get("batchnorm", False)),
            dropout=float(request.config.get("dropout") or 0.0),
            rng=request.rng,
            dtype=request.dtype,
        )
    except ValueError as exc:  # e.g. more poolings than the image has pixels
        raise InputError(f"--model cnn cannot be built for {request.input_shape}: {exc}") from None


register_model(
    ModelSpec(
        "cnn",
        _build_cnn,
        input_layout="image",
        description="LeNet-like convolutional network for images: --channels, --kernel-size, "
        "--hidden (one size), --batchnorm, --dropout",
        options=("channels", "kernel_size", "batchnorm"),
        defaults={
            "hidden": [128],
            "channels": [16, 32],
            "kernel_size": 5,
            "batchnorm": False,
            # measured: >= 99.0 % MNIST test accuracy in 3 epochs (README)
            "optimizer": "adam",
            "lr": 2e-3,
            "lr_schedule": "cosine",
            "batch_size": 64,
            "epochs": 3,
        },
    )
)


def describe_model(model: Sequential) -> str:
    """A short description such as ``"2-16-16-2 relu"`` (or the layer classes otherwise)."""
    dense = [layer for layer in model if isinstance(layer, Dense)]
    if dense and all(type(layer).__name__ in _SIMPLE_LAYERS for layer in model):
        sizes = [dense[0].in_features] + [layer.out_features for layer in dense]
        acts = sorted(
            {type(layer).__name__.lower() for layer in model if type(layer).__name__ in _ACT_NAMES}
        )
        return "-".join(map(str, sizes)) + (f" {'/'.join(acts)}" if acts else "")
    if any(type(layer).__name__ == "Conv2D" for layer in model):
        return _describe_cnn(model)
    return " → ".join(type(layer).__name__ for layer in model)


def _describe_cnn(model: Sequential) -> str:
    """``"conv5x5:16-pool2-conv5x5:32-pool2-128-10 relu"``: convolutions (kernel: filters),
    poolings (size), Dense widths, then the activations (``+bn`` with BatchNorm)."""
    parts: list[str] = []
    for layer in model:
        name = type(layer).__name__
        if name == "Conv2D":
            kh, kw = layer.kernel_size
            parts.append(f"conv{kh}x{kw}:{layer.out_channels}")
        elif name in ("MaxPool2D", "AvgPool2D"):
            kind = "pool" if name == "MaxPool2D" else "avgpool"
            parts.append(f"{kind}{layer.kernel_size[0]}")
        elif name == "GlobalAvgPool2D":
            parts.append("gap")
        elif name == "Dense":
            parts.append(str(layer.out_features))
    acts = sorted(
        {type(layer).__name__.lower() for layer in model} & {a.lower() for a in _ACT_NAMES}
    )
    if any(type(layer).__name__.startswith("BatchNorm") for layer in model):
        acts.append("+bn")
    return "-".join(parts) + (f" {' '.join(acts)}" if acts else "")


_ACT_NAMES = {"ReLU", "LeakyReLU", "Tanh", "Sigmoid"}
_SIMPLE_LAYERS = _ACT_NAMES | {"Dense", "Dropout", "Identity"}


# -- language models ----------------------------------------------------------------------
#: How a language model's training data are laid out (:func:`~scratchnn.experiments.text.training_arrays`).
LAYOUTS = {
    "stream": "random windows of block_size characters of the names joined by '.', and the "
    "character after each position",
    "windows": "every (block_size characters -> next character) pair of every name",
    "pairs": "every pair of consecutive characters of every name, boundaries included",
}


@dataclass(frozen=True)
class LanguageModelRequest:
    """What a language model builder gets: the vocabulary size, the config, an RNG, the dtype."""

    vocab_size: int
    config: Mapping[str, Any]
    rng: np.random.Generator
    dtype: np.dtype


@dataclass(frozen=True)
class LanguageModelSpec:
    """A named language model for ``--model`` on a text dataset, and its training layout."""

    name: str
    build: Callable[[LanguageModelRequest], LanguageModel]
    #: a key of :data:`LAYOUTS`: what one training example is
    layout: str
    description: str = ""
    #: config keys this model reads besides those of every language model
    options: tuple[str, ...] = ()
    #: training settings that suit this model, over :data:`~scratchnn.experiments.config.TEXT_DEFAULTS`
    defaults: Mapping[str, Any] = field(default_factory=dict)


#: Language models by name (``--dataset names --model NAME``); :func:`register_language_model` adds one.
LANGUAGE_MODELS = Registry("language model")


def register_language_model(spec: LanguageModelSpec) -> LanguageModelSpec:
    """Add a model to :data:`LANGUAGE_MODELS`; returns the spec."""
    if spec.layout not in LAYOUTS:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {spec.layout!r}")
    LANGUAGE_MODELS.register(spec, name=spec.name)
    return spec


def _int(request: LanguageModelRequest, key: str) -> int:
    return int(request.config[key])


#: What the models trained on random windows of the stream share: the GPT's recipe, 6 epochs
#: of 500 steps of 32 windows of 16 characters (3,000 steps), Adam 3e-3 warmed up over 100
#: steps then decayed by half a cosine to 10 %.
_STREAM_DEFAULTS: dict[str, Any] = {
    "block_size": 16,
    "batch_size": 32,
    "steps_per_epoch": 500,
    "epochs": 6,
    "lr": 3e-3,
    "lr_schedule": "warmup_cosine",
}
_STREAM_OPTIONS = ("block_size", "steps_per_epoch", "embed_dim")

register_language_model(
    LanguageModelSpec(
        "gpt",
        lambda r: GPT(
            r.vocab_size,
            block_size=_int(r, "block_size"),
            embed_dim=_int(r, "embed_dim"),
            num_heads=_int(r, "num_heads"),
            num_layers=_int(r, "num_layers"),
            rng=r.rng,
            dtype=r.dtype,
        ),
        "stream",
        description="a GPT (pre-norm transformer): --embed-dim, --num-heads, --num-layers, "
        "--block-size (its context)",
        options=(*_STREAM_OPTIONS, "num_heads", "num_layers"),
        # the reference configuration of issue 14 (gpt_names); measured in README.md
        defaults={**_STREAM_DEFAULTS, "embed_dim": 64, "num_heads": 4, "num_layers": 2},
    )
)
register_language_model(
    LanguageModelSpec(
        "rnn",
        lambda r: RNNLM(
            r.vocab_size, _int(r, "embed_dim"), _int(r, "hidden"), rng=r.rng, dtype=r.dtype
        ),
        "stream",
        description="an Elman RNN (tanh): --embed-dim, --hidden (one size), --block-size "
        "(the windows it is trained on)",
        options=(*_STREAM_OPTIONS, "hidden"),
        defaults={**_STREAM_DEFAULTS, "embed_dim": 32, "hidden": 128},
    )
)
register_language_model(
    LanguageModelSpec(
        "lstm",
        lambda r: LSTMLM(
            r.vocab_size, _int(r, "embed_dim"), _int(r, "hidden"), rng=r.rng, dtype=r.dtype
        ),
        "stream",
        description="an LSTM: --embed-dim, --hidden (one size), --block-size (the windows it "
        "is trained on)",
        options=(*_STREAM_OPTIONS, "hidden"),
        defaults={**_STREAM_DEFAULTS, "embed_dim": 32, "hidden": 128},
    )
)
register_language_model(
    LanguageModelSpec(
        "mlp",
        lambda r: MLPLM(
            r.vocab_size,
            block_size=_int(r, "block_size"),
            embed_dim=_int(r, "embed_dim"),
            hidden=_int(r, "hidden"),
            activation=str(r.config["activation"]),
            rng=r.rng,
            dtype=r.dtype,
        ),
        "windows",
        description="Bengio et al.'s MLP over the last --block-size characters: --embed-dim, "
        "--hidden (one size), --activation",
        options=("block_size", "embed_dim", "hidden", "activation"),
        # makemore part 2's network; an epoch is every training pair once (2,850 steps of 64)
        defaults={
            "block_size": 3,
            "embed_dim": 10,
            "hidden": 200,
            "activation": "tanh",
            "batch_size": 64,
            "epochs": 5,
            "lr": 3e-3,
            "lr_schedule": "warmup_cosine",
        },
    )
)
register_language_model(
    LanguageModelSpec(
        "bigram",
        lambda r: BigramLM(r.vocab_size, rng=r.rng, dtype=r.dtype),
        "pairs",
        description="a (V, V) table of next-character logits",
        # an epoch is every pair once (357 steps of 512); the counts' solution is the limit
        defaults={"batch_size": 512, "epochs": 3, "lr": 0.1, "lr_schedule": "warmup_cosine"},
    )
)


def describe_language_model(model: LanguageModel) -> str:
    """A short description such as ``"64-wide, 2 blocks of 4 heads, context 16"``."""
    if isinstance(model, GPT):
        return (
            f"{model.embed_dim}-wide, {model.num_layers} block{'s' * (model.num_layers != 1)} "
            f"of {model.num_heads} heads, context {model.block_size}"
        )
    if isinstance(model, (RNNLM, LSTMLM)):
        return f"embedding {model.embed_dim}, hidden state {model.hidden_size}"
    if isinstance(model, MLPLM):
        return (
            f"context {model.block_size}, embedding {model.embed_dim}, hidden {model.hidden} "
            f"{model.activation}"
        )
    if isinstance(model, BigramLM):
        return f"{model.vocab_size}×{model.vocab_size} table"
    return type(model).__name__
