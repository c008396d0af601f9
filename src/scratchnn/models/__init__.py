"""Ready-made models built from the layers: :func:`mlp` and the LeNet-like :func:`cnn`."""

from .cnn import cnn
from .mlp import mlp

__all__ = ["cnn", "mlp"]
