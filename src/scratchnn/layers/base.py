"""The :class:`Layer` interface every layer implements.

A layer maps a batch ``X`` (examples as rows) to ``Y`` in :meth:`Layer.forward`, keeps
what its backward needs, and in :meth:`Layer.backward` turns ``dY = ∂L/∂Y`` into
``dX = ∂L/∂X``, *setting* (not accumulating) the gradients of its parameters in
``grads`` on the way. ``params`` and ``grads`` have the same keys (``"W"``, ``"b"``).

Writing your own layer takes three methods; check it with :mod:`scratchnn.gradcheck`:

>>> import numpy as np
>>> from scratchnn.layers import Layer
>>> class Square(Layer):
...     '''Y = X², so dX = 2 X ⊙ dY.'''
...     def forward(self, X, training=True):
...         self._X = X
...         return X * X
...     def backward(self, dY):
...         X = self._cached("_X")
...         return 2 * X * dY
>>> Square().forward(np.array([[1.0, -2.0]]))
array([[1., 4.]])
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import NotFittedError

__all__ = ["LAYERS", "Layer"]

#: Every layer class by name, so a saved architecture can be rebuilt without pickle.
LAYERS: dict[str, type[Layer]] = {}


class Layer:
    """Base class of all layers.

    Attributes
    ----------
    params : dict[str, numpy.ndarray]
        Trainable arrays, updated in place by the optimizers.
    grads : dict[str, numpy.ndarray]
        ∂L/∂param for the last batch, same keys and shapes as ``params``; set by ``backward``.
    buffers : dict[str, numpy.ndarray]
        Non-trainable state that belongs to the model, such as BatchNorm's running
        statistics: converted by :meth:`astype`, saved and loaded with the parameters
        (:meth:`Sequential.state_dict`), never seen by an optimizer. Keys differ from ``params``'.
    """

    #: True for layers that behave differently in training and evaluation (Dropout, BatchNorm).
    has_training_mode: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYERS[cls.__name__] = cls

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    # -- the two methods every layer implements ------------------------------------------
    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """Compute ``Y`` from ``X`` (a batch, examples as rows) and keep what backward needs."""
        raise NotImplementedError

    def backward(self, dY: np.ndarray) -> np.ndarray:
        """Given ``dY = ∂L/∂Y`` for the last forward, set ``grads`` and return ``dX = ∂L/∂X``."""
        raise NotImplementedError

    def __call__(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        return self.forward(X, training=training)

    # -- helpers ------------------------------------------------------------------------
    def _cached(self, name: str) -> Any:
        """Return what ``forward`` saved under ``name``, or explain that forward must run first."""
        value = getattr(self, name, None)
        if value is None:
            raise NotFittedError(
                f"{type(self).__name__}.backward was called before forward; "
                "call forward(X) on a batch first"
            )
        return value

    def input_shape(self) -> tuple[int | None, ...] | None:
        """The input shape this layer declares (``(None, in_features)`` for Dense), if any."""
        return None

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Shape of ``Y`` for an input of ``input_shape`` (``None`` = unknown, e.g. the batch).

        Raises :class:`~scratchnn.errors.ShapeError` if the input cannot fit this layer.
        """
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values, to rebuild the layer without pickle."""
        return {}

    @property
    def num_parameters(self) -> int:
        """Number of trainable scalars."""
        return int(sum(p.size for p in self.params.values()))

    def astype(self, dtype: Any) -> Layer:
        """Convert parameters, gradients and buffers to ``dtype`` (replacing the arrays); returns self."""
        dtype = np.dtype(dtype)
        for key in list(self.params):
            self.params[key] = np.ascontiguousarray(self.params[key], dtype=dtype)
            self.grads[key] = np.zeros_like(self.params[key])
        self._convert_buffers(dtype)
        return self

    def _convert_buffers(self, dtype: np.dtype) -> None:
        """Convert non-trainable state (``buffers``, e.g. running statistics) to ``dtype``."""
        for key in list(self.buffers):
            self.buffers[key] = np.ascontiguousarray(self.buffers[key], dtype=dtype)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
