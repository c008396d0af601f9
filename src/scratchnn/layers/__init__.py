"""Layers: each maps ``X -> Y`` in ``forward`` and ``dY -> dX`` in ``backward``.

Every layer is a :class:`Module` (:mod:`~scratchnn.layers.base`); read that first, then
:mod:`~scratchnn.layers.dense` and :mod:`~scratchnn.layers.activations`.
"""

from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .attention import CausalSelfAttention
from .base import LAYERS, Layer, Module
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .layernorm import LayerNorm, RMSNorm
from .normalization import BatchNorm1D, BatchNorm2D
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .recurrent import LSTM, RNN
from .reshape import Flatten

__all__ = [
    "GELU",
    "LAYERS",
    "LSTM",
    "RNN",
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "CausalSelfAttention",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool2D",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2D",
    "Module",
    "RMSNorm",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
