"""What a GPT attends to: the attention pattern of every head for one sequence.

Each panel is one head's ``P`` (:attr:`~scratchnn.layers.CausalSelfAttention.last_attention`)
for one name: row ``t`` is the position reading the name's first ``t + 1`` tokens (and
predicting the token after them), column ``j`` how much of its output comes from position
``j``. Rows sum to 1 and everything above the diagonal is 0: a position never sees the future.

>>> import numpy as np
>>> from scratchnn.models.lm import GPT
>>> model = GPT(5, block_size=4, embed_dim=8, num_heads=2, num_layers=2, rng=0)
>>> fig = attention_maps(model, [0, 1, 2, 3], list(".abc"))
>>> len(fig.axes)  # 2 blocks × 2 heads, and a colour bar
5
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError, ShapeError
from ..models.lm import GPT
from ._style import new_figure, save_figure

__all__ = ["attention_maps"]


def attention_maps(
    model: GPT,
    ids: Sequence[int],
    labels: Sequence[str],
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """One heat map per block and head of a GPT's attention over the token ids ``ids``.

    Parameters
    ----------
    model : GPT
        Its blocks' attention layers keep the probabilities of their last forward pass.
    ids : sequence of int
        One sequence, at most ``block_size`` ids (e.g. ``"."`` and a name).
    labels : sequence of str
        The text of each id, for the axes.
    path : path-like, optional
        Where to write the PNG.
    title : str, optional
        Figure title.
    """
    if not isinstance(model, GPT):
        raise InputError(f"attention maps need a GPT, got {type(model).__name__}")
    ids = np.asarray(ids, dtype=np.intp)
    if ids.ndim != 1 or len(labels) != len(ids):
        raise ShapeError(
            f"pass one sequence of ids and one label per id; got ids of shape {ids.shape} and "
            f"{len(labels)} labels"
        )
    model.forward(ids[None], training=False)
    maps = [np.asarray(block.attn.last_attention[0], dtype=np.float64) for block in model.blocks]
    L, H, T = len(maps), maps[0].shape[0], len(ids)
    size = 1.0 + 0.16 * T  # inches per panel
    fig = new_figure(size * H + 1.2, size * L + 0.9)
    axes = fig.subplots(L, H, squeeze=False)
    image = None
    for l, P in enumerate(maps):
        for h in range(H):
            ax = axes[l, h]
            image = ax.imshow(P[h], cmap="Blues", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(T), labels, fontsize=8)
            ax.set_yticks(range(T), labels, fontsize=8)
            ax.tick_params(length=0)
            ax.set_title(f"block {l}, head {h}", fontsize=9)
            if l == L - 1:
                ax.set_xlabel("attends to", fontsize=8)
            if h == 0:
                ax.set_ylabel("position reading", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.7, label="attention weight")
    fig.suptitle(title or "attention of every head", fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig
