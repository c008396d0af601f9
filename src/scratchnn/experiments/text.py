"""Text for the language models: the names split by name, laid out for each model, and scored.

:func:`~scratchnn.experiments.text.load_text_data` reads the names (``--data-dir``,
``$SCRATCHNN_DATA``, the cache), splits them *by name* with a fixed seed
(:func:`~scratchnn.datasets.split_names`, ``split_seed`` 0: every run, whatever its
``--seed``, is scored on the same names) and fits the tokenizer on the training names.

Each model trains on its own layout (``LanguageModelSpec.layout``,
:func:`training_arrays`), and what an *epoch* is follows from it:

=========== =========================================== =====================================
layout      one training example                        an epoch
=========== =========================================== =====================================
``stream``  ``block_size`` characters of the training   ``steps_per_epoch`` steps over a fixed
(GPT, RNN,  names joined by ``.``, at a random place,   set of ``steps_per_epoch ×
LSTM)       and the next character at each position     batch_size`` such windows, drawn once
                                                        from the seed (distinct starts), seen
                                                        in a new order every epoch
``windows`` ``block_size`` characters and the one       every pair of every training name
(MLP)       after them (:func:`~scratchnn.datasets.     once
            windows`)
``pairs``   one character and the next                  every pair of every training name
(bigram)                                                once
=========== =========================================== =====================================

A fixed set of windows is what lets ``fit`` run them: its data are arrays, checkpointed
by fingerprint, so the run resumes exactly; with the defaults (500 steps × 32 windows, 6
epochs) the GPT takes 3,000 steps, each window seen 6 times.

The layouts differ, so their training losses are not comparable: the score of a language
model here is :func:`name_loss`, the mean negative log-likelihood of *whole names*, each
read from the boundary ``.`` through its closing ``.`` (the closing boundary counts as a
character), in nats per character. That is what ``val_loss`` and ``test_loss`` of a run
and ``scratchnn evaluate --input`` report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datasets import (
    CharTokenizer,
    encode_batch,
    find_names,
    joined_stream,
    load_names,
    split_names,
    windows,
)
from ..errors import InputError
from ..models.lm import MLPLM, BigramLM, LanguageModel, sample

__all__ = [
    "TextData",
    "load_text_data",
    "name_loss",
    "sample_names",
    "scorable",
    "tokenizer_of",
    "training_arrays",
    "uniform_loss",
]


@dataclass
class TextData:
    """Names split by name into train/validation/test, and the tokenizer of the training names."""

    name: str
    train: list[str]
    val: list[str]
    test: list[str]
    tokenizer: CharTokenizer
    source: str = ""

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def load_text_data(config: Mapping[str, Any]) -> TextData:
    """The names of ``config["dataset"]``, split with ``split_seed`` in the config's fractions."""
    path = find_names(config.get("data_dir"))
    names = load_names(path)
    val, test = float(config["val_split"]), float(config["test_split"])
    train, val_names, test_names = split_names(
        names, seed=int(config["split_seed"]), fractions=(1 - val - test, val, test)
    )
    return TextData(
        str(config["dataset"]),
        train,
        val_names,
        test_names,
        CharTokenizer.fit(train),
        source=str(path),
    )


def training_arrays(
    layout: str,
    names: Sequence[str],
    tokenizer: CharTokenizer,
    config: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` for ``fit``: one row per training example of the layout (module docstring).

    ``stream``: ``X``, ``Y`` of shape ``(steps_per_epoch · batch_size, block_size)``, ``Y``
    the text one character further; ``windows``: ``X (M, block_size)``, ``Y (M,)``;
    ``pairs``: ``X (M,)``, ``Y (M,)``. ``rng`` draws the stream's windows.
    """
    if layout == "pairs":
        stream = joined_stream(names, tokenizer)
        return stream[:-1].copy(), stream[1:].copy()
    if layout == "windows":
        return windows(names, tokenizer, int(config["block_size"]))
    if layout != "stream":
        raise InputError(f"unknown layout {layout!r}; expected stream, windows or pairs")
    stream = joined_stream(names, tokenizer)
    T = int(config["block_size"])
    count = int(config["steps_per_epoch"]) * int(config["batch_size"])
    starts = len(stream) - T  # a window and its targets span T + 1 characters
    if starts < 1:
        raise InputError(
            f"the training names hold {len(stream):,} characters, too few for windows of "
            f"--block-size {T}; use a smaller block size or more names"
        )
    first = rng.choice(starts, size=count, replace=count > starts)
    spans = np.lib.stride_tricks.sliding_window_view(stream, T + 1)[first]
    return spans[:, :-1].copy(), spans[:, 1:].copy()


# -- scoring whole names ------------------------------------------------------------------
def _context(model: LanguageModel) -> int | None:
    """The longest input a sequence model reads at once (a GPT's block size), else None."""
    return getattr(model, "block_size", None)


def scorable(
    model: LanguageModel, names: Sequence[str], tokenizer: CharTokenizer
) -> tuple[list[str], list[str]]:
    """``(names the model can score, names it cannot)``: the latter hold a character the
    tokenizer does not know (or the boundary character itself)."""
    kept, _ = tokenizer.known(names)
    known = set(kept)
    return kept, [name for name in names if name not in known]


def _nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``-log softmax(logits)[target]`` over the last axis, in float64 (log-sum-exp trick)."""
    Z = logits.astype(np.float64)
    Z -= Z.max(axis=-1, keepdims=True)
    log_sum = np.log(np.exp(Z).sum(axis=-1))
    picked = np.take_along_axis(Z, np.maximum(targets, 0)[..., None], axis=-1)[..., 0]
    return log_sum - picked


def _sequence_nll(model: LanguageModel, chunk: list[str], tokenizer: CharTokenizer) -> np.ndarray:
    """Every character's NLL for a model that reads ``(N, T)`` and predicts every position.

    A name longer than the model's context (a GPT's block size) is read with the boundary
    and its first ``block_size - 1`` characters, then each later character from the
    ``block_size`` characters before it, as :func:`~scratchnn.models.lm.sample` reads.
    """
    batch = encode_batch(chunk, tokenizer)
    block = _context(model)
    inputs, targets, mask = batch.inputs, batch.targets, batch.mask
    if block is None or inputs.shape[1] <= block:
        return _nll(model.forward(inputs, training=False), targets)[mask]
    head = _nll(model.forward(inputs[:, :block], training=False), targets[:, :block])
    losses = [head[mask[:, :block]]]
    later = np.argwhere(mask[:, block:])  # (name, position) past the context
    later[:, 1] += block
    spans = np.lib.stride_tricks.sliding_window_view(inputs, block, axis=1)
    contexts = spans[later[:, 0], later[:, 1] - block + 1]  # the block ending at the position
    last = model.forward(contexts, training=False)[:, -1]
    losses.append(_nll(last, targets[later[:, 0], later[:, 1]]))
    return np.concatenate(losses)


def name_loss(
    model: LanguageModel,
    names: Sequence[str],
    tokenizer: CharTokenizer,
    batch_size: int = 512,
) -> tuple[float, int]:
    """``(nats per character, characters)`` of whole names, each from ``.`` through ``.``.

    The mean over every predicted character, the closing boundary included (``len(name) +
    1`` per name), of ``-ln p(character | the characters before it in its name)``: the same
    number for every model, whatever its training layout. Names are scored in batches of
    ``batch_size``, in evaluation mode; a name with a character the tokenizer does not know
    is an error (:func:`scorable` sorts them out first).

    >>> tok = CharTokenizer.fit(["ab", "ba"])
    >>> uniform = BigramLM(tok.vocab_size, rng=0)
    >>> uniform.table.params["W"][...] = 0.0  # every next character equally likely
    >>> loss, count = name_loss(uniform, ["ab", "b"], tok)
    >>> count, round(loss, 4) == round(math.log(3), 4)
    (5, True)
    """
    names = list(names)
    if not names:
        raise InputError("no names to score; pass at least one name")
    total, count = 0.0, 0
    for first in range(0, len(names), batch_size):
        chunk = names[first : first + batch_size]
        if isinstance(model, MLPLM):
            X, Y = windows(chunk, tokenizer, model.block_size)
            nll = _nll(model.forward(X, training=False), Y)
        elif isinstance(model, BigramLM):
            stream = joined_stream(chunk, tokenizer)  # ".a.b." holds each name's pairs
            nll = _nll(model.forward(stream[:-1], training=False), stream[1:])
        else:
            nll = _sequence_nll(model, chunk, tokenizer)
        total += float(nll.sum())
        count += int(nll.size)
    return total / count, count


def sample_names(
    model: LanguageModel,
    tokenizer: CharTokenizer,
    n: int,
    rng: np.random.Generator | int | None,
    temperature: float = 1.0,
    top_k: int | None = None,
    max_len: int = 50,
) -> list[str]:
    """``n`` names drawn from ``model`` (:func:`~scratchnn.models.lm.sample`), as text.

    Each is drawn from the boundary to the boundary, which is stripped; one that reached
    ``max_len`` characters first is cut there.
    """
    drawn = sample(
        model, n, rng=rng, temperature=temperature, top_k=top_k, boundary_id=0, max_len=max_len
    )
    return [tokenizer.decode(ids).strip(tokenizer.boundary) for ids in drawn]


def tokenizer_of(model: Any, source: object) -> CharTokenizer:
    """The tokenizer saved in a language model's metadata; a one-line error for other models.

    ``source`` names the model file in the message.
    """
    config = (getattr(model, "metadata", None) or {}).get("tokenizer")
    if not isinstance(model, LanguageModel) or config is None:
        trained = (getattr(model, "metadata", None) or {}).get("dataset")
        what = f"a {type(model).__name__}" + (f" trained on {trained}" if trained else "")
        raise InputError(
            f"{source}: not a language model ({what}); pass the run folder or model.npz of "
            "'scratchnn train --dataset names'"
        )
    try:
        return CharTokenizer.from_config(config)
    except InputError as exc:
        raise InputError(f"{source}: the tokenizer in its metadata is damaged ({exc})") from None


def uniform_loss(tokenizer: CharTokenizer) -> float:
    """``ln V``: the loss of a model that knows nothing, in nats per character."""
    return math.log(tokenizer.vocab_size)
