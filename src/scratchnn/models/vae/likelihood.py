"""The importance-weighted estimate of a VAE's ``log p(x)`` (Burda et al., 2016)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .loss import reparameterize

__all__ = ["importance_weighted_log_likelihood", "neg_log_px_z"]

_LOG_2PI = math.log(2 * math.pi)


def importance_weighted_log_likelihood(
    vae: Any, X: np.ndarray, k: int, rng: np.random.Generator, max_rows: int
) -> np.ndarray:
    r"""``log p(x)`` for every row of ``X`` (checked, in the VAE's dtype) from ``k`` samples
    of q(z|x), in nats: see :meth:`~scratchnn.models.vae.VAE.log_likelihood`.

    ::

        log w_i  = log p(x|z_i) + log p(z_i) − log q(z_i|x)
        log p(x) ≈ logsumexp_i(log w_i) − log k
    """
    chunk = max(1, max_rows // k)
    J = vae.latent_dim
    result = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], chunk):
        Xc = X[start : start + chunk]
        n = Xc.shape[0]
        H = vae.encoder.forward(Xc, training=False)
        mu, logvar = vae.mu_head.forward(H), vae.logvar_head.forward(H)
        eps = rng.standard_normal((k, n, J), dtype=vae.dtype)
        z, _ = reparameterize(mu, logvar, eps)  # (k, n, J)
        out = vae.decoder.forward(z.reshape(k * n, J), training=False).reshape(k, n, -1)
        log_px_z = -neg_log_px_z(out, Xc, vae.likelihood, vae.obs_std)  # (k, n)
        log_pz = -0.5 * np.sum(z * z + _LOG_2PI, axis=2, dtype=np.float64)
        log_qz = -0.5 * np.sum(eps * eps + _LOG_2PI + logvar, axis=2, dtype=np.float64)
        log_w = log_px_z + log_pz - log_qz
        top = log_w.max(axis=0)  # log-sum-exp: subtract the largest log w_i first
        result[start : start + n] = top + np.log(np.mean(np.exp(log_w - top), axis=0))
    return result


def neg_log_px_z(out: np.ndarray, X: np.ndarray, likelihood: str, obs_std: float) -> np.ndarray:
    """``−log p(x|z)`` summed over pixels, for ``out`` of shape ``(..., N, D)``, in float64."""
    if likelihood == "bernoulli":
        elementwise = np.maximum(out, 0) - out * X + np.log1p(np.exp(-np.abs(out)))
        return np.sum(elementwise, axis=-1, dtype=np.float64)
    var = obs_std**2
    diff = out - X
    sq = np.sum(diff * diff, axis=-1, dtype=np.float64)
    return sq / (2 * var) + 0.5 * X.shape[-1] * math.log(2 * math.pi * var)
