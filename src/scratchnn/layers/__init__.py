"""Layers: each maps ``X -> Y`` in ``forward`` and ``dY -> dX`` in ``backward``.

Every layer is a :class:`Module` (:mod:`~scratchnn.layers.base`); read that first, then
:mod:`~scratchnn.layers.dense` and :mod:`~scratchnn.layers.activations`.
"""

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .base import LAYERS, Layer, Module
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm1D, BatchNorm2D
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .reshape import Flatten

__all__ = [
    "LAYERS",
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2D",
    "Identity",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "Module",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
