"""Multi-head causal self-attention (Vaswani et al., 2017), the mixing layer of a GPT."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_generator, check_positive, reserve
from ..errors import InputError, ShapeError
from .base import Layer, format_shape, sum_rows

__all__ = ["CausalSelfAttention"]

_PROJECTIONS = ("q", "k", "v")


def _mT(A: np.ndarray) -> np.ndarray:
    """Transpose the last two axes of a stack of matrices (``ndarray.mT`` needs NumPy 2)."""
    return A.swapaxes(-1, -2)


class CausalSelfAttention(Layer):
    r"""Multi-head scaled dot-product self-attention in which a position sees only the past.

    Input ``(N, T, C)``: ``N`` sequences of ``T`` positions with ``C = embed_dim`` features;
    output the same shape. Each of the ``H = num_heads`` heads works on ``d = C / H``
    features; position ``t`` attends to positions ``0..t`` only (the causal mask), so the
    output at ``t`` never depends on the input after ``t``.

    Parameters
    ----------
    embed_dim : int
        ``C``, the features per position; a multiple of ``num_heads``.
    num_heads : int
        ``H``, the number of heads.
    bias : bool
        Learn the biases ``bq, bk, bv, bo`` of the four projections.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights. ``None`` draws fresh entropy (not reproducible).
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``Wq, Wk, Wv, Wo`` of shape ``(C, C)`` (``(out, in)``, like ``nn.Linear.weight``)
        and, with ``bias``, ``bq, bk, bv, bo`` of shape ``(C,)``. All drawn from
        ``U(±1/√C)``, the default of four separate ``nn.Linear(C, C)`` (as in nanoGPT;
        ``nn.MultiheadAttention`` would start the input projections Glorot-uniform and
        the biases at 0).
    last_attention : numpy.ndarray
        The attention probabilities ``P`` of the last forward, ``(N, H, T, T)``: row ``t``
        of head ``h`` says how much position ``t`` took from each position (zero above the
        diagonal). For plots; backward reads it too, so do not modify it.

    Math
    ----
    Rows of ``X`` are positions; a projection is ``X @ W.T + b`` as in Dense, and its
    output ``(N, T, C)`` is split into heads ``(N, H, T, d)``. Matrix products are over
    the last two axes, batched over ``N`` and ``H``::

        forward   Q = X Wqᵀ + bq     K = X Wkᵀ + bk     V = X Wvᵀ + bv     (split into heads)
                  S = Q Kᵀ / √d                      scores, (N, H, T, T)
                  S[i, j] = -∞ for j > i             the causal mask
                  P = softmax(S) over j              exp(S - max_j S): no overflow; exp(-∞) = 0
                  A = P V                            (merged back to (N, T, C))
                  Y = A Woᵀ + bo
        backward  dWo = Σ dYᵀ A     dbo = Σ dY      dA = dY Wo            (Dense's BP4, BP3, BP2)
                  dP = dA Vᵀ        dV = Pᵀ dA                             (of A = P V)
                  dS = P ⊙ (dP - Σ_j dP ⊙ P)                               (softmax VJP)
                  dQ = dS K / √d    dK = dSᵀ Q / √d                        (of S = Q Kᵀ / √d)
                  dW· = Σ dZᵀ X     db· = Σ dZ      for (Z, W·) in (Q, Wq), (K, Wk), (V, Wv)
                  dX  = dQ Wq + dK Wk + dV Wv       X feeds all three projections

    The softmax VJP is the :class:`~scratchnn.layers.Softmax` layer's; masked entries have
    ``P = 0`` and so ``dS = 0``: no gradient reaches the future. ``max_j S`` is finite
    because the diagonal is never masked, so the probabilities stay finite and sum to 1
    for logits of any size (±1e4 included). ``dbk`` is zero up to rounding: a key bias adds
    ``q_i · bk`` to every score of row ``i``, a shift the softmax ignores (the rows of
    ``dS`` sum to 0); it is kept so that four ``nn.Linear`` weights copy over unchanged.

    References: Vaswani et al. (2017), *Attention is all you need*, §3.2; Radford et al.
    (2019), GPT-2, for the causal (decoder-only) use.

    Examples
    --------
    >>> import numpy as np
    >>> attn = CausalSelfAttention(8, 2, rng=np.random.default_rng(0))
    >>> attn.forward(np.ones((3, 5, 8), dtype=np.float32)).shape
    (3, 5, 8)
    >>> attn.last_attention.shape, float(attn.last_attention[0, 0, 0, 1])  # t=0 can't see t=1
    ((3, 2, 5, 5), 0.0)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        check_positive(embed_dim, "CausalSelfAttention embed_dim", integer=True)
        check_positive(num_heads, "CausalSelfAttention num_heads", integer=True)
        if embed_dim % num_heads:
            raise InputError(
                f"CausalSelfAttention embed_dim {embed_dim} is not a multiple of num_heads "
                f"{num_heads}; each head takes embed_dim / num_heads features"
            )
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.bias = bool(bias)
        rng = as_generator(rng)
        C = self.embed_dim
        bound = 1.0 / math.sqrt(C)  # nn.Linear(C, C): U(±1/√fan_in) for weight and bias
        reserve((4, C, C), "four attention weights")
        for p in ("q", "k", "v", "o"):
            self.params[f"W{p}"] = rng.uniform(-bound, bound, (C, C)).astype(dtype)
        if self.bias:
            for p in ("q", "k", "v", "o"):
                self.params[f"b{p}"] = rng.uniform(-bound, bound, C).astype(dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._X: np.ndarray | None = None  # and Q, K, V (split into heads), A: backward's cache
        self._Q = self._K = self._V = self._A = None
        self.last_attention: np.ndarray | None = None

    # -- heads ----------------------------------------------------------------------------
    def _split(self, Z: np.ndarray) -> np.ndarray:
        """``(N, T, C) -> (N, H, T, d)``: head ``h`` owns features ``h·d .. (h+1)·d - 1``."""
        N, T, _ = Z.shape
        return Z.reshape(N, T, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, Z: np.ndarray) -> np.ndarray:
        """``(N, H, T, d) -> (N, T, C)``, the inverse of :meth:`_split`."""
        N, _, T, _ = Z.shape
        return Z.transpose(0, 2, 1, 3).reshape(N, T, self.embed_dim)

    def _project(self, X: np.ndarray, p: str) -> np.ndarray:
        Z = X @ self.params[f"W{p}"].T
        if self.bias:
            Z += self.params[f"b{p}"]
        return Z

    # -- forward and backward -------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        if X.ndim != 3 or X.shape[-1] != self.embed_dim:
            raise ShapeError(
                f"{self._name()} got input of shape {X.shape}; expected (N, T, {self.embed_dim})"
            )
        T = X.shape[1]
        Q, K, V = (self._split(self._project(X, p)) for p in _PROJECTIONS)
        S = (Q @ _mT(K)) * (1.0 / math.sqrt(self.head_dim))  # Python float keeps the dtype
        future = np.triu(np.ones((T, T), dtype=bool), k=1)  # j > i
        S = np.where(future, -np.inf, S)
        S -= S.max(axis=-1, keepdims=True)  # finite: the diagonal is never masked
        P = np.exp(S)  # exactly 0 where masked
        P /= P.sum(axis=-1, keepdims=True)
        A = self._merge(P @ V)
        self._X, self._Q, self._K, self._V, self._A = X, Q, K, V, A
        self.last_attention = P
        return self._project(A, "o")

    def backward(self, dY: np.ndarray) -> np.ndarray:
        X = self._cached("_X")
        P = self._cached("last_attention")
        Q, K, V, A = self._Q, self._K, self._V, self._A
        if dY.shape != X.shape:
            raise ShapeError(
                f"{self._name()}.backward got dY of shape {dY.shape}; expected {X.shape}"
            )
        scale = 1.0 / math.sqrt(self.head_dim)
        dA = self._linear_backward("o", dY, A)  # dA = dY Wo
        dA = self._split(dA)
        dP = dA @ _mT(V)  # dP = dA Vᵀ
        dV = _mT(P) @ dA  # dV = Pᵀ dA
        dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))  # dS = P ⊙ (dP - Σ_j dP ⊙ P)
        dQ = (dS @ K) * scale  # dQ = dS K / √d
        dK = (_mT(dS) @ Q) * scale  # dK = dSᵀ Q / √d
        dX = self._linear_backward("q", self._merge(dQ), X)
        dX += self._linear_backward("k", self._merge(dK), X)
        dX += self._linear_backward("v", self._merge(dV), X)  # dX = dQ Wq + dK Wk + dV Wv
        return dX

    def _linear_backward(self, p: str, dZ: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Dense's backward for ``Z = X W·ᵀ + b·`` over all ``N·T`` positions; returns ``dX``."""
        dZ2, X2 = dZ.reshape(-1, self.embed_dim), X.reshape(-1, self.embed_dim)
        np.matmul(dZ2.T, X2, out=self.grads[f"W{p}"])  # dW· = Σ dZᵀ X   (BP4)
        if self.bias:
            sum_rows(dZ2, out=self.grads[f"b{p}"])  # db· = Σ dZ     (BP3)
        return dZ @ self.params[f"W{p}"]  # dZ W·                         (BP2, first factor)

    # -- description ----------------------------------------------------------------------
    def _name(self) -> str:
        return f"CausalSelfAttention({self.embed_dim}, {self.num_heads})"

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != 3 or input_shape[-1] not in (None, self.embed_dim):
            raise ShapeError(
                f"{self._name()} cannot follow an output of shape {format_shape(input_shape)}: it "
                f"expects (N, T, {self.embed_dim}); make embed_dim match the previous layer"
            )
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads, "bias": self.bias}
