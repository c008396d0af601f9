"""Ready-made models built from the layers: :func:`mlp`, the LeNet-like :func:`cnn` and the :class:`VAE`."""

from .cnn import cnn
from .mlp import mlp
from .vae import VAE, KLWarmup, VAELoss

__all__ = ["VAE", "KLWarmup", "VAELoss", "cnn", "mlp"]
