"""Token embeddings: integer ids in, learned vectors out (PyTorch's ``nn.Embedding``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_generator, check_positive, reserve
from ..errors import InputError
from .base import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    r"""A lookup table: row ``W[x]`` for each integer id ``x``.

    Input: ids of shape ``(N, T)`` (a batch of sequences) or ``(N,)``, any integer dtype,
    or floats holding whole numbers (what ``fit`` passes after converting ``X`` to the
    model's dtype). Output: ``(N, T, D)`` or ``(N, D)``.

    Parameters
    ----------
    num_embeddings : int
        Vocabulary size ``V``: ids must lie in ``[0, V)``.
    embedding_dim : int
        Size ``D`` of each vector.
    rng : numpy.random.Generator or int, optional
        Source of the initial table. ``None`` draws fresh entropy (not reproducible).
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``W``, shape ``(V, D)``, drawn from N(0, 1) as PyTorch's ``nn.Embedding.weight``
        is, so that weight copies over unchanged.

    Math
    ----
    Looking row ``x`` up is the product of the one-hot row ``e_x`` with ``W``, so the
    gradient is the transposed product: each row of ``W`` receives the sum of ``dY`` over
    every position where its id occurs::

        forward   Y[n, t] = W[X[n, t]]             Y = onehot(X) @ W
        backward  dW[v]   = Σ_{(n,t): X[n,t]=v} dY[n, t]     dW = onehot(X)ᵀ @ dY
                  dX      = 0                       ids are not differentiable

    ``backward`` returns zeros of the ids' shape rather than ``None``, so that a layer
    placed before it (or :func:`~scratchnn.gradcheck.check_model`) still gets an array;
    :class:`~scratchnn.model.Sequential` with ``input_grad=False`` (what ``fit`` does)
    calls :meth:`param_grads` and skips even that.

    Examples
    --------
    >>> import numpy as np
    >>> emb = Embedding(10, 4, rng=np.random.default_rng(0))
    >>> emb.forward(np.array([[1, 2, 1]])).shape
    (1, 3, 4)
    >>> emb.backward(np.ones((1, 3, 4), dtype=np.float32)).shape  # zeros, one per id
    (1, 3)
    >>> emb.grads["W"][1]  # id 1 occurs twice
    array([2., 2., 2., 2.], dtype=float32)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        check_positive(num_embeddings, "Embedding num_embeddings", integer=True)
        check_positive(embedding_dim, "Embedding embedding_dim", integer=True)
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        reserve(shape, "an embedding table")
        self.params["W"] = as_generator(rng).standard_normal(shape).astype(dtype)
        self.grads = {"W": np.zeros_like(self.params["W"])}
        self._ids: np.ndarray | None = None

    def _check_ids(self, X: Any) -> np.ndarray:
        """``X`` as ``intp`` ids, or a one-line error saying what is wrong with it."""
        X = np.asarray(X)
        name = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        if X.dtype.kind not in "iuf":
            raise InputError(f"{name} got ids of dtype {X.dtype}; pass integer token ids")
        if X.dtype.kind == "f" and not np.array_equal(X, np.round(X)):  # NaN fails here too
            raise InputError(f"{name} got non-integer ids; pass integer token ids")
        if X.size:
            low, high = X.min().item(), X.max().item()  # before any cast can wrap them
            if low < 0 or high >= self.num_embeddings:
                bad = low if low < 0 else high
                raise InputError(
                    f"{name} got id {bad:g}; ids must be in [0, {self.num_embeddings})"
                )
        return X.astype(np.intp, copy=False)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._ids = self._check_ids(X)
        return self.params["W"][self._ids]  # fancy indexing: a new array, safe to modify

    def param_grads(self, dY: np.ndarray) -> None:
        """Set ``dW`` only: all a first layer needs, since ids have no gradient."""
        ids = self._cached("_ids")
        dW = self.grads["W"]
        dW.fill(0)
        ids, dY = ids.reshape(-1), dY.reshape(-1, self.embedding_dim)
        # dW = onehot(X)ᵀ dY: row v of dW is the sum of dY over the positions whose id is v.
        # The plain form is np.add.at(dW, ids, dY) (not dW[ids] += dY, which adds a repeated
        # id only once); it is 5× slower than sorting the positions by id and summing each
        # run of equal ids with one reduceat (358 µs against 70 µs for the GPT's 512
        # positions); tests hold the two to each other.
        if ids.size:
            order = np.argsort(ids, kind="stable")
            sorted_ids = ids[order]
            starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
            dW[sorted_ids[starts]] = np.add.reduceat(dY[order], starts, axis=0)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        self.param_grads(dY)
        return np.zeros(self._ids.shape, dtype=dY.dtype)  # dX = 0: ids are not differentiable

    def input_shape(self) -> tuple[int | None, ...]:
        return (None, None)  # (N, T) ids; (N,) works too but declares nothing

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape, self.embedding_dim)

    def get_config(self) -> dict[str, Any]:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim}
