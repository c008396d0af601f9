"""Ready-made models built from the layers: :func:`mlp` (and the VAE, in its own issue)."""

from .mlp import mlp

__all__ = ["mlp"]
