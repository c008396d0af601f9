r""":class:`PositionEmbedding`: a learned vector per position, added to the token vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import as_generator, check_positive, reserve
from ...errors import ShapeError
from ...layers import Module

__all__ = ["PositionEmbedding"]


class PositionEmbedding(Module):
    r"""``Y[n, t] = X[n, t] + W[t]``: where a token is, added to what it is (GPT-2's ``wpe``).

    Attention alone is blind to order (permuting the positions permutes its outputs), so
    each position ``t < block_size`` gets a learned vector, the same for every sequence.

    Parameters
    ----------
    block_size : int
        ``T_max``, the number of positions.
    embed_dim : int
        ``C``, the size of each vector.
    rng : numpy.random.Generator or int, optional
        Source of the initial vectors, N(0, 1) like :class:`~scratchnn.layers.Embedding`'s
        (:class:`~scratchnn.models.lm.gpt.GPT` re-draws them with std 0.02).
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``W`` of shape ``(block_size, C)``.

    Math
    ----
    Input ``X`` ``(N, T, C)`` with ``T ≤ block_size``::

        forward   Y[n, t] = X[n, t] + W[t]
        backward  dW[t]   = Σ_n dY[n, t]     W[t] is added to every sequence: the batch sums
                  dW[t]   = 0 for t ≥ T      positions the batch did not reach
                  dX      = dY               an addition passes the gradient through

    Examples
    --------
    >>> pos = PositionEmbedding(4, 2, rng=0)
    >>> Y = pos.forward(np.zeros((3, 2, 2), dtype=np.float32))
    >>> bool((Y[1] == pos.params["W"][:2]).all())
    True
    >>> _ = pos.backward(np.ones((3, 2, 2), dtype=np.float32))
    >>> pos.grads["W"]
    array([[3., 3.],
           [3., 3.],
           [0., 0.],
           [0., 0.]], dtype=float32)
    """

    def __init__(
        self,
        block_size: int,
        embed_dim: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        check_positive(block_size, "PositionEmbedding block_size", integer=True)
        check_positive(embed_dim, "PositionEmbedding embed_dim", integer=True)
        self.block_size, self.embed_dim = int(block_size), int(embed_dim)
        shape = (self.block_size, self.embed_dim)
        reserve(shape, "a position embedding")
        self.params["W"] = as_generator(rng).standard_normal(shape).astype(dtype)
        self.grads = {"W": np.zeros_like(self.params["W"])}
        self._T: int | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        if X.ndim != 3 or X.shape[-1] != self.embed_dim or X.shape[1] > self.block_size:
            raise ShapeError(
                f"PositionEmbedding({self.block_size}, {self.embed_dim}) got input of shape "
                f"{X.shape}; expected (N, T, {self.embed_dim}) with T ≤ {self.block_size}"
            )
        self._T = X.shape[1]
        return X + self.params["W"][: self._T]  # broadcast over the batch

    def backward(self, dY: np.ndarray) -> np.ndarray:
        T = self._cached("_T")
        dW = self.grads["W"]
        np.sum(dY, axis=0, out=dW[:T])  # dW[t] = Σ_n dY[n, t]
        dW[T:] = 0
        return dY  # dX = dY

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"block_size": self.block_size, "embed_dim": self.embed_dim}
