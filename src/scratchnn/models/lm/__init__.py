"""Language models over token ids, from counting pairs to a GPT, and sampling from them.

A reading order, each file one idea:

1. :mod:`~scratchnn.models.lm.base`: what a language model is here (ids in, next-token
   logits out, the mean negative log-likelihood per token as the loss);
2. :mod:`~scratchnn.models.lm.bigram`: :class:`BigramLM`, a ``(V, V)`` table of logits,
   by counting or by gradient descent: the same model;
3. :mod:`~scratchnn.models.lm.mlp`: :class:`MLPLM`, Bengio et al. (2003): embeddings of a
   fixed window, concatenated, one hidden layer;
4. :mod:`~scratchnn.models.lm.recurrent`: :class:`RNNLM` and :class:`LSTMLM`, a state that
   carries the whole prefix; :mod:`~scratchnn.models.lm.last_axis` holds the Dense layer
   they apply at every position;
5. :mod:`~scratchnn.models.lm.position`, :mod:`~scratchnn.models.lm.block` and
   :mod:`~scratchnn.models.lm.gpt`: learned positions, the pre-norm transformer
   :class:`Block`, and the :class:`GPT` with its :func:`microgpt` and :func:`gpt_names`
   presets;
6. :mod:`~scratchnn.models.lm.sampling`: :func:`sample`, from the boundary token to the
   boundary token, with a temperature and top-k.

Every model is a :class:`~scratchnn.Model`: it trains with ``model.fit(X_ids, Y_ids,
loss="ce")`` or the explicit loop of :mod:`scratchnn.loop`, saves and loads, and writes
its backward pass out by hand.

>>> import numpy as np
>>> from scratchnn.models.lm import GPT, sample
>>> model = GPT(5, block_size=4, embed_dim=8, num_heads=2, num_layers=1, rng=0)
>>> X = np.array([[0, 1, 2, 3], [0, 2, 1, 3]])          # ids, and the next token of each
>>> Y = np.array([[1, 2, 3, 0], [2, 1, 3, 0]])
>>> history = model.fit(X, Y, loss="ce", epochs=2, batch_size=2, seed=0, verbose=0)
>>> [seq[0] for seq in sample(model, 3, rng=0, max_len=10)]  # every sample starts at the boundary
[0, 0, 0]
"""

from .base import LanguageModel, token_ids
from .bigram import BigramLM
from .block import Block
from .gpt import GPT, MICROGPT, NAMES_GPT, gpt_names, microgpt
from .last_axis import LastAxisDense
from .mlp import MLPLM
from .position import PositionEmbedding
from .recurrent import LSTMLM, RNNLM
from .sampling import next_token_logits, probabilities, sample

__all__ = [
    "GPT",
    "LSTMLM",
    "MICROGPT",
    "MLPLM",
    "NAMES_GPT",
    "RNNLM",
    "BigramLM",
    "Block",
    "LanguageModel",
    "LastAxisDense",
    "PositionEmbedding",
    "gpt_names",
    "microgpt",
    "next_token_logits",
    "probabilities",
    "sample",
    "token_ids",
]
