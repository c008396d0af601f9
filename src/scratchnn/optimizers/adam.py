"""Adam (Kingma & Ba, Algorithm 1) and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_positive
from .base import Optimizer, check_beta, check_nonnegative

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015, Algorithm 1) with one step counter for the whole optimizer.

    Parameters
    ----------
    lr : float
        Step size η (α in the paper).
    beta1, beta2 : float
        Decay rates β₁, β₂ of the first and second moment estimates.
    eps : float
        ε, added to ``sqrt(v̂)`` (outside the square root, as ``torch.optim.Adam`` does).
    weight_decay : float
        L2 penalty λ added to the gradient (see :class:`AdamW` for decoupled decay).

    Math
    ----
    With t the optimizer's step counter (never reset between epochs)::

        g  ← g + λ p
        m  ← β₁ m + (1 - β₁) g                 first moment
        v  ← β₂ v + (1 - β₂) g²                second moment
        m̂  = m / (1 - β₁ᵗ),  v̂ = v / (1 - β₂ᵗ)    bias corrections
        p  ← p - η m̂ / (sqrt(v̂) + ε)

    The bias corrections are folded into two scalars, as Kingma & Ba suggest at the end of
    their Section 2: with ``c = sqrt(1-β₂ᵗ)``, ``η m̂/(sqrt(v̂) + ε) = η_t m/(sqrt(v) + ε c)``
    where ``η_t = η c/(1-β₁ᵗ)``, so no corrected copy of ``m`` or ``v`` is ever made.
    ``m`` and ``v`` are stored uncorrected, as ``torch.optim.Adam``'s ``exp_avg`` and
    ``exp_avg_sq``.
    """

    aliases = ("adam",)

    decaying = ("m", "v")

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr)
        check_beta(beta1, "beta1")
        check_beta(beta2, "beta2")
        check_positive(eps, "eps")
        check_nonnegative(weight_decay, "weight_decay")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)

    def update(self, name, p, g, state):
        g = self._with_weight_decay(p, g, state, self.weight_decay)
        self._adam_update(p, g, state)

    def _adam_update(self, p, g, state):
        b1, b2, s = self.beta1, self.beta2, state["scratch"]
        m = self._buffer(state, "m", p)
        v = self._buffer(state, "v", p)
        m *= b1
        np.multiply(g, 1 - b1, out=s)
        m += s  # m = β₁ m + (1-β₁) g
        v *= b2
        np.multiply(g, g, out=s)
        s *= 1 - b2
        v += s  # v = β₂ v + (1-β₂) g²
        c = math.sqrt(1 - b2**self.t)  # sqrt(v̂) = sqrt(v) / c
        step_size = self.lr * c / (1 - b1**self.t)  # η_t = η c / (1-β₁ᵗ)
        np.sqrt(v, out=s)
        s += self.eps * c  # s = c (sqrt(v̂) + ε)
        np.divide(m, s, out=s)
        s *= step_size
        p -= s  # p = p - η m̂ / (sqrt(v̂) + ε) = p - η_t m / (sqrt(v) + ε c)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Instead of adding λp to the gradient (which Adam then rescales, weakening the decay of
    parameters with large gradients), the weights shrink directly before the Adam step::

        p  ← p (1 - η λ)
        p  ← p - η m̂ / (sqrt(v̂) + ε)      (Adam on the raw gradient)

    The default ``weight_decay=0.01`` is PyTorch's.
    """

    aliases = ("adamw",)

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(lr, beta1, beta2, eps, weight_decay)

    def update(self, name, p, g, state):
        if self.weight_decay:
            p *= 1 - self.lr * self.weight_decay  # decoupled decay
        self._adam_update(p, g, state)
