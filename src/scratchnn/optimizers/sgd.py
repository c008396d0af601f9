"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .base import Optimizer, check_beta, check_nonnegative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, Nesterov momentum and L2 decay.

    Parameters
    ----------
    lr : float
        Learning rate η.
    momentum : float
        Momentum μ in ``[0, 1)``; 0 is plain SGD.
    nesterov : bool
        Use Nesterov's look-ahead form (needs ``momentum > 0``).
    weight_decay : float
        L2 penalty λ, added to the gradient.

    Math
    ----
    As ``torch.optim.SGD`` (dampening 0)::

        g  ← g + λ p
        v  ← μ v + g           (v = g on the first step)
        d  ← g + μ v  if nesterov  else  v      (d = g without momentum)
        p  ← p - η d
    """

    aliases = ("sgd",)

    decaying = ("momentum_buffer",)

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr)
        check_beta(momentum, "momentum")
        check_nonnegative(weight_decay, "weight_decay")
        if nesterov and momentum == 0:
            raise InputError("Nesterov momentum needs momentum > 0; set momentum=0.9, say")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)

    def update(self, name, p, g, state):
        g = self._with_weight_decay(p, g, state, self.weight_decay)
        step = state["scratch"]
        if self.momentum:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = g.copy()  # v = g on the first step
            else:
                v *= self.momentum
                v += g  # v = μ v + g
            if self.nesterov:
                np.multiply(v, self.momentum, out=step)
                step += g  # d = g + μ v
            else:
                np.copyto(step, v)  # d = v
            step *= self.lr
        else:
            np.multiply(g, self.lr, out=step)
        p -= step  # p = p - η d

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }
