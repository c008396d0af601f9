"""RMSprop, with momentum and the centred variant."""

from __future__ import annotations

import numpy as np

from .._validation import check_positive
from .base import Optimizer, check_beta, check_nonnegative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, lecture 6e), as ``torch.optim.RMSprop``.

    Parameters
    ----------
    lr : float
        Learning rate η (PyTorch's default 0.01).
    alpha : float
        Decay ρ of the running mean of squared gradients.
    eps : float
        ε added to the root mean square.
    momentum : float
        Optional momentum μ on the scaled step.
    weight_decay : float
        L2 penalty λ added to the gradient.
    centered : bool
        Divide by the estimated standard deviation instead of the root mean square.

    Math
    ----
    ::

        g  ← g + λ p
        s  ← ρ s + (1 - ρ) g²
        ḡ  ← ρ ḡ + (1 - ρ) g;  r = sqrt(s - ḡ²) + ε      if centered
        r  = sqrt(s) + ε                                  otherwise
        b  ← μ b + g / r;  p ← p - η b                    if momentum
        p  ← p - η g / r                                  otherwise
    """

    aliases = ("rmsprop",)

    decaying = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(lr)
        check_beta(alpha, "alpha")
        check_positive(eps, "eps")
        check_beta(momentum, "momentum")
        check_nonnegative(weight_decay, "weight_decay")
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)
        self.weight_decay, self.centered = float(weight_decay), bool(centered)

    def update(self, name, p, g, state):
        g = self._with_weight_decay(p, g, state, self.weight_decay)
        rho, r = self.alpha, state["scratch"]
        sq = self._buffer(state, "square_avg", p)
        sq *= rho
        np.multiply(g, g, out=r)
        r *= 1 - rho
        sq += r  # s = ρ s + (1-ρ) g²
        if self.centered:
            mean = self._buffer(state, "grad_avg", p)
            mean *= rho
            np.multiply(g, 1 - rho, out=r)
            mean += r  # ḡ = ρ ḡ + (1-ρ) g
            np.multiply(mean, mean, out=r)
            np.subtract(sq, r, out=r)
            np.sqrt(r, out=r)  # sqrt(s - ḡ²)
        else:
            np.sqrt(sq, out=r)  # sqrt(s)
        r += self.eps
        np.divide(g, r, out=r)  # g / r
        if self.momentum:
            b = self._buffer(state, "momentum_buffer", p)
            b *= self.momentum
            b += r  # b = μ b + g / r
            np.multiply(b, self.lr, out=r)
        else:
            r *= self.lr
        p -= r

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "centered": self.centered,
        }
