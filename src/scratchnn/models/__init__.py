"""Ready-made models built from the layers: :func:`mlp`, the LeNet-like :func:`cnn`, the
:class:`VAE`, and the language models of :mod:`scratchnn.models.lm` (:class:`BigramLM`,
:class:`MLPLM`, :class:`RNNLM`, :class:`LSTMLM`, :class:`GPT`)."""

from . import lm
from .cnn import cnn
from .lm import GPT, LSTMLM, MLPLM, RNNLM, BigramLM, gpt_names, microgpt
from .mlp import mlp
from .vae import VAE, KLWarmup, VAELoss

__all__ = [
    "GPT",
    "LSTMLM",
    "MLPLM",
    "RNNLM",
    "VAE",
    "BigramLM",
    "KLWarmup",
    "VAELoss",
    "cnn",
    "gpt_names",
    "lm",
    "microgpt",
    "mlp",
]
