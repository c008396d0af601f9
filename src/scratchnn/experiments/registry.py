"""The model registry behind ``--model``: a name, a builder and the input layout it wants.

Register another architecture with :func:`register_model`; ``scratchnn train --model NAME``
and ``scratchnn compare`` then build it from a :class:`ModelRequest`::

    def build_cnn(request):           # request.input_shape == (1, 28, 28) for MNIST
        ...
        return Sequential(...)

    register_model(ModelSpec("cnn", build_cnn, input_layout="image",
                             description="LeNet-like convolutional network"))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..model import Sequential

__all__ = ["MODELS", "ModelRequest", "ModelSpec", "describe_model", "register_model"]


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
    add_arguments: Callable[[Any], None] | None = None
    #: config keys this model reads besides the common ones (for config.json and --help)
    options: tuple[str, ...] = ()


#: Models by name; :func:`register_model` adds one.
MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a model to :data:`MODELS` (``--model NAME``); returns the spec."""
    if spec.input_layout not in ("flat", "image"):
        raise InputError(f"input_layout must be 'flat' or 'image', got {spec.input_layout!r}")
    MODELS[spec.name] = spec
    return spec


def _build_mlp(request: ModelRequest) -> Sequential:
    from ..models import mlp

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


def describe_model(model: Sequential) -> str:
    """A short description such as ``"2-16-16-2 relu"`` (or the layer classes otherwise)."""
    from ..layers import Dense

    dense = [layer for layer in model if isinstance(layer, Dense)]
    if dense and all(type(layer).__name__ in _SIMPLE_LAYERS for layer in model):
        sizes = [dense[0].in_features] + [layer.out_features for layer in dense]
        acts = sorted(
            {type(layer).__name__.lower() for layer in model if type(layer).__name__ in _ACT_NAMES}
        )
        return "-".join(map(str, sizes)) + (f" {'/'.join(acts)}" if acts else "")
    return " → ".join(type(layer).__name__ for layer in model)


_ACT_NAMES = {"ReLU", "LeakyReLU", "Tanh", "Sigmoid"}
_SIMPLE_LAYERS = _ACT_NAMES | {"Dense", "Dropout", "Identity"}
