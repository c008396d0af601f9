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

    def update_all(self, work):
        """:meth:`update` on each large parameter; the small ones of a dtype all at once.

        A model such as the names GPT has dozens of small arrays (biases, LayerNorm scales,
        64 × 64 projections). Adam costs a dozen NumPy calls per array, and for small arrays
        the calls, not the arithmetic, are the time. So the gradients of every array of at
        most :attr:`group_size` entries are copied into one flat buffer, their ``m`` and
        ``v`` live as views of flat buffers too, one Adam update runs over all of them, and
        each parameter subtracts its slice of the step. Every entry goes through the same
        operations in the same order as in :meth:`update`, so the result is bit-identical.
        """
        update = type(self).update
        if update not in (Adam.update, AdamW.update) or (
            self.weight_decay and update is Adam.update
        ):
            # a subclass with its own update, or Adam's L2 term, which needs each p: one by one
            return super().update_all(work)
        groups: dict[np.dtype, list] = {}
        for name, p, g, state in work:
            if p.size <= self.group_size and g.dtype == p.dtype:
                groups.setdefault(p.dtype, []).append((name, p, g, state))
            else:
                self.update(name, p, g, state)
        for members in groups.values():
            if len(members) == 1:
                self.update(*members[0])
            else:
                self._update_group(members)

    #: Arrays of at most this many entries are updated together by :meth:`update_all`.
    group_size = 65_536

    def _update_group(self, members):
        for _, p, _, _ in members:
            self._decay(p)
        flat = self._flat_buffers(members)
        np.concatenate([g.reshape(-1) for _, _, g, _ in members], out=flat["g"])
        self._adam_direction(flat["g"], flat["m"], flat["v"], flat["scratch"])
        for _, p, _, state in members:
            p -= state["scratch"]  # p = p - η m̂ / (sqrt(v̂) + ε), the slice of this p

    def _flat_buffers(self, members) -> dict[str, np.ndarray]:
        """Flat ``g``, ``m``, ``v``, ``scratch`` for ``members``; each state holds views of them.

        Made again whenever the members or their state arrays changed (a loaded state
        dict, another set of parameters); existing moments are copied in.
        """
        key = tuple((name, p.shape) for name, p, _, _ in members)
        flat = getattr(self, "_flat", {}).get(key)
        if flat is not None and all(
            state.get("m") is view for (*_, state), view in zip(members, flat["m_views"])
        ):
            return flat
        dtype = members[0][1].dtype
        total = sum(p.size for _, p, _, _ in members)
        flat = {k: np.zeros(total, dtype=dtype) for k in ("g", "m", "v", "scratch")}
        flat["m_views"] = []
        start = 0
        for _, p, _, state in members:
            end = start + p.size
            for k in ("m", "v", "scratch"):
                view = flat[k][start:end].reshape(p.shape)
                if k in state and k != "scratch":
                    view[...] = state[k]
                state[k] = view
            flat["m_views"].append(state["m"])
            start = end
        self._flat = {key: flat}
        return flat

    def _decay(self, p):
        """Nothing for Adam (its L2 term goes into the gradient); AdamW's decoupled decay."""

    def _adam_update(self, p, g, state):
        m = self._buffer(state, "m", p)
        v = self._buffer(state, "v", p)
        self._adam_direction(g, m, v, state["scratch"])
        p -= state["scratch"]  # p = p - η m̂ / (sqrt(v̂) + ε) = p - η_t m / (sqrt(v) + ε c)

    def _adam_direction(self, g, m, v, s):
        """Update the moments ``m``, ``v`` in place; leave the step ``η_t m / (sqrt(v) + ε c)`` in ``s``."""
        b1, b2 = self.beta1, self.beta2
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
        self._decay(p)
        self._adam_update(p, g, state)

    def _decay(self, p):
        if self.weight_decay:
            p *= 1 - self.lr * self.weight_decay  # decoupled decay
