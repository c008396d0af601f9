r"""Recurrent language models: embedding → RNN or LSTM → a next-token head at every step.

The recurrent layer carries a state ``h_t`` (and the LSTM a cell ``c_t``) that summarises
every token read so far, so the context has no fixed length: position ``t`` sees
``x_0 .. x_t``, through the state. The same head maps each ``h_t`` to the logits of
``x_{t+1}`` (Mikolov et al., 2010, for the RNN language model; Karpathy's *makemore*).

Because the state summarises the prefix, generation can carry it instead of re-reading
the prefix: ``forward(ids, state=model.final_state)`` continues where the last call
stopped (:func:`~scratchnn.models.lm.sampling.sample` does this).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import as_generator, check_positive
from ...layers import LSTM, RNN, Embedding
from .base import LanguageModel
from .last_axis import LastAxisDense

__all__ = ["LSTMLM", "RNNLM"]


class _RecurrentLM(LanguageModel):
    r"""What RNNLM and LSTMLM share: embedding, a recurrent child, a head at every step.

    Math
    ----
    With ``rnn`` the recurrent child (its own Math: :class:`~scratchnn.layers.RNN`,
    :class:`~scratchnn.layers.LSTM`)::

        forward   E  = embed.W[x]              (N, T, D)                                (R1)
                  H  = rnn(E, state)           (N, T, H)   h_t from x_0 .. x_t          (R2)
                  Z  = H @ head.Wᵀ + head.b    (N, T, V)   every step, one product      (R3)
        backward  dH = dZ @ head.W             dhead.W = Σ_{n,t} dZᵀ H, dhead.b = Σ dZ  (R3)
                  dE = rnn.backward(dH)        backpropagation through time             (R2)
                  dembed.W[v] = Σ_{x[n,t]=v} dE[n, t]                                   (R1)
    """

    _cell_name = "rnn"

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        rng: np.random.Generator | int | None,
        dtype: Any,
        **cell_options: Any,
    ) -> None:
        super().__init__(vocab_size, dtype)
        name = type(self).__name__
        check_positive(embed_dim, f"{name} embed_dim", integer=True)
        check_positive(hidden_size, f"{name} hidden_size", integer=True)
        self.embed_dim, self.hidden_size = int(embed_dim), int(hidden_size)
        rng = as_generator(rng)
        V, D, H = self.vocab_size, self.embed_dim, self.hidden_size
        self.embed = self.add("embed", Embedding(V, D, rng=rng, dtype=self.dtype))
        cell = self._make_cell(D, H, rng=rng, dtype=self.dtype, **cell_options)
        self.rnn = self.add(self._cell_name, cell)
        self.head = self.add("head", LastAxisDense(H, V, rng=rng, dtype=self.dtype))

    def _make_cell(self, D: int, H: int, **kwargs: Any) -> RNN | LSTM:
        raise NotImplementedError

    def forward(self, ids: np.ndarray, training: bool = True, state: Any = None) -> np.ndarray:
        """Logits ``(N, T, V)``; ``state`` is the recurrent child's initial state (zeros if None)."""
        E = self.embed.forward(ids)  # (R1)
        H = self.rnn.forward(E, training, state=state)  # (R2)
        return self.head.forward(H)  # (R3)

    @property
    def final_state(self) -> Any:
        """The state after the last forward, in the form ``forward(..., state=)`` takes."""
        return self.rnn.final_state

    def backward(self, dlogits: np.ndarray, input_grad: bool = True) -> None:
        """Set every gradient (BPTT over the whole sequence); ids have no gradient: returns None."""
        dH = self.head.backward(dlogits)  # (R3)
        dE = self.rnn.backward(dH)  # (R2)
        self.embed.param_grads(dE)  # (R1)


class RNNLM(_RecurrentLM):
    r"""Embedding → Elman RNN → next-token logits at every step.

    Parameters
    ----------
    vocab_size, embed_dim, hidden_size : int
        ``V``, ``D`` and ``H``.
    nonlinearity : {"tanh", "relu"}
        Of the RNN.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's defaults for each layer).
    dtype : numpy dtype
        float32 (default) or float64.

    Ids ``(N, T)`` give logits ``(N, T, V)``; see :class:`_RecurrentLM` for the Math.

    Attributes
    ----------
    params : ``embed.W (V, D)``, ``rnn.W_ih (H, D)``, ``rnn.W_hh (H, H)``, ``rnn.b_ih``,
        ``rnn.b_hh (H,)``, ``head.W (V, H)``, ``head.b (V,)``.

    Examples
    --------
    >>> model = RNNLM(10, embed_dim=4, hidden_size=8, rng=0)
    >>> model.forward(np.array([[1, 2, 3]])).shape, model.final_state.shape
    ((1, 3, 10), (1, 8))
    >>> [name for name, _, _ in model.parameters()]
    ['embed.W', 'rnn.W_ih', 'rnn.W_hh', 'rnn.b_ih', 'rnn.b_hh', 'head.W', 'head.b']
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, rng, dtype, nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity

    def _make_cell(self, D: int, H: int, **kwargs: Any) -> RNN:
        return RNN(D, H, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "hidden_size": self.hidden_size,
            "nonlinearity": self.nonlinearity,
            "dtype": self.dtype.name,
        }


class LSTMLM(_RecurrentLM):
    r"""Embedding → LSTM → next-token logits at every step.

    Parameters
    ----------
    vocab_size, embed_dim, hidden_size : int
        ``V``, ``D`` and ``H``.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's defaults for each layer).
    dtype : numpy dtype
        float32 (default) or float64.

    Ids ``(N, T)`` give logits ``(N, T, V)``; see :class:`_RecurrentLM` for the Math. The
    state is the pair ``(h, c)``.

    Attributes
    ----------
    params : ``embed.W (V, D)``, ``lstm.W_ih (4H, D)``, ``lstm.W_hh (4H, H)``,
        ``lstm.b_ih``, ``lstm.b_hh (4H,)``, ``head.W (V, H)``, ``head.b (V,)``.

    Examples
    --------
    >>> model = LSTMLM(10, embed_dim=4, hidden_size=8, rng=0)
    >>> model.forward(np.array([[1, 2, 3]])).shape, [s.shape for s in model.final_state]
    ((1, 3, 10), [(1, 8), (1, 8)])
    >>> model.num_parameters  # 10·4 + (32·4 + 32·8 + 2·32) + (10·8 + 10)
    578
    """

    _cell_name = "lstm"

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, rng, dtype)

    def _make_cell(self, D: int, H: int, **kwargs: Any) -> LSTM:
        return LSTM(D, H, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "hidden_size": self.hidden_size,
            "dtype": self.dtype.name,
        }
