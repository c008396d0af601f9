r"""What every language model here shares: token ids in, logits of the next token out.

A language model reads integer token ids and returns, at every position ``t``, logits
``Z[n, t]`` over the ``V`` tokens of the vocabulary for the token that comes *next*, so
``softmax(Z[n, t])`` is the model's ``p(x_{t+1} | x_0 .. x_t)``. Trained with
:class:`~scratchnn.losses.cross_entropy.SoftmaxCrossEntropy` on targets shifted by one (``Y[n, t] =
X[n, t + 1]``), the loss is the mean negative log-likelihood per token, in nats: ``ln V``
for a model that knows nothing (uniform logits), lower as it learns.

:class:`LanguageModel` is the :class:`~scratchnn.Model` the four models derive from. It
replaces the float-feature ``check_input`` of a classifier with one for token ids
(:func:`token_ids`): integers in ``[0, V)``, returned as ``np.intp`` indices, never as
floats; it declares ``output_dim = V`` so that ``fit`` checks the targets against the
vocabulary, and gives every model a :meth:`~LanguageModel.summary` of its parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import as_array, check_positive
from ...errors import InputError, ShapeError
from ...model import Model

__all__ = ["LanguageModel", "token_ids"]


def token_ids(X: Any, vocab_size: int, name: str = "X") -> np.ndarray:
    """``X`` as ``np.intp`` token ids in ``[0, vocab_size)``, or a one-line error.

    Integer arrays are taken as they are; floats are accepted only if every value is a
    whole number (what ``np.loadtxt`` gives), as class labels are.

    >>> token_ids([[1, 2], [0, 3]], 4).dtype == np.intp
    True
    >>> token_ids([[1, 4]], 4)
    Traceback (most recent call last):
      ...
    scratchnn.errors.InputError: X has token id 4; ids must be in [0, 4), the model's vocabulary
    """
    arr = as_array(X, name)
    if arr.dtype.kind not in "iuf":
        raise InputError(
            f"{name} has dtype {arr.dtype}; pass integer token ids in [0, {vocab_size})"
        )
    if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):  # NaN fails here too
        raise InputError(
            f"{name} has non-integer values; pass integer token ids in [0, {vocab_size})"
        )
    if arr.ndim == 0 or arr.size == 0:
        raise ShapeError(f"{name} has shape {arr.shape}: no tokens; pass at least one sequence")
    low, high = arr.min().item(), arr.max().item()  # compared before any cast can wrap them
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise InputError(
            f"{name} has token id {bad:g}; ids must be in [0, {vocab_size}), the model's vocabulary"
        )
    return arr.astype(np.intp, copy=False)


class LanguageModel(Model):
    """Base class of the language models: a :class:`~scratchnn.Model` over token ids.

    Subclasses call ``super().__init__(vocab_size, dtype)``, add their children, and write
    ``forward(ids) -> logits`` and ``backward(dlogits, input_grad=True) -> None`` (ids are
    not differentiable, so there is no input gradient to return).

    Attributes
    ----------
    vocab_size : int
        ``V``: ids lie in ``[0, V)`` and the logits have ``V`` columns.
    block_size : int or None
        The longest context the model reads (``None``: any length).
    """

    #: The longest context the model reads; ``None`` for the models that read any length.
    block_size: int | None = None

    def __init__(self, vocab_size: int, dtype: Any = np.float32) -> None:
        super().__init__(dtype)
        check_positive(vocab_size, "vocab_size", integer=True)
        self.vocab_size = int(vocab_size)

    @property
    def output_dim(self) -> int:
        """``V``: one logit per token of the vocabulary (targets are checked against it)."""
        return self.vocab_size

    def check_input(self, X: Any, name: str = "X") -> np.ndarray:
        """``X`` as ``(N, T)`` ``np.intp`` token ids (``T ≤ block_size`` if the model has one)."""
        ids = token_ids(X, self.vocab_size, name)
        if ids.ndim != 2:
            raise ShapeError(
                f"{name} has shape {ids.shape}; {type(self).__name__} reads token ids of shape (N, T)"
            )
        if self.block_size is not None and ids.shape[1] > self.block_size:
            raise ShapeError(
                f"{name} has sequences of {ids.shape[1]} tokens but block_size is "
                f"{self.block_size}; pass at most the last {self.block_size} tokens"
            )
        return ids

    def summary(self) -> str:
        """Every parameter with its shape and size, and the total (returned, not printed)."""
        rows = [("parameter", "shape", "size")]
        rows += [(name, str(p.shape), f"{p.size:,}") for name, p, _ in self.parameters()]
        widths = [max(len(row[c]) for row in rows) for c in range(3)]
        line = "-" * (sum(widths) + 4)
        out = [repr(self), line]
        for j, (name, shape, size) in enumerate(rows):
            out.append(f"{name:<{widths[0]}}  {shape:<{widths[1]}}  {size:>{widths[2]}}")
            if j == 0:
                out.append(line)
        out += [line, f"total parameters: {self.num_parameters:,} ({self.dtype.name})"]
        return "\n".join(out)
