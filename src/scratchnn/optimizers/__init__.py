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

from typing import Any

from ..registry import OPTIMIZERS
from .adam import Adam, AdamW
from .base import Optimizer
from .clipping import clip_grad_norm
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm", "get"]


def get(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer from its name (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``)."""
    if isinstance(name, Optimizer):
        return name
    return OPTIMIZERS.create(str(name), **kwargs)
