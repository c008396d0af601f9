r"""The bigram language model: the next token depends on the current one only.

Two ways to the same model (Karpathy's *makemore*, part 1):

- **counting**: ``p(b | a) = count(a → b) / count(a → ·)``, the maximum-likelihood
  estimate, with pseudo-counts so that no pair gets probability 0
  (:meth:`BigramLM.from_counts`);
- **gradient descent** on a ``(V, V)`` table of logits ``W``, whose row ``a`` is the
  next-token logits after ``a``. Looking row ``a`` up is ``onehot(a) @ W``: the model is a
  one-layer linear network on one-hot inputs, trained like any other with the
  cross-entropy loss. Its minimum is the counting solution, so training approaches the
  loss of the counts (the tests check it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import check_positive
from ...errors import ShapeError
from ...layers import Embedding
from .base import LanguageModel, token_ids

__all__ = ["BigramLM"]


class BigramLM(LanguageModel):
    r"""Next-token logits from a ``(V, V)`` table: ``logits = W[x]``.

    Parameters
    ----------
    vocab_size : int
        ``V``.
    rng : numpy.random.Generator or int, optional
        Source of the initial table, N(0, 1) as :class:`~scratchnn.layers.Embedding`'s.
    dtype : numpy dtype
        float32 (default) or float64.

    Input ids ``(N, T)`` give logits ``(N, T, V)`` (targets ``(N, T)``, the ids shifted by
    one); single tokens ``(N,)`` give ``(N, V)`` (targets ``(N,)``: the pairs ``(a, b)``).

    Attributes
    ----------
    params : ``table.W`` of shape ``(V, V)``: row ``a`` holds the logits of the token after
        ``a``; ``softmax(W[a])`` is ``p(· | a)``.

    Math
    ----
    The table is an :class:`~scratchnn.layers.Embedding` of width ``V``::

        forward   Z[n, t] = W[x[n, t]]                       Z = onehot(x) @ W      (B1)
        backward  dW[a]   = Σ_{(n,t): x[n,t]=a} dZ[n, t]      dW = onehot(x)ᵀ @ dZ   (B1ᵀ)

    With the cross-entropy's ``dZ = (softmax(Z) - onehot(y)) / M`` over ``M`` tokens, row
    ``a`` of ``dW`` is ``count(a → ·) p(· | a) - count(a → ·)`` over ``M``: zero exactly
    when ``p(b | a) = count(a → b) / count(a → ·)``, the counting solution.

    Examples
    --------
    >>> model = BigramLM(5, rng=0)
    >>> model.forward(np.array([[0, 3, 1]])).shape
    (1, 3, 5)
    >>> [name for name, _, _ in model.parameters()]
    ['table.W']
    """

    def __init__(
        self,
        vocab_size: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(vocab_size, dtype)
        V = self.vocab_size
        self.table = self.add("table", Embedding(V, V, rng=rng, dtype=self.dtype))

    def check_input(self, X: Any, name: str = "X") -> np.ndarray:
        """Token ids ``(N,)`` or ``(N, T)`` as ``np.intp``."""
        ids = token_ids(X, self.vocab_size, name)
        if ids.ndim > 2:
            raise ShapeError(f"{name} has shape {ids.shape}; BigramLM reads ids (N,) or (N, T)")
        return ids

    def forward(self, ids: np.ndarray, training: bool = True) -> np.ndarray:
        """Logits of the next token, ``(N, T, V)`` (or ``(N, V)`` for ids ``(N,)``)."""
        return self.table.forward(ids)  # (B1) Z = W[x]

    def backward(self, dlogits: np.ndarray, input_grad: bool = True) -> None:
        """Set ``dW``; ids have no gradient, so nothing is returned (whatever ``input_grad``)."""
        self.table.param_grads(dlogits)  # (B1ᵀ) dW = onehot(x)ᵀ dZ

    @classmethod
    def from_counts(
        cls,
        ids: Any,
        targets: Any,
        smoothing: float = 1.0,
        vocab_size: int | None = None,
        dtype: Any = np.float32,
    ) -> BigramLM:
        r"""The bigram model by counting: ``W[a, b] = log((count(a → b) + s) / Σ_c (count(a → c) + s))``.

        Parameters
        ----------
        ids, targets : array-like of int, same shape
            The pairs ``(a, b) = (ids[i], targets[i])``: each token and the one after it.
        smoothing : float
            ``s > 0``, pseudo-counts added to every pair (add-one, Laplace, for ``s = 1``):
            no pair gets probability 0, and a row never seen is uniform. As ``s → 0`` the
            table tends to the maximum-likelihood estimate, the minimum of the training loss.
        vocab_size : int, optional
            ``V``; by default one more than the largest id seen.
        dtype : numpy dtype
            Of the table.

        Examples
        --------
        >>> model = BigramLM.from_counts([0, 0, 1], [1, 1, 0], smoothing=1.0, vocab_size=2)
        >>> np.exp(model.table.params["W"]).round(3)  # p(1|0) = (2+1)/(2+2), p(0|1) = 2/3
        array([[0.25 , 0.75 ],
               [0.667, 0.333]], dtype=float32)
        """
        check_positive(smoothing, "smoothing")
        if vocab_size is not None:
            check_positive(vocab_size, "vocab_size", integer=True)
        limit = np.iinfo(np.intp).max if vocab_size is None else vocab_size
        ids, targets = token_ids(ids, limit, "ids"), token_ids(targets, limit, "targets")
        if ids.shape != targets.shape:
            raise ShapeError(
                f"ids have shape {ids.shape} but targets {targets.shape}; pass one target per id"
            )
        if vocab_size is None:
            vocab_size = int(max(ids.max(), targets.max())) + 1
        ids, targets = ids.reshape(-1), targets.reshape(-1)
        counts = np.zeros((vocab_size, vocab_size), dtype=np.float64)
        np.add.at(counts, (ids, targets), 1.0)  # counts[a, b] = number of pairs a → b
        counts += smoothing
        model = cls(vocab_size, rng=0, dtype=dtype)
        model.table.params["W"][...] = np.log(counts / counts.sum(axis=1, keepdims=True))
        return model

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "dtype": self.dtype.name}
