"""Optimizers: ``optimizer.step(parameters)`` updates every parameter in place.

``parameters`` is an iterable of unique ``(name, param, grad)`` triples, as
:meth:`scratchnn.Sequential.parameters` yields them (``("0.W", W, dW)``). State (moments,
momentum buffers) lives in ``optimizer.state[name]``, so two layers never share it, and a
single step counter ``optimizer.t`` counts calls to :meth:`Optimizer.step`.

Every update follows ``torch.optim`` (same hyper-parameter names and defaults, same
formulas), which the tests check step by step. Updates are written with in-place ufuncs
(``out=``) into a scratch buffer kept per parameter: no parameter-sized temporaries are
allocated after the first step.

State that decays geometrically (Adam's moments, momentum buffers) is cleared of subnormal
numbers every :attr:`Optimizer.flush_every` steps; see :meth:`Optimizer.flush_subnormals`
for why (speed) and why it changes nothing beyond float32 rounding.

The explicit training loop these serve::

    for Xb, yb in batches:
        Y = model.forward(Xb)               # forward
        value, dY = loss(Y, yb)             # loss
        model.backward(dY)                  # backward (sets the grads)
        optimizer.step(model.parameters())  # step
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ._validation import check_positive
from .errors import InputError, ShapeError
from .registry import OPTIMIZERS

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm", "get"]

Triple = tuple[str, np.ndarray, np.ndarray]


def _check_nonnegative(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InputError(f"{name} must be a non-negative number, got {value!r}")


def _check_beta(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(f"{name} must be in [0, 1), got {value!r}")


class Optimizer:
    """Base class. Subclasses implement :meth:`update` for one parameter.

    Attributes
    ----------
    lr : float
        Learning rate η; a schedule may change it between epochs.
    initial_lr : float
        The rate given at construction, from which schedules compute ``lr``.
    t : int
        Number of :meth:`step` calls so far (never reset: Adam's bias correction needs it).
    state : dict[str, dict[str, numpy.ndarray]]
        Per-parameter state, keyed by the parameter's unique name.
    flush_every : int
        Every this many steps, :meth:`flush_subnormals` sets subnormal entries of the
        decaying state to zero (16 by default; 0 turns it off).
    """

    #: State buffers that decay geometrically towards zero between gradients (moments,
    #: momentum), and so can underflow into subnormal numbers.
    decaying: ClassVar[tuple[str, ...]] = ()
    flush_every: int = 16
    #: Short names this optimizer is also registered under (``"adam"``).
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OPTIMIZERS.register(cls, cls.__dict__.get("aliases", ()))

    def __init__(self, lr: float) -> None:
        check_positive(lr, "learning rate lr")
        self.lr = float(lr)
        self.initial_lr = float(lr)  # what a schedule starts from; lr is the current rate
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}
        #: Clip the global gradient norm to this before every step (``None``: never);
        #: ``fit(clip_norm=...)`` sets it, as Keras optimizers' ``global_clipnorm`` does.
        self.clip_norm: float | None = None
        #: The global gradient norm before clipping, at the last step (only with clip_norm).
        self.grad_norm: float | None = None

    def step(self, parameters: Iterable[Triple]) -> None:
        """Apply one update to every ``(name, param, grad)`` triple, in place."""
        if self.clip_norm is not None:
            parameters = list(parameters)
            self.grad_norm = clip_grad_norm(parameters, self.clip_norm)
        self.t += 1
        flush = self.flush_every > 0 and self.t % self.flush_every == 0
        seen: set[str] = set()
        for name, param, grad in parameters:
            if name in seen:
                raise InputError(
                    f"parameter name {name!r} appears twice in one step; names must be unique"
                )
            seen.add(name)
            state = self._state_for(name, param)
            self.update(name, param, grad, state)
            if flush:
                self.flush_subnormals(state)

    def update(self, name: str, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Update parameter ``p`` in place from its gradient ``g``."""
        raise NotImplementedError

    def flush_subnormals(self, state: dict[str, np.ndarray]) -> None:
        """Set the subnormal entries of the decaying state to exactly zero, in place.

        Why: the first moment of a weight whose gradient has gone quiet (in MNIST, a first
        layer weight fed by a pixel that is rarely lit) shrinks by β₁ every step, and after
        a few hundred steps falls below float32's smallest normal number 2⁻¹²⁶ ≈ 1.2e-38.
        Arithmetic on such subnormal numbers takes a slow path on most x86 CPUs (tens to
        hundreds of cycles), so without this an epoch gets slower as training goes on.
        Flushing every few steps keeps the state normal at the cost of three cheap passes.

        Why this is within float32 rounding: an entry is zeroed only if ``|x| < 2⁻¹²⁶``
        (2⁻¹⁰²² in float64), so it moves by less than the underflow threshold: exactly the
        result IEEE-754 flush-to-zero arithmetic (GPUs, ``torch.set_flush_denormal``)
        would have given. For Adam's ``m`` the step ``η m̂/(√v̂ + ε)`` then moves by less
        than ``η 2⁻¹²⁶/((1-β₁ᵗ) ε)`` ≈ 1.2e-32 with the defaults, under half an ulp of any
        float32 parameter larger than 2⁻⁸⁰ ≈ 8e-25 in magnitude, so the stored parameter
        is the same number; for ``v``, ``√v̂`` moves by at most ``√(2⁻¹²⁶/(1-β₂))`` ≈
        3.4e-18, under half an ulp of ε = 1e-8, so ``√v̂ + ε`` is the same number. (Ten
        epochs of the MNIST benchmark give bit-identical weights with and without it.)
        NaN and ±inf are kept as they are.
        """
        scratch = state["scratch"]
        for key in self.decaying:
            buf = state.get(key)
            if buf is None or buf.dtype != scratch.dtype:
                continue
            np.abs(buf, out=scratch)
            # 1.0 where |x| is normal (or inf), 0.0 where subnormal (or NaN, kept by NaN * 0)
            np.greater_equal(scratch, np.finfo(buf.dtype).smallest_normal, out=scratch)
            np.multiply(buf, scratch, out=buf)

    def _state_for(self, name: str, param: np.ndarray) -> dict[str, np.ndarray]:
        state = self.state.get(name)
        if state is None:
            state = self.state[name] = {"scratch": np.empty_like(param)}
        elif state["scratch"].shape != param.shape or state["scratch"].dtype != param.dtype:
            raise ShapeError(
                f"parameter {name!r} changed shape or dtype to {param.shape} {param.dtype} "
                f"since the optimizer last saw it ({state['scratch'].shape}); "
                "create a new optimizer for a new model"
            )
        return state

    def _buffer(self, state: dict[str, np.ndarray], key: str, like: np.ndarray) -> np.ndarray:
        """A zero-initialised state array (moment, momentum buffer) created on first use."""
        buf = state.get(key)
        if buf is None:
            buf = state[key] = np.zeros_like(like)
        return buf

    def _with_weight_decay(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], weight_decay: float
    ) -> np.ndarray:
        """``g + λ p`` (classic L2 regularisation) in a buffer of its own, or ``g`` if λ = 0."""
        if not weight_decay:
            return g
        g_wd = self._buffer(state, "grad_wd", p)
        np.multiply(p, weight_decay, out=g_wd)
        g_wd += g
        return g_wd

    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments, for saving and for ``repr``."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """Step counter and per-parameter state (copies), e.g. for a checkpoint."""
        return {
            "t": self.t,
            "hyperparameters": self.hyperparameters(),
            "state": {
                name: {k: v.copy() for k, v in st.items() if k != "scratch"}
                for name, st in self.state.items()
            },
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.t = int(state_dict["t"])
        self.state = {}
        for name, st in state_dict["state"].items():
            arrays = {k: np.array(v, copy=True) for k, v in st.items()}
            like = next(iter(arrays.values()), None)
            if like is not None:
                arrays["scratch"] = np.empty_like(like)
                self.state[name] = arrays
        for key, value in state_dict.get("hyperparameters", {}).items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


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
        _check_beta(momentum, "momentum")
        _check_nonnegative(weight_decay, "weight_decay")
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
        _check_beta(beta1, "beta1")
        _check_beta(beta2, "beta2")
        check_positive(eps, "eps")
        _check_nonnegative(weight_decay, "weight_decay")
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
        _check_beta(alpha, "alpha")
        check_positive(eps, "eps")
        _check_beta(momentum, "momentum")
        _check_nonnegative(weight_decay, "weight_decay")
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


def clip_grad_norm(parameters: Iterable[Triple], max_norm: float) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``). The scale is
    ``max_norm / (norm + 1e-6)``, applied only when the norm exceeds ``max_norm``.

    >>> import numpy as np
    >>> g = np.array([3.0, 4.0])
    >>> clip_grad_norm([("w", np.zeros(2), g)], max_norm=1.0)
    5.0
    >>> np.round(g, 4)
    array([0.6, 0.8])
    """
    check_positive(max_norm, "max_norm")
    grads = [g for _, _, g in parameters]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return total


def get(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer from its name (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``)."""
    if isinstance(name, Optimizer):
        return name
    return OPTIMIZERS.create(str(name), **kwargs)
