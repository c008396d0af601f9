"""The VAE's KL term: :class:`GaussianKL`, of a diagonal Gaussian from the standard normal.

It is not a :class:`~scratchnn.losses.base.Loss`: it takes ``(mu, logvar)``, not
predictions and targets, and returns two gradients.
:class:`~scratchnn.models.vae.loss.VAELoss` adds it to the reconstruction loss.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError

__all__ = ["GaussianKL"]


class GaussianKL:
    r"""KL divergence of N(μ, diag(exp(logvar))) from the standard normal N(0, I).

    Used by the VAE: ``value, (dmu, dlogvar) = GaussianKL()(mu, logvar)``. The value sums over
    the latent dimensions and averages over the batch (nats per example).

    Math
    ----
    With ``lv = logvar`` (so the variance is ``exp(lv)`` and the standard deviation
    ``exp(lv/2)``)::

        value    = (1/N) Σ_n ½ Σ_j ( exp(lv_nj) + μ_nj² - 1 - lv_nj )
        dμ       = μ / N
        dlogvar  = ½ (exp(lv) - 1) / N

    >>> value, (dmu, dlv) = GaussianKL()(np.zeros((4, 2)), np.zeros((4, 2)))
    >>> value, float(abs(dmu).max()), float(abs(dlv).max())
    (0.0, 0.0, 0.0)
    """

    def __call__(
        self, mu: np.ndarray, logvar: np.ndarray
    ) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        if mu.shape != logvar.shape:
            raise ShapeError(f"mu {mu.shape} and logvar {logvar.shape} must have the same shape")
        N = mu.shape[0]
        var = np.exp(logvar)
        value = float(0.5 * np.sum(var + mu * mu - 1 - logvar) / N)
        return value, (mu / N, 0.5 * (var - 1) / N)

    def __repr__(self) -> str:
        return "GaussianKL()"
