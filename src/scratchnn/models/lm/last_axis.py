r""":class:`LastAxisDense`: one Dense layer applied at every position of a sequence."""

from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...layers import Dense

__all__ = ["LastAxisDense"]


class LastAxisDense(Dense):
    r"""A :class:`~scratchnn.layers.Dense` layer on the last axis: ``(..., in) -> (..., out)``.

    The same ``W`` and ``b`` act on the features of every position (PyTorch's
    ``nn.Linear`` on a 3-D tensor): the ``N·T`` positions of an ``(N, T, in)`` input are
    ``N·T`` rows of one Dense layer, so its gradients are Dense's summed over every
    position. Constructor, parameters and config are :class:`~scratchnn.layers.Dense`'s.

    Math
    ----
    With ``X`` reshaped to rows ``(N·T, in)`` and ``dY`` to ``(N·T, out)``::

        forward   Y[n, t] = X[n, t] @ W.T + b          every position, one product
        backward  dW = Σ_{n,t} dY[n, t]ᵀ X[n, t]        (BP4, summed over batch and time)
                  db = Σ_{n,t} dY[n, t]                 (BP3)
                  dX[n, t] = dY[n, t] @ W               (BP2, first factor)

    Examples
    --------
    >>> layer = LastAxisDense(4, 3, rng=0)
    >>> layer.forward(np.ones((2, 5, 4), dtype=np.float32)).shape
    (2, 5, 3)
    >>> [name for name, _, _ in layer.parameters()]
    ['W', 'b']
    """

    _lead: tuple[int, ...] = ()  # the leading axes of the last input, (N, T)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        if X.ndim < 2 or X.shape[-1] != self.in_features:
            raise ShapeError(
                f"LastAxisDense({self.in_features}, {self.out_features}) got input of shape "
                f"{X.shape}; expected (..., {self.in_features})"
            )
        self._lead = X.shape[:-1]
        Y = super().forward(X.reshape(-1, self.in_features))  # rows: every position
        return Y.reshape(*self._lead, self.out_features)

    def param_grads(self, dY: np.ndarray) -> None:
        """Set ``dW`` and ``db`` only, summed over every position."""
        super().param_grads(dY.reshape(-1, self.out_features))

    def backward(self, dY: np.ndarray) -> np.ndarray:
        dZ = dY.reshape(-1, self.out_features)
        super().param_grads(dZ)  # dW = Σ dZᵀ X, db = Σ dZ over all N·T rows
        return (dZ @ self.params["W"]).reshape(*self._lead, self.in_features)  # dX = dZ W

    def input_shape(self) -> None:
        return None  # any number of leading axes

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) < 2 or input_shape[-1] not in (None, self.in_features):
            raise ShapeError(
                f"LastAxisDense({self.in_features}, {self.out_features}) cannot follow an output "
                f"of shape {input_shape}: it expects (..., {self.in_features})"
            )
        return (*input_shape[:-1], self.out_features)
