"""Weight initialisers for weights of shape ``(fan_out, fan_in)`` (PyTorch's layout).

Math
----
With ``fan_in`` inputs and ``fan_out`` outputs per unit:

==================  =============================================  ======================
name                distribution                                   for
==================  =============================================  ======================
``he_normal``       N(0, 2 / fan_in)                               ReLU, LeakyReLU
``he_uniform``      U(-√(6 / fan_in), √(6 / fan_in))               ReLU, LeakyReLU
``glorot_normal``   N(0, 2 / (fan_in + fan_out))                   tanh, sigmoid, linear
``glorot_uniform``  U(-√(6 / (fan_in + fan_out)), +…)              tanh, sigmoid, linear
``torch``           U(-1/√fan_in, 1/√fan_in) for W and b           PyTorch ``nn.Linear``
``zeros``           0                                              biases
==================  =============================================  ======================

He et al. (2015) keep the variance of ReLU activations constant from layer to layer;
Glorot & Bengio (2010) balance forward and backward variance for symmetric activations.
PyTorch's default (``kaiming_uniform_(a=√5)``) reduces to ``U(±1/√fan_in)``.

Every function takes an explicit :class:`numpy.random.Generator`.

Examples
--------
>>> import numpy as np
>>> W = he_normal((64, 784), np.random.default_rng(0))
>>> W.shape, W.dtype
((64, 784), dtype('float32'))
>>> default_for("relu"), default_for("tanh")
('he_normal', 'glorot_uniform')
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validation import reserve
from .errors import InputError

__all__ = [
    "INITIALIZERS",
    "default_for",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "torch_linear",
    "zeros",
]

Shape = tuple[int, ...]


def _fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``, as PyTorch computes them.

    Every initialiser but :func:`zeros` starts here, so the weight is also counted against
    the budget of a model being loaded (:func:`~scratchnn._validation.reserve`).
    """
    reserve(shape, "a weight")
    if len(shape) < 2:
        raise InputError(f"weight shape {shape} needs at least two dimensions (out, in)")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def he_normal(shape: Shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Kaiming/He normal: ``N(0, 2 / fan_in)``."""
    fan_in, _ = _fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape: Shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Kaiming/He uniform: ``U(-√(6/fan_in), √(6/fan_in))``."""
    fan_in, _ = _fans(shape)
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def glorot_normal(shape: Shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Glorot/Xavier normal: ``N(0, 2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def glorot_uniform(shape: Shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Glorot/Xavier uniform: ``U(-√(6/(fan_in+fan_out)), +√(6/(fan_in+fan_out)))``."""
    fan_in, fan_out = _fans(shape)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def torch_linear(shape: Shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """PyTorch's ``nn.Linear`` default: ``U(-1/√fan_in, 1/√fan_in)``."""
    fan_in, _ = _fans(shape)
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def zeros(shape: Shape, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    """All zeros (the usual bias initialisation)."""
    reserve(shape)
    return np.zeros(shape, dtype=dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "torch": torch_linear,
    "zeros": zeros,
}
# Common aliases, so that names from other libraries work too.
_ALIASES = {
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
    "xavier_normal": "glorot_normal",
    "xavier_uniform": "glorot_uniform",
    "pytorch": "torch",
}

_DEFAULT_FOR = {
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "leakyrelu": "he_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
    "softmax": "glorot_uniform",
    "identity": "glorot_uniform",
    "linear": "glorot_uniform",
}


def get(name: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Look an initialiser up by name (or return a callable unchanged)."""
    if callable(name):
        return name
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in INITIALIZERS:
        raise InputError(
            f"unknown initialiser {name!r}; choose one of {', '.join(sorted(INITIALIZERS))}"
        )
    return INITIALIZERS[key]


def default_for(activation: str) -> str:
    """The sensible initialiser for weights feeding ``activation`` (He for ReLU, else Glorot)."""
    key = str(activation).lower().replace("-", "_")
    if key not in _DEFAULT_FOR:
        raise InputError(
            f"no default initialiser for activation {activation!r}; "
            f"choose one of {', '.join(sorted(_DEFAULT_FOR))}"
        )
    return _DEFAULT_FOR[key]
