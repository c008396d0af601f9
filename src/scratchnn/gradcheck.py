"""Finite-difference gradient checks, for the tests and for learners' own layers.

Backpropagation is easy to get subtly wrong; a centred finite difference is an independent
estimate of the same derivative. For a scalar function ``f`` and each input entry ``x_i``::

    ∂f/∂x_i ≈ ( f(x + h e_i) - f(x - h e_i) ) / 2h          error O(h²)

A layer's output is not a scalar, so it is contracted with a fixed random upstream
gradient ``G``: ``f(X) = Σ Y(X) ⊙ G``, whose gradient is exactly what ``backward(G)``
returns. Everything runs in float64 on a copy, so float32 layers can be checked too.

The reported error is the norm-wise relative error ``‖a - n‖ / max(‖a‖, ‖n‖)``: about
1e-9 or less for a correct backward in float64 with ``h = 1e-6``, around 1e-2 or larger
for a wrong one. Keep inputs away from kinks (ReLU at 0, ties in a max): there the
function is not differentiable and the two estimates may honestly disagree.

Examples
--------
>>> import numpy as np
>>> from scratchnn.layers import Dense
>>> rng = np.random.default_rng(0)
>>> report = check_layer(Dense(4, 3, rng=rng), rng.standard_normal((5, 4)), rng=rng)
>>> report.passed
True
>>> print(report)  # doctest: +SKIP
gradient  rel. error   ok
dX        3.1e-11      yes
dW        2.7e-11      yes
db        1.9e-11      yes
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_generator
from .layers.base import Module
from .losses import Loss

__all__ = [
    "GradcheckReport",
    "check_gradients",
    "check_layer",
    "check_loss",
    "check_model",
    "numerical_gradient",
    "rel_error",
]


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Norm-wise relative error ``‖a - n‖ / max(‖a‖, ‖n‖)`` (0 if both are zero).

    >>> rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    """
    a = np.asarray(analytic, dtype=np.float64).ravel()
    n = np.asarray(numeric, dtype=np.float64).ravel()
    scale = max(np.linalg.norm(a), np.linalg.norm(n))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred finite differences of the scalar ``f()`` with respect to ``x``, perturbed in place.

    ``f`` must read ``x`` (it takes no argument); ``x`` is restored exactly afterwards.

    >>> x = np.array([1.0, 2.0])
    >>> np.round(numerical_gradient(lambda: float(np.sum(x ** 2)), x), 6)
    array([2., 4.])
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    if not x.flags.c_contiguous or not x.flags.writeable:
        raise ValueError("numerical_gradient needs a writeable C-contiguous array to perturb")
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        f_plus = f()
        flat_x[i] = old - h
        f_minus = f()
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2 * h)
    return grad


@dataclass
class GradcheckReport:
    """Relative error of each analytic gradient against its finite-difference estimate."""

    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-7

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tol

    def failures(self) -> dict[str, float]:
        """The gradients whose error is at or above the tolerance."""
        return {k: v for k, v in self.errors.items() if not v < self.tol}

    def __str__(self) -> str:
        width = max([len("gradient"), *map(len, self.errors)])
        lines = [f"{'gradient':<{width}}  rel. error   ok"]
        for name, err in self.errors.items():
            lines.append(f"{name:<{width}}  {err:<11.1e}  {'yes' if err < self.tol else 'NO'}")
        return "\n".join(lines)


def check_gradients(
    f: Callable[[], float],
    inputs: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    h: float = 1e-6,
    tol: float = 1e-7,
) -> GradcheckReport:
    """Compare ``analytic[name]`` with the finite-difference gradient of ``f()`` w.r.t. ``inputs[name]``.

    The most general form: ``f`` reads the arrays in ``inputs`` (which are perturbed in place
    and restored). Use it for a model with several inputs, such as a VAE with its noise fixed.
    """
    report = GradcheckReport(tol=tol)
    for name, x in inputs.items():
        report.errors[name] = rel_error(analytic[name], numerical_gradient(f, x, h))
    return report


class _FrozenRandomness:
    """Restores every Generator's state before each forward, so Dropout draws the same mask."""

    def __init__(self, module: Module) -> None:
        self.generators = [g for _, g in module.named_generators()]
        self.states = [g.bit_generator.state for g in self.generators]

    def reset(self) -> None:
        for g, state in zip(self.generators, self.states):
            g.bit_generator.state = state


def check_layer(
    layer: Module,
    X: np.ndarray,
    rng: np.random.Generator | int | None = None,
    h: float = 1e-6,
    tol: float = 1e-7,
    training: bool = True,
) -> GradcheckReport:
    """Check ``layer.backward`` (``dX`` and every parameter gradient) by finite differences.

    Works for any module, a block of layers included (its parameters are named like
    ``"dfc.W"``). The layer is copied and converted to float64 first; the original is left untouched.
    """
    rng = as_generator(rng)
    layer = copy.deepcopy(layer).astype(np.float64)
    X = np.array(X, dtype=np.float64)
    frozen = _FrozenRandomness(layer)
    frozen.reset()
    G = rng.standard_normal(layer.forward(X, training=training).shape)

    def f() -> float:
        frozen.reset()
        return float(np.sum(layer.forward(X, training=training) * G))

    frozen.reset()
    layer.forward(X, training=training)
    analytic = {"dX": layer.backward(G).copy()}
    analytic.update({f"d{name}": g.copy() for name, _, g in layer.parameters()})
    inputs = {"dX": X, **{f"d{name}": p for name, p, _ in layer.parameters()}}
    return check_gradients(f, inputs, analytic, h=h, tol=tol)


def check_loss(
    loss: Loss, Y: np.ndarray, T: np.ndarray, h: float = 1e-6, tol: float = 1e-7
) -> GradcheckReport:
    """Check the gradient a loss returns, ``dY``, against finite differences of its value."""
    Y = np.array(Y, dtype=np.float64)
    T = np.asarray(T)
    if np.issubdtype(T.dtype, np.floating):
        T = T.astype(np.float64)
    _, dY = loss(Y.copy(), T)
    return check_gradients(lambda: loss(Y, T)[0], {"dY": Y}, {"dY": dY}, h=h, tol=tol)


def check_model(
    model: Module,
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    h: float = 1e-6,
    tol: float = 1e-7,
) -> GradcheckReport:
    """Check a whole model: the loss's gradient w.r.t. every parameter (``"0.W"``, ...) and ``X``."""
    model = copy.deepcopy(model).astype(np.float64)
    X = np.array(X, dtype=np.float64)
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float64)
    frozen = _FrozenRandomness(model)

    def f() -> float:
        frozen.reset()
        return loss(model.forward(X, training=True), y)[0]

    frozen.reset()
    _, dY = loss(model.forward(X, training=True), y)
    analytic = {"dX": model.backward(dY).copy()}
    analytic.update({name: g.copy() for name, _, g in model.parameters()})
    inputs = {"dX": X, **{name: p for name, p, _ in model.parameters()}}
    return check_gradients(f, inputs, analytic, h=h, tol=tol)
