"""Layers: each maps ``X -> Y`` in ``forward`` and ``dY -> dX`` in ``backward``."""

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .base import LAYERS, Layer
from .dense import Dense
from .dropout import Dropout
from .reshape import Flatten

__all__ = [
    "LAYERS",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
