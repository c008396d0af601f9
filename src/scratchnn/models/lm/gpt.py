r"""A GPT: token and position embeddings, a stack of transformer blocks, a next-token head.

Radford et al. (2018, 2019): a decoder-only transformer trained to predict the next token.
Every position reads the positions before it through causal self-attention, so one
forward pass over ``T`` tokens gives ``T`` next-token predictions, each from its own
prefix (``x_0 .. x_t`` for position ``t``), and the loss averages all of them.

:func:`microgpt` and :func:`gpt_names` are two ready configurations for the names data
set of *makemore* (27 tokens: the letters and the boundary ``.``).

References: A. Radford et al., "Improving Language Understanding by Generative
Pre-Training", 2018, and "Language Models are Unsupervised Multitask Learners" (GPT-2),
2019, §2.3 for the pre-norm blocks and the initialisation; A. Karpathy, nanoGPT and
microgpt.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._validation import as_generator, check_positive
from ...layers import Embedding
from ...model import Sequential
from .base import LanguageModel
from .block import Block, make_norm
from .last_axis import LastAxisDense
from .position import PositionEmbedding

__all__ = ["GPT", "MICROGPT", "NAMES_GPT", "gpt_names", "microgpt"]

#: Karpathy's microgpt design point (apart from the vocabulary): one block of 16-wide
#: embeddings, 4 heads, a context of 16, RMSNorm, no biases, ReLU in the MLP.
MICROGPT: dict[str, Any] = {
    "block_size": 16,
    "embed_dim": 16,
    "num_heads": 4,
    "num_layers": 1,
    "norm": "rmsnorm",
    "bias": False,
    "mlp_activation": "relu",
    "mlp_ratio": 4,
}

#: The reference configuration for the names data set: 64-wide embeddings, 4 heads,
#: 2 blocks, a context of 16 (LayerNorm, biases and GELU as in GPT-2).
NAMES_GPT: dict[str, Any] = {
    "block_size": 16,
    "embed_dim": 64,
    "num_heads": 4,
    "num_layers": 2,
}

#: GPT-2's initial standard deviation of every weight matrix and embedding.
INIT_STD = 0.02


class GPT(LanguageModel):
    r"""A decoder-only transformer: ids ``(N, T)`` with ``T ≤ block_size`` → logits ``(N, T, V)``.

    Parameters
    ----------
    vocab_size : int
        ``V``.
    block_size : int
        The longest context, ``T_max`` (the number of learned positions).
    embed_dim : int
        ``C``, the width of the residual stream.
    num_heads : int
        Attention heads per block (``C`` must be a multiple of it).
    num_layers : int
        ``L``, the number of :class:`~scratchnn.models.lm.block.Block`\ s.
    norm : {"layernorm", "rmsnorm"}
        In every block and before the head.
    bias : bool
        Biases in every projection, LayerNorm's shift and the head.
    mlp_activation : {"gelu", "relu"}
        The blocks' MLP activation.
    mlp_ratio : int
        The blocks' MLP hidden width is ``mlp_ratio · C``.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights.
    dtype : numpy dtype
        float32 (default) or float64.

    Attributes
    ----------
    children : ``tok_emb`` (:class:`~scratchnn.layers.Embedding` ``(V, C)``), ``pos_emb``
        (:class:`~scratchnn.models.lm.position.PositionEmbedding` ``(block_size, C)``),
        ``blocks`` (a :class:`~scratchnn.Sequential` of ``L`` blocks, ``blocks.0`` …),
        ``norm_f`` and ``head`` (:class:`~scratchnn.models.lm.last_axis.LastAxisDense`
        ``C → V``). Parameters are named ``tok_emb.W``, ``pos_emb.W``,
        ``blocks.0.attn.Wq``, ``blocks.1.fc.b``, ``norm_f.gamma``, ``head.W``, ...

    Math
    ----
    ``x`` ``(N, T)`` ids; ``f.backward`` is a child's vector–Jacobian product::

        forward   X_0 = tok_emb.W[x]                  (N, T, C) what each token is      (G1)
                  X_0 = X_0 + pos_emb.W[:T]           where it is                       (G2)
                  X_l = block_l(X_{l-1}), l = 1..L    (Block's own Math)                (G3)
                  Z   = head(norm_f(X_L))             (N, T, V) next-token logits       (G4)
        backward  dX_L = norm_fᵀ(headᵀ(dZ))           dhead.W = Σ_{n,t} dZᵀ · norm_f(X_L) (G4)
                  dX_{l-1} = block_lᵀ(dX_l), l = L..1  each adds its residual paths     (G3)
                  dpos_emb.W[t] = Σ_n dX_0[n, t]      the same vector in every sequence (G2)
                  dtok_emb.W[v] = Σ_{x[n,t]=v} dX_0[n, t]                               (G1)

    Initialisation (GPT-2, §2.3; nanoGPT): every weight matrix and both embeddings
    N(0, 0.02²), the two projections that write into the residual stream (``attn.Wo``,
    ``proj.W``) N(0, (0.02/√(2L))²) so that the stream's variance does not grow with
    depth, biases and LayerNorm's ``β`` 0, the gains ``γ`` 1. The initial logits are then
    close to 0 and the initial loss close to ``ln V``.

    Examples
    --------
    >>> model = GPT(27, block_size=8, embed_dim=16, num_heads=4, num_layers=2, rng=0)
    >>> model.forward(np.zeros((3, 8), dtype=np.intp)).shape
    (3, 8, 27)
    >>> [name for name, _, _ in model.parameters()][:5]
    ['tok_emb.W', 'pos_emb.W', 'blocks.0.norm1.gamma', 'blocks.0.norm1.beta', 'blocks.0.attn.Wq']
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        embed_dim: int,
        num_heads: int,
        num_layers: int,
        norm: str = "layernorm",
        bias: bool = True,
        mlp_activation: str = "gelu",
        mlp_ratio: int = 4,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(vocab_size, dtype)
        check_positive(block_size, "GPT block_size", integer=True)
        check_positive(num_layers, "GPT num_layers", integer=True)
        self.block_size, self.embed_dim = int(block_size), int(embed_dim)
        self.num_heads, self.num_layers = int(num_heads), int(num_layers)
        self.norm, self.bias = norm, bool(bias)
        self.mlp_activation, self.mlp_ratio = mlp_activation, int(mlp_ratio)
        rng = as_generator(rng)
        V, C, dt = self.vocab_size, self.embed_dim, self.dtype
        self.tok_emb = self.add("tok_emb", Embedding(V, C, rng=rng, dtype=dt))
        self.pos_emb = self.add("pos_emb", PositionEmbedding(self.block_size, C, rng=rng, dtype=dt))
        blocks = [
            Block(C, num_heads, norm, self.bias, mlp_activation, mlp_ratio, rng=rng, dtype=dt)
            for _ in range(self.num_layers)
        ]
        self.blocks = self.add("blocks", Sequential(blocks, dtype=dt))
        self.norm_f = self.add("norm_f", make_norm(norm, C, self.bias, dt))
        self.head = self.add("head", LastAxisDense(C, V, bias=self.bias, rng=rng, dtype=dt))
        self._init_weights(rng)

    def _init_weights(self, rng: np.random.Generator) -> None:
        """GPT-2's initialisation (see the class docstring), in place."""
        residual_std = INIT_STD / math.sqrt(2 * self.num_layers)
        for name, param, _ in self.parameters():
            key = name.rsplit(".", 1)[-1]
            if key.startswith("W"):  # W, Wq, Wk, Wv, Wo: matrices and embedding tables
                writes_residual = name.endswith(("attn.Wo", "proj.W"))
                std = residual_std if writes_residual else INIT_STD
                param[...] = rng.normal(0.0, std, param.shape)
            elif key != "gamma":  # every bias and LayerNorm's β
                param[...] = 0.0

    # -- forward and backward ---------------------------------------------------------------
    def forward(self, ids: np.ndarray, training: bool = True) -> np.ndarray:
        """Logits ``(N, T, V)``: at position ``t``, of the token after ``x_0 .. x_t``."""
        X = self.tok_emb.forward(ids)  # (G1)
        X = self.pos_emb.forward(X)  # (G2)
        for block in self.blocks:
            X = block.forward(X, training)  # (G3)
        return self.head.forward(self.norm_f.forward(X))  # (G4)

    def backward(self, dlogits: np.ndarray, input_grad: bool = True) -> None:
        """Set every gradient; ids have no gradient, so nothing is returned."""
        dX = self.norm_f.backward(self.head.backward(dlogits))  # (G4)
        for block in reversed(self.blocks.layers):
            dX = block.backward(dX)  # (G3)
        dX = self.pos_emb.backward(dX)  # (G2) dpos_emb.W[t] = Σ_n dX[n, t]
        self.tok_emb.param_grads(dX)  # (G1) dtok_emb.W[v] = Σ_{x = v} dX

    def get_config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "block_size": self.block_size,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "num_layers": self.num_layers,
            "norm": self.norm,
            "bias": self.bias,
            "mlp_activation": self.mlp_activation,
            "mlp_ratio": self.mlp_ratio,
            "dtype": self.dtype.name,
        }


def microgpt(
    vocab_size: int = 27, rng: np.random.Generator | int | None = None, dtype: Any = np.float32
) -> GPT:
    """Karpathy's microgpt design point as a :class:`GPT` (:data:`MICROGPT`).

    One block, ``C = 16``, 4 heads of 4 features, a context of 16 tokens, RMSNorm, no
    biases anywhere, a ReLU MLP of width 64. Three details differ from microgpt's own
    script: our RMSNorms learn a gain ``γ``, the embeddings are not normalised before the
    first block, and a final norm precedes the head (GPT-2's layout); so with 27 tokens
    this model has 4,240 parameters, microgpt 4,192 (its 48 fewer are our three ``γ``).

    >>> microgpt(rng=0).num_parameters
    4240
    """
    return GPT(vocab_size, **MICROGPT, rng=rng, dtype=dtype)


def gpt_names(
    vocab_size: int = 27, rng: np.random.Generator | int | None = None, dtype: Any = np.float32
) -> GPT:
    """The reference GPT for the names data set (:data:`NAMES_GPT`): ``C = 64``, 4 heads,
    2 blocks, a context of 16; LayerNorm, biases and GELU as in GPT-2.

    >>> gpt_names(rng=0).num_parameters  # 27·64 + 16·64 + 2·49,984 + 128 + 64·27 + 27
    104603
    """
    return GPT(vocab_size, **NAMES_GPT, rng=rng, dtype=dtype)
