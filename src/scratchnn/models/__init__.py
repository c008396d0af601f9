"""Ready-made models built from the layers: :func:`mlp` and the :class:`VAE`."""

from .mlp import mlp
from .vae import VAE, KLWarmup, VAELoss

__all__ = ["VAE", "KLWarmup", "VAELoss", "mlp"]
