r"""The neural probabilistic language model of Bengio et al. (2003): an MLP over a window.

Each of the ``block_size`` previous tokens is looked up in a shared embedding table ``C``,
the vectors are concatenated, and one hidden layer maps them to the logits of the next
token. Unlike the counts of a bigram or n-gram model, similar tokens get similar vectors,
so the model generalises to windows it has never seen (Bengio et al., §1; Karpathy's
*makemore*, part 2).

The model predicts **one** next token per window: inputs ``(N, block_size)``, logits
``(N, V)``, targets ``(N,)``. A sequence of ``L`` tokens gives ``L`` windows (padded at the
start with the boundary token, as :func:`~scratchnn.models.lm.sampling.sample` does).

Reference: Y. Bengio, R. Ducharme, P. Vincent and C. Jauvin, "A Neural Probabilistic
Language Model", JMLR 3, 2003 (its optional direct connections from the embeddings to the
output are left out, as in makemore).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import as_generator, check_positive
from ...errors import InputError, ShapeError
from ...layers import Dense, Embedding
from ...registry import MODULES
from .base import LanguageModel, token_ids

__all__ = ["MLPLM"]

_ACTIVATIONS = ("tanh", "relu", "gelu", "sigmoid", "leaky_relu")


class MLPLM(LanguageModel):
    r"""Embed the previous ``block_size`` tokens, concatenate, one hidden layer, next-token logits.

    Parameters
    ----------
    vocab_size : int
        ``V``.
    block_size : int
        ``B``, the tokens of context each prediction reads.
    embed_dim : int
        ``D``, the size of each token's vector (Bengio's ``m``).
    hidden : int
        ``K``, the units of the hidden layer (Bengio's ``h``).
    activation : str
        Of the hidden layer: ``"tanh"`` (Bengio's), ``"relu"``, ``"gelu"``, ``"sigmoid"``,
        ``"leaky_relu"``.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (Embedding N(0, 1), Dense PyTorch's default).
    dtype : numpy dtype
        float32 (default) or float64.

    Attributes
    ----------
    params : ``embed.W (V, D)`` (the table ``C``), ``fc.W (K, B·D)``, ``fc.b (K,)``,
        ``head.W (V, K)``, ``head.b (V,)``.

    Math
    ----
    For a batch of windows ``x`` ``(N, B)``::

        forward   E  = C[x]                      (N, B, D)   one vector per token        (M1)
                  X  = E.reshape(N, B·D)         concatenate the B vectors               (M2)
                  A  = act(X @ fc.Wᵀ + fc.b)     (N, K)      the hidden layer            (M3)
                  Z  = A @ head.Wᵀ + head.b      (N, V)      next-token logits           (M4)
        backward  dA = dZ @ head.W               dhead.W = dZᵀ A,  dhead.b = Σ dZ        (M4)
                  dX = (dA ⊙ act'(·)) @ fc.W     dfc.W, dfc.b the same way               (M3)
                  dE = dX.reshape(N, B, D)       a concatenation's backward splits       (M2)
                  dC[v] = Σ_{(n,t): x[n,t]=v} dE[n, t]   every occurrence adds           (M1)

    Examples
    --------
    >>> model = MLPLM(27, block_size=3, embed_dim=2, hidden=100, rng=0)
    >>> model.forward(np.zeros((4, 3), dtype=np.intp)).shape
    (4, 27)
    >>> [name for name, _, _ in model.parameters()]
    ['embed.W', 'fc.W', 'fc.b', 'head.W', 'head.b']
    >>> model.num_parameters  # makemore part 2's network: 27·2 + 6·100 + 100 + 100·27 + 27
    3481
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        embed_dim: int,
        hidden: int,
        activation: str = "tanh",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(vocab_size, dtype)
        for value, name in (
            (block_size, "block_size"),
            (embed_dim, "embed_dim"),
            (hidden, "hidden"),
        ):
            check_positive(value, f"MLPLM {name}", integer=True)
        key = activation.lower().replace("-", "_") if isinstance(activation, str) else activation
        if key not in _ACTIVATIONS:
            raise InputError(
                f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATIONS)}"
            )
        self.block_size, self.embed_dim, self.hidden = int(block_size), int(embed_dim), int(hidden)
        self.activation = key
        rng = as_generator(rng)
        V, B, D, K = self.vocab_size, self.block_size, self.embed_dim, self.hidden
        self.embed = self.add("embed", Embedding(V, D, rng=rng, dtype=self.dtype))
        self.fc = self.add("fc", Dense(B * D, K, rng=rng, dtype=self.dtype))
        self.act = self.add("act", MODULES.get(key)())
        self.head = self.add("head", Dense(K, V, rng=rng, dtype=self.dtype))

    def check_input(self, X: Any, name: str = "X") -> np.ndarray:
        """Windows of exactly ``block_size`` token ids, ``(N, block_size)``, as ``np.intp``."""
        ids = token_ids(X, self.vocab_size, name)
        if ids.ndim != 2 or ids.shape[1] != self.block_size:
            raise ShapeError(
                f"{name} has shape {ids.shape}; MLPLM reads windows of block_size = "
                f"{self.block_size} token ids, (N, {self.block_size})"
            )
        return ids

    def forward(self, ids: np.ndarray, training: bool = True) -> np.ndarray:
        """Logits ``(N, V)`` of the token after each window ``(N, block_size)``."""
        E = self.embed.forward(ids)  # (M1) E = C[x]
        X = E.reshape(E.shape[0], -1)  # (M2) concatenate
        A = self.act.forward(self.fc.forward(X, training), training)  # (M3)
        return self.head.forward(A, training)  # (M4)

    def backward(self, dlogits: np.ndarray, input_grad: bool = True) -> None:
        """Set every gradient; ids have no gradient, so nothing is returned."""
        dA = self.head.backward(dlogits)  # (M4)
        dX = self.fc.backward(self.act.backward(dA))  # (M3)
        dE = dX.reshape(dX.shape[0], self.block_size, self.embed_dim)  # (M2)
        self.embed.param_grads(dE)  # (M1)

    def get_config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "block_size": self.block_size,
            "embed_dim": self.embed_dim,
            "hidden": self.hidden,
            "activation": self.activation,
            "dtype": self.dtype.name,
        }
