"""A multi-layer perceptron builder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import initializers
from .._validation import as_generator
from ..errors import InputError
from ..layers import Dense, Dropout, Module
from ..model import Sequential
from ..registry import MODULES

__all__ = ["ACTIVATIONS", "mlp"]

#: The hidden activations an MLP can use, by their registered short names.
ACTIVATIONS: dict[str, type[Module]] = {
    name: MODULES.get(name) for name in ("relu", "leaky_relu", "tanh", "sigmoid")
}


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
    init: str | None = None,
    rng: np.random.Generator | int | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """A fully connected network ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Hidden layers are followed by ``activation`` (and ``Dropout(dropout)`` if > 0); the last
    layer is linear, producing logits for
    :class:`~scratchnn.losses.cross_entropy.SoftmaxCrossEntropy` or
    :class:`~scratchnn.losses.bce.BCEWithLogits`. Hidden weights use ``init`` or the usual choice
    for the activation (He for ReLU, Glorot otherwise); the output layer uses Glorot uniform.

    >>> model = mlp([784, 524, 124, 10], rng=0)
    >>> [type(layer).__name__ for layer in model]
    ['Dense', 'ReLU', 'Dense', 'ReLU', 'Dense']
    >>> model.num_parameters
    477690
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise InputError(f"mlp needs at least two positive sizes (inputs, outputs), got {sizes}")
    key = activation.lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise InputError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    rng = as_generator(rng)
    hidden_init = init or initializers.default_for(key)
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(
            Dense(
                n_in,
                n_out,
                init=(init or "glorot_uniform") if last else hidden_init,
                rng=rng,
                dtype=dtype,
            )
        )
        if not last:
            layers.append(ACTIVATIONS[key]())
            if dropout > 0:
                layers.append(Dropout(dropout, rng=rng))
    return Sequential(*layers, dtype=dtype)
