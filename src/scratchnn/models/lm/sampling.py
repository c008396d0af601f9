r"""Sampling from a language model: one token at a time, each drawn from ``p(· | prefix)``.

The makemore convention: one token, the *boundary* (``.`` in the names data set, id 0 by
default), both starts and ends a sequence. A sample starts as ``[boundary]``; the model
gives the logits of the next token, a token is drawn and appended, and so on until the
boundary is drawn again (or ``max_len`` tokens were drawn)::

    ids = [boundary]
    while True:
        z = logits of the next token given ids        (how depends on the model, below)
        p = softmax(z / temperature), only the top_k largest kept
        t ~ p;  ids.append(t)
        if t == boundary: stop

What each model reads to give the next logits:

- :class:`~scratchnn.models.lm.bigram.BigramLM`: the last token only (all it uses);
- :class:`~scratchnn.models.lm.mlp.MLPLM`: the last ``block_size`` tokens, padded on the
  left with the boundary while the prefix is shorter (the window makemore starts from);
- :class:`~scratchnn.models.lm.recurrent.RNNLM` and ``LSTMLM``: the newest token and the
  state carried from the previous step, ``forward(ids[:, -1:], state=final_state)``.
  The state summarises the whole prefix, so this gives the same logits as re-reading it
  (the tests check it) at a cost of one step per token instead of ``t``;
- :class:`~scratchnn.models.lm.gpt.GPT` (and any other model): the whole prefix, cropped
  to the last ``block_size`` tokens once it is longer.

The ``n`` samples are drawn together as the rows of one batch; a row that has ended keeps
being computed (and ignored) until every row has ended, so that each step draws exactly
``n`` uniforms and the same generator state gives the same samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import as_generator, check_positive
from ...errors import InputError
from .bigram import BigramLM
from .mlp import MLPLM
from .recurrent import LSTMLM, RNNLM

__all__ = ["next_token_logits", "probabilities", "sample"]


def probabilities(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    r"""``softmax(logits / temperature)`` over the last axis, keeping only the ``top_k`` largest.

    Math
    ----
    With ``m = max_j z_j`` and ``K`` the indices of the ``top_k`` largest logits (ties go
    to the lower id; ``top_k ≥ V`` keeps all)::

        p_j = exp((z_j - m)/τ) / Σ_{i ∈ K} exp((z_i - m)/τ)   for j ∈ K,   0 otherwise

    Subtracting ``m`` first (a no-op mathematically) keeps every exponent ``≤ 0``: no
    overflow for logits of any size, and as ``τ → 0`` every exponent but the largest's
    tends to ``-∞``, so the distribution tends to the greedy choice ``argmax z``; ``τ > 1``
    flattens it. Computed in float64 whatever the logits' dtype.

    Examples
    --------
    >>> probabilities(np.array([[2.0, 1.0, 0.0]]), top_k=2).round(3)
    array([[0.731, 0.269, 0.   ]])
    >>> probabilities(np.array([[1e4, 0.0]]), temperature=1e-9)
    array([[1., 0.]])
    """
    check_positive(temperature, "temperature")
    Z = np.array(logits, dtype=np.float64)
    if top_k is not None:
        check_positive(top_k, "top_k", integer=True)
        if top_k < Z.shape[-1]:
            order = np.argsort(-Z, axis=-1, kind="stable")  # largest first, ties: lower id
            np.put_along_axis(Z, order[..., top_k:], -np.inf, axis=-1)
    Z -= Z.max(axis=-1, keepdims=True)  # the largest is 0, the rest ≤ 0 (or -inf)
    with np.errstate(over="ignore"):  # (z - m)/τ may overflow to -inf for tiny τ: exp → 0
        Z /= temperature
    P = np.exp(Z)
    P /= P.sum(axis=-1, keepdims=True)
    return P


def _draw(P: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``P`` ``(n, V)``, row ``i`` drawn with probabilities ``P[i]``.

    The inverse of the cumulative distribution: ``u ~ U[0, 1)`` falls in the interval
    ``[c_{j-1}, c_j)`` of exactly one ``j``, whose width is ``p_j``; an index of zero
    probability has an empty interval and is never drawn. ``c`` is divided by its last
    entry so that it ends at exactly 1 > u (as NumPy's ``Generator.choice`` does).
    """
    c = np.cumsum(P, axis=1)
    c /= c[:, -1:]
    u = rng.random(P.shape[0])
    return np.sum(c <= u[:, None], axis=1)  # the first j with c_j > u


def next_token_logits(
    model: Any, ids: np.ndarray, boundary_id: int = 0, state: Any = None
) -> tuple[np.ndarray, Any]:
    """Logits ``(n, V)`` of the token after each row of ``ids`` ``(n, t)``, and the state.

    ``state`` is only used (and returned) by the recurrent models: pass what the previous
    call returned, or ``None`` at the start, when ``ids`` is the whole prefix. See the module
    docstring for what each model reads.
    """
    if isinstance(model, (RNNLM, LSTMLM)):
        context = ids if state is None else ids[:, -1:]  # the state holds the rest
        logits = model.forward(context, training=False, state=state)
        return logits[:, -1], model.final_state
    if isinstance(model, MLPLM):
        B = model.block_size
        window = np.full((ids.shape[0], B), boundary_id, dtype=np.intp)
        recent = ids[:, -B:]
        window[:, B - recent.shape[1] :] = recent  # left-padded with the boundary
        return model.forward(window, training=False), None
    if isinstance(model, BigramLM):
        return model.forward(ids[:, -1:], training=False)[:, -1], None
    block_size = getattr(model, "block_size", None)
    context = ids if block_size is None else ids[:, -block_size:]
    return model.forward(context, training=False)[:, -1], None


def sample(
    model: Any,
    n: int,
    rng: np.random.Generator | int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    boundary_id: int = 0,
    max_len: int = 100,
) -> list[list[int]]:
    """``n`` sequences of token ids drawn from ``model``, each from the boundary to the boundary.

    Parameters
    ----------
    model : LanguageModel
        A :class:`BigramLM`, :class:`MLPLM`, :class:`RNNLM`, :class:`LSTMLM` or
        :class:`GPT` (or any model with ``vocab_size`` whose ``forward`` gives ``(N, T, V)``).
    n : int
        Number of samples.
    rng : numpy.random.Generator or int, optional
        Source of the draws; the same seed gives the same samples.
    temperature : float
        ``τ > 0``: logits are divided by it (below 1 sharper, above 1 flatter, → 0 greedy).
    top_k : int, optional
        Draw only among the ``top_k`` most likely tokens (``top_k=1``: greedy decoding).
    boundary_id : int
        The token that starts and ends a sequence.
    max_len : int
        At most this many tokens are drawn after the starting boundary.

    Returns
    -------
    list of list of int
        Each starts with ``boundary_id`` and ends with it, unless ``max_len`` tokens were
        drawn first; no boundary in between. Turning ids into text is the tokenizer's job.

    Raises
    ------
    InputError
        A non-positive temperature, top_k, n or max_len, or a boundary id outside the
        vocabulary.
    """
    check_positive(n, "n", integer=True)
    check_positive(max_len, "max_len", integer=True)
    check_positive(temperature, "temperature")
    if top_k is not None:
        check_positive(top_k, "top_k", integer=True)
    V = model.vocab_size
    if isinstance(boundary_id, bool) or not isinstance(boundary_id, (int, np.integer)):
        raise InputError(f"boundary_id must be an integer token id, got {boundary_id!r}")
    if not 0 <= boundary_id < V:
        raise InputError(f"boundary_id {boundary_id} is not a token id; ids are in [0, {V})")
    rng = as_generator(rng)
    ids = np.full((n, 1), boundary_id, dtype=np.intp)
    ended = np.zeros(n, dtype=bool)
    state = None
    for _ in range(max_len):
        logits, state = next_token_logits(model, ids, boundary_id, state)
        token = _draw(probabilities(logits, temperature, top_k), rng)
        token[ended] = boundary_id  # an ended row only pads; it is cut off below
        ids = np.concatenate([ids, token[:, None]], axis=1)
        ended |= token == boundary_id
        if ended.all():
            break
    samples = []
    for row in ids.tolist():
        end = row.index(boundary_id, 1) + 1 if boundary_id in row[1:] else len(row)
        samples.append(row[:end])
    return samples
