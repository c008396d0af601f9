"""The Variational Autoencoder: the model, its loss (the negative ELBO) and KL warm-up.

- :mod:`~scratchnn.models.vae.model`: :class:`VAE`, encoder, heads, reparameterisation,
  decoder, and the backward pass written out;
- :mod:`~scratchnn.models.vae.loss`: :class:`VAELoss` and :func:`reparameterize`;
- :mod:`~scratchnn.models.vae.warmup`: :class:`KLWarmup`;
- :mod:`~scratchnn.models.vae.likelihood`: the importance-weighted ``log p(x)``.
"""

from .loss import LIKELIHOODS, VAELoss, VAEOutput, reparameterize
from .model import VAE, VAEEvaluation
from .warmup import KLWarmup

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "KLWarmup",
    "VAEEvaluation",
    "VAELoss",
    "VAEOutput",
    "reparameterize",
]
