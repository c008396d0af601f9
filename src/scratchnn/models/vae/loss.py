"""The VAE's loss, the negative ELBO, and the reparameterisation trick it is built on."""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

from ..._validation import as_float_array, check_positive
from ...errors import InputError, ShapeError
from ...losses import MSE, BCEWithLogits, GaussianKL, Loss

__all__ = ["LIKELIHOODS", "VAELoss", "VAEOutput", "check_beta", "reparameterize"]

LIKELIHOODS = ("bernoulli", "gaussian")


class VAEOutput(NamedTuple):
    """What :meth:`VAE.forward` returns: the decoder's output and the two encoder heads."""

    #: ``(N, D)``: logits of p(x|z) (Bernoulli) or its mean (Gaussian).
    out: np.ndarray
    #: ``(N, J)``: mean μ of q(z|x).
    mu: np.ndarray
    #: ``(N, J)``: log-variance log σ² of q(z|x).
    logvar: np.ndarray


def reparameterize(
    mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""The reparameterisation trick: ``z = μ + σ ⊙ ε`` with ``σ = exp(½ logvar)``.

    ``logvar`` is the log of the *variance*, so the standard deviation is ``exp(½ logvar)``;
    using ``exp(logvar)`` here while the KL treats it as a variance is a classic bug.
    Returns ``(z, σ)``; σ is what the backward pass needs (``∂z/∂logvar = ½ σ ε``).

    >>> z, std = reparameterize(np.array([[1.0]]), np.array([[np.log(4.0)]]), np.array([[0.5]]))
    >>> float(std[0, 0]), float(z[0, 0])
    (2.0, 2.0)
    """
    std = np.exp(0.5 * logvar)
    z = std * eps
    z += mu
    return z, std


class VAELoss(Loss):
    r"""The negative ELBO of a :class:`VAE`, a loss whose target is the input itself.

    ``value, (d_out, dmu, dlogvar) = loss(vae.forward(X), X)``: the value is the
    reconstruction term plus β times the KL term, each summed over pixels (latent dimensions)
    and averaged over the batch, in nats per example. Build it with :meth:`VAE.loss`, which
    copies the model's likelihood.

    Parameters
    ----------
    likelihood : {"bernoulli", "gaussian"}
        ``"bernoulli"``: the decoder outputs logits and the reconstruction term is
        BCE-with-logits summed over pixels (targets in [0, 1]). ``"gaussian"``: the decoder
        outputs the mean of ``N(out, σ_x² I)`` with a fixed ``obs_std`` σ_x.
    beta : float
        Weight β of the KL term (β-VAE, Higgins et al. 2017); 1 is the true ELBO.
    obs_std : float
        σ_x of the Gaussian likelihood (ignored for Bernoulli).

    Math
    ----
    Per example, with ``ℓ(z, t) = max(z, 0) − z t + log(1 + e^{−|z|})`` (stable BCE from
    logits), averaged over the batch of N::

        recon (Bernoulli) = Σ_d ℓ(out_d, x_d)                       = −log p(x|z)
        recon (Gaussian)  = Σ_d (out_d − x_d)² / (2σ_x²) + D/2 · log(2π σ_x²)
        KL                = ½ Σ_j (exp(logvar_j) + μ_j² − 1 − logvar_j)
        value             = recon + β KL

        d_out   = (σ(out) − x) / N        or  (out − x) / (σ_x² N)
        dmu     = β μ / N                          ∂KL/∂μ
        dlogvar = β ½ (exp(logvar) − 1) / N         ∂KL/∂logvar

    The reconstruction gradient flows into ``z`` through the decoder; the VAE's backward adds
    it to ``dmu`` and ``dlogvar`` (see :class:`VAE`).
    """

    def __init__(self, likelihood: str = "bernoulli", beta: float = 1.0, obs_std: float = 1.0):
        if likelihood not in LIKELIHOODS:
            raise InputError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        check_beta(beta)
        check_positive(obs_std, "obs_std")
        self.likelihood = likelihood
        self.beta = float(beta)
        self.obs_std = float(obs_std)
        self.bce = BCEWithLogits("batchmean")
        self.mse = MSE("batchmean")
        self.kl = GaussianKL()
        self._terms: dict[str, float] = {}

    def reconstruction(self, out: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
        """``−log p(x|z)`` averaged over the batch, and its gradient with respect to ``out``."""
        if self.likelihood == "bernoulli":
            return self.bce(out, X)
        var = self.obs_std**2
        sq, d_out = self.mse(out, X)  # Σ_d (out − x)² / N  and  2 (out − x) / N
        d_out *= 1 / (2 * var)
        return sq / (2 * var) + 0.5 * out.shape[1] * math.log(2 * math.pi * var), d_out

    def __call__(
        self, Y: VAEOutput, X: np.ndarray
    ) -> tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(recon + β KL, (d_out, dmu, dlogvar))`` for a forward's ``(out, mu, logvar)`` and input ``X``.

        ``d_out = ∂recon/∂out`` from :meth:`reconstruction`; ``dmu = β μ/N`` and
        ``dlogvar = β ½(exp(logvar) − 1)/N`` are the KL term's own gradients, from
        :class:`~scratchnn.losses.kl.GaussianKL`. :meth:`VAE.backward` takes the triple.
        """
        if not (isinstance(Y, tuple) and len(Y) == 3):
            raise InputError(
                "VAELoss needs the (out, mu, logvar) triple a VAE's forward returns, "
                f"got {type(Y).__name__}; use it with scratchnn.models.VAE"
            )
        out, mu, logvar = Y
        recon, d_out = self.reconstruction(out, X)  # d_out = ∂recon/∂out
        kl, (dmu, dlogvar) = self.kl(mu, logvar)  # dmu = μ/N, dlogvar = ½(e^lv − 1)/N
        if self.beta != 1.0:
            dmu *= self.beta
            dlogvar *= self.beta
        self._terms = {"recon": recon, "kl": kl}
        return recon + self.beta * kl, (d_out, dmu, dlogvar)

    def terms(self) -> dict[str, float]:
        """The reconstruction and (unweighted) KL terms of the last call, nats per example."""
        return dict(self._terms)

    def prepare_target(self, T, n_examples, n_outputs, dtype):
        T = np.asarray(T)
        if T.ndim != 2 or T.shape[0] != n_examples or (n_outputs and T.shape[1] != n_outputs):
            raise ShapeError(
                f"the VAE's target has shape {T.shape} but its input is ({n_examples}, "
                f"{n_outputs}); the target of a VAE is its input (pass y=None)"
            )
        T = as_float_array(T, dtype, name="the VAE's target")
        if self.likelihood == "bernoulli" and (T.min() < 0 or T.max() > 1):
            raise InputError(
                f"a Bernoulli VAE needs inputs in [0, 1], got values in [{T.min():g}, {T.max():g}]; "
                "scale images with X / 255 or use likelihood='gaussian'"
            )
        return T

    def get_config(self) -> dict[str, Any]:
        return {"likelihood": self.likelihood, "beta": self.beta, "obs_std": self.obs_std}


def check_beta(beta: float) -> None:
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta < math.inf:
        raise InputError(f"beta must be a finite non-negative number, got {beta!r}")
