"""The torch modules scratchnn needs that ``torch.nn`` does not have, built on first use.

Three scratchnn pieces have no single ``torch.nn`` module, so :func:`torch_twins` defines
small ones (inside a function, since PyTorch is imported only when used):

- ``RNNOutputs`` and ``LSTMOutputs``: ``nn.RNN`` and ``nn.LSTM`` returning only their
  outputs, so that they can sit in an ``nn.Sequential``; their parameters keep
  ``nn.LSTM``'s names (``weight_ih_l0``, ...);
- ``TorchCausalSelfAttention``: four ``nn.Linear`` (``q_proj``, ``k_proj``, ``v_proj``,
  ``o_proj``) around ``scaled_dot_product_attention(is_causal=True)``;
- ``TorchVAE``: scratchnn's ``encoder``, ``mu``, ``logvar`` and ``decoder`` children, with
  ``encode``, ``decode`` and a ``forward`` that takes the noise ε.

They are also this module's attributes (``scratchnn.interop.torch_twins.TorchVAE``), so
that a whole twin pickles: ``torch.save(net, path)``, ``torch.load(path, weights_only=False)``.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from ..errors import ScratchnnError

__all__ = ["import_torch", "torch_twins"]


def import_torch() -> Any:
    """Import PyTorch, or explain in one line how to install the optional extra."""
    try:
        import torch  # optional heavy dependency: only the twins need it
    except ImportError:
        raise ScratchnnError(
            'this needs PyTorch, an optional extra: pip install "scratchnn[torch]" '
            "(or pip install torch==2.13.0)"
        ) from None
    return torch


@functools.cache
def torch_twins(torch: Any) -> SimpleNamespace:
    """The torch modules this file defines, built once per imported ``torch``."""
    nn, F = torch.nn, torch.nn.functional

    class RNNOutputs(nn.RNN):
        """``nn.RNN`` returning only the outputs, ``(N, T, H)``, as scratchnn's RNN does."""

        def forward(self, x, hx=None):
            return super().forward(x, hx)[0]

    class LSTMOutputs(nn.LSTM):
        """``nn.LSTM`` returning only the outputs, ``(N, T, H)``, as scratchnn's LSTM does."""

        def forward(self, x, hx=None):
            return super().forward(x, hx)[0]

    class TorchCausalSelfAttention(nn.Module):
        """scratchnn's CausalSelfAttention: four ``nn.Linear(C, C)`` around causal SDPA."""

        def __init__(self, embed_dim: int, num_heads: int, bias: bool = True) -> None:
            super().__init__()
            self.num_heads = num_heads
            for p in "qkvo":
                setattr(self, f"{p}_proj", nn.Linear(embed_dim, embed_dim, bias=bias))

        def forward(self, x):
            N, T, C = x.shape
            heads = [
                p(x).view(N, T, self.num_heads, C // self.num_heads).transpose(1, 2)
                for p in (self.q_proj, self.k_proj, self.v_proj)
            ]
            A = F.scaled_dot_product_attention(*heads, is_causal=True)  # softmax(QKᵀ/√d) V
            return self.o_proj(A.transpose(1, 2).reshape(N, T, C))

    class TorchVAE(nn.Module):
        """scratchnn's VAE: encoder, μ and logvar heads, decoder; ``config`` is its own."""

        def __init__(self, encoder, mu, logvar, decoder, config: dict[str, Any]) -> None:
            super().__init__()
            self.encoder, self.mu, self.logvar, self.decoder = encoder, mu, logvar, decoder
            self.config = dict(config)

        def encode(self, x):
            H = self.encoder(x)
            return self.mu(H), self.logvar(H)

        def decode(self, z):
            return self.decoder(z)

        def forward(self, x, eps=None):
            """``(out, mu, logvar)`` with ``z = mu + exp(logvar / 2) * eps``, as scratchnn's."""
            mu, logvar = self.encode(x)
            eps = torch.randn_like(mu) if eps is None else eps
            return self.decode(mu + torch.exp(0.5 * logvar) * eps), mu, logvar

    twins = (RNNOutputs, LSTMOutputs, TorchCausalSelfAttention, TorchVAE)
    for cls in twins:
        cls.__qualname__ = cls.__name__  # pickle finds it as a module attribute (below)
    return SimpleNamespace(**{cls.__name__: cls for cls in twins})


_TWIN_NAMES = ("RNNOutputs", "LSTMOutputs", "TorchCausalSelfAttention", "TorchVAE")


def __getattr__(name: str) -> Any:
    """``torch_twins.TorchVAE`` and the others as module attributes (PEP 562), built on
    first use: how pickle finds them, so ``torch.save(twin)`` and ``torch.load`` work."""
    if name in _TWIN_NAMES:
        return getattr(torch_twins(import_torch()), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
