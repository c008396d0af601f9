r"""The transformer :class:`Block` of a GPT: attention and an MLP, each in a pre-norm residual."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import as_generator, check_positive
from ...errors import InputError
from ...layers import GELU, CausalSelfAttention, LayerNorm, Module, ReLU, RMSNorm
from .last_axis import LastAxisDense

__all__ = ["MLP_ACTIVATIONS", "NORMS", "Block", "make_norm"]

#: The normalisations a block can use (``norm=``).
NORMS = ("layernorm", "rmsnorm")
#: The activations of the MLP (``mlp_activation=``): GPT-2's GELU (tanh form) or ReLU.
MLP_ACTIVATIONS: dict[str, type[Module]] = {"gelu": GELU, "relu": ReLU}


def make_norm(norm: str, size: int, bias: bool, dtype: Any) -> LayerNorm | RMSNorm:
    """``LayerNorm(size, bias=bias)`` for ``"layernorm"``, ``RMSNorm(size)`` for ``"rmsnorm"``."""
    if norm == "layernorm":
        return LayerNorm(size, bias=bias, dtype=dtype)
    if norm == "rmsnorm":
        return RMSNorm(size, dtype=dtype)  # no shift to drop: RMSNorm has only a gain
    raise InputError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


class Block(Module):
    r"""One pre-norm transformer block (GPT-2): ``x + attn(norm1(x))``, then ``h + mlp(norm2(h))``.

    Attention is where positions exchange information; the MLP then works on each position
    alone. Each sits in a *residual* branch, added to its input, so that the identity
    path carries the signal (and the gradient) straight through a deep stack; the norm at
    the start of each branch ("pre-norm", GPT-2's change from the original transformer)
    keeps the branch inputs at unit scale.

    Parameters
    ----------
    embed_dim : int
        ``C``, the features per position (the width of the residual stream).
    num_heads : int
        Attention heads; ``embed_dim`` must be a multiple of it.
    norm : {"layernorm", "rmsnorm"}
        :class:`~scratchnn.layers.LayerNorm` or :class:`~scratchnn.layers.RMSNorm`.
    bias : bool
        Biases in the attention and MLP projections (and LayerNorm's shift ``β``).
    mlp_activation : {"gelu", "relu"}
        Between ``fc`` and ``proj``.
    mlp_ratio : int
        The MLP's hidden width is ``mlp_ratio · C`` (4 in GPT-2).
    rng : numpy.random.Generator or int, optional
        Source of the initial weights.
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    children : ``norm1``, ``attn`` (:class:`~scratchnn.layers.CausalSelfAttention`),
        ``norm2``, ``fc`` (``C → mlp_ratio·C``), ``act``, ``proj`` (``mlp_ratio·C → C``);
        their parameters are named ``attn.Wq``, ``fc.W``, ``norm1.gamma``, ...

    Math
    ----
    Input ``X`` ``(N, T, C)``; ``f.backward`` of a child ``f`` is its vector–Jacobian
    product ``(∂f/∂input)ᵀ d``::

        forward   H  = X + attn(norm1(X))                         attention branch   (A)
                  Y  = H + proj(act(fc(norm2(H))))                 MLP branch         (M)
        backward  dH = dY + norm2ᵀ(fcᵀ(actᵀ(projᵀ(dY))))          (M): Y = H + F(H), so
                                                                   ∂Y/∂H = I + ∂F/∂H: the
                                                                   two paths add
                  dX = dH + norm1ᵀ(attnᵀ(dH))                     (A): the same for X

    Examples
    --------
    >>> block = Block(8, 2, rng=0)
    >>> block.forward(np.ones((3, 5, 8), dtype=np.float32)).shape
    (3, 5, 8)
    >>> [name for name, _, _ in block.parameters()][:4]
    ['norm1.gamma', 'norm1.beta', 'attn.Wq', 'attn.Wk']
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        norm: str = "layernorm",
        bias: bool = True,
        mlp_activation: str = "gelu",
        mlp_ratio: int = 4,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        check_positive(embed_dim, "Block embed_dim", integer=True)
        check_positive(mlp_ratio, "Block mlp_ratio", integer=True)
        if mlp_activation not in MLP_ACTIVATIONS:
            raise InputError(
                f"mlp_activation must be one of {', '.join(MLP_ACTIVATIONS)}, got {mlp_activation!r}"
            )
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.norm, self.bias = norm, bool(bias)
        self.mlp_activation, self.mlp_ratio = mlp_activation, int(mlp_ratio)
        rng = as_generator(rng)
        C, F = self.embed_dim, self.mlp_ratio * self.embed_dim
        self.norm1 = self.add("norm1", make_norm(norm, C, self.bias, dtype))
        self.attn = self.add(
            "attn", CausalSelfAttention(C, num_heads, bias=self.bias, rng=rng, dtype=dtype)
        )
        self.norm2 = self.add("norm2", make_norm(norm, C, self.bias, dtype))
        self.fc = self.add("fc", LastAxisDense(C, F, bias=self.bias, rng=rng, dtype=dtype))
        self.act = self.add("act", MLP_ACTIVATIONS[mlp_activation]())
        self.proj = self.add("proj", LastAxisDense(F, C, bias=self.bias, rng=rng, dtype=dtype))

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        H = X + self.attn.forward(self.norm1.forward(X))  # (A)
        M = self.proj.forward(self.act.forward(self.fc.forward(self.norm2.forward(H))))
        return H + M  # (M)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        # (M) Y = H + MLP(H): the identity path gives dY, the MLP path its backward
        dM = self.act.backward(self.proj.backward(dY))
        dH = dY + self.norm2.backward(self.fc.backward(dM))
        # (A) H = X + attn(norm1(X)): the same two paths
        return dH + self.norm1.backward(self.attn.backward(dH))

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return self.attn.output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "norm": self.norm,
            "bias": self.bias,
            "mlp_activation": self.mlp_activation,
            "mlp_ratio": self.mlp_ratio,
        }
