"""Recurrent layers with backpropagation through time: :class:`RNN` (Elman) and :class:`LSTM`.

Both are batch-first and single-layer, with parameters named and shaped exactly as in
PyTorch's ``nn.RNN``/``nn.LSTM`` (``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``; suffix ``_l0``
dropped), so weights copy one-to-one.

The state API, the same for both:

* ``forward(X, training=True, state=None)``: ``X`` is ``(N, T, D)``; ``state`` is the
  initial state, ``h0`` of shape ``(N, H)`` for the RNN and ``(h0, c0)`` for the LSTM
  (PyTorch's ``(1, N, H)`` without the layer axis); ``None`` means zeros.
* after forward, ``h_n`` (and the LSTM's ``c_n``) hold the final state and
  ``final_state`` returns it in the form ``state`` takes, so
  ``layer.forward(X_next, state=layer.final_state)`` continues a sequence.
* ``backward(dY, dstate=None)``: ``dY`` is ``(N, T, H)``; ``dstate`` (same form as
  ``state``) is the gradient reaching the final state from later use, ``None`` for zeros.
  Afterwards ``dh0`` (and the LSTM's ``dc0``) hold the gradient of the initial state.

The time loop is Python; each step is one ``(N, H) @ (H, gH)`` product over the whole
batch. The input projection ``X W_ihᵀ`` of every step is one product before the loop, and
the weight gradients one product each after it. Inside, arrays are time-major
``(T, N, ·)`` so that each step reads and writes one contiguous block.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_generator, check_positive, reserve
from ..errors import InputError, ShapeError
from .base import Layer, format_shape, sum_rows

__all__ = ["LSTM", "RNN"]


class _Recurrent(Layer):
    """What RNN and LSTM share: parameters, the input projection, weight gradients, shapes."""

    _num_gates = 1  # g in the (gH, ·) weight shapes: 1 for the RNN, 4 for the LSTM

    def __init__(self, input_size, hidden_size, bias, rng, dtype) -> None:
        super().__init__()
        name = type(self).__name__
        check_positive(input_size, f"{name} input_size", integer=True)
        check_positive(hidden_size, f"{name} hidden_size", integer=True)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.bias = bool(bias)
        rng = as_generator(rng)
        D, H, gH = self.input_size, self.hidden_size, self._num_gates * self.hidden_size
        bound = 1.0 / math.sqrt(H)  # PyTorch: every parameter U(±1/√hidden_size)
        shapes = {"W_ih": (gH, D), "W_hh": (gH, H)}
        if self.bias:
            shapes.update(b_ih=(gH,), b_hh=(gH,))
        for key, shape in shapes.items():
            reserve(shape, key)
            self.params[key] = rng.uniform(-bound, bound, shape).astype(dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._X: np.ndarray | None = None
        self.h_n: np.ndarray | None = None
        self.dh0: np.ndarray | None = None

    def _name(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _check_input(self, X: np.ndarray) -> None:
        if X.ndim != 3 or X.shape[-1] != self.input_size:
            raise ShapeError(
                f"{self._name()} got input of shape {X.shape}; expected (N, T, {self.input_size})"
            )

    def _initial(self, value: Any, X: np.ndarray, what: str) -> np.ndarray:
        """An initial state (or its gradient) as an ``(N, H)`` array; zeros for ``None``."""
        shape = (X.shape[0], self.hidden_size)
        if value is None:
            return np.zeros(shape, dtype=X.dtype)
        value = np.asarray(value, dtype=X.dtype)
        if value.shape != shape:
            raise ShapeError(f"{self._name()} got {what} of shape {value.shape}; expected {shape}")
        return value

    def _input_projection(self, X: np.ndarray) -> np.ndarray:
        """``X W_ihᵀ + b_ih + b_hh`` for every step at once, time-major ``(T, N, gH)``."""
        T, N, D = X.shape[1], X.shape[0], X.shape[2]
        # one (T·N, D) product instead of T batched ones: 1.5× faster for the names LSTM
        rows = np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(T * N, D)
        Z = (rows @ self.params["W_ih"].T).reshape(T, N, -1)
        if self.bias:
            Z += self.params["b_ih"] + self.params["b_hh"]  # both biases add to every step
        return Z

    def _weight_grads(self, dZ: np.ndarray, H_prev: np.ndarray) -> np.ndarray:
        """Set every parameter gradient from the pre-activation gradients; return ``dX``.

        ``dZ`` is ``(T, N, gH)`` and ``H_prev`` the state each step read, ``(T, N, H)``.
        Summing a step's Dense-like gradients over time is one product over ``T·N`` rows.
        """
        X = self._cached("_X").transpose(1, 0, 2)  # time-major, like dZ
        dZ2 = dZ.reshape(-1, dZ.shape[-1])
        self.grads["W_ih"][...] = dZ2.T @ X.reshape(-1, self.input_size)  # dW_ih = Σ_t dZ_tᵀ x_t
        self.grads["W_hh"][...] = dZ2.T @ H_prev.reshape(-1, self.hidden_size)  # Σ_t dZ_tᵀ h_{t-1}
        if self.bias:
            sum_rows(dZ2, out=self.grads["b_ih"])  # db = Σ_t dZ_t
            self.grads["b_hh"][...] = self.grads["b_ih"]  # the same sum: both add to Z_t
        return (dZ @ self.params["W_ih"]).transpose(1, 0, 2).copy()  # dx_t = dZ_t W_ih

    def _check_dY(self, dY: np.ndarray, Hs: np.ndarray) -> np.ndarray:
        expected = (Hs.shape[1], Hs.shape[0] - 1, self.hidden_size)
        if dY.shape != expected:
            raise ShapeError(
                f"{self._name()}.backward got dY of shape {dY.shape}; expected {expected}"
            )
        return dY.transpose(1, 0, 2)  # time-major view

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != 3 or input_shape[-1] not in (None, self.input_size):
            raise ShapeError(
                f"{self._name()} cannot follow an output of shape {format_shape(input_shape)}: it "
                f"expects (N, T, {self.input_size}); make input_size match the previous layer"
            )
        return (input_shape[0], input_shape[1], self.hidden_size)


class RNN(_Recurrent):
    r"""Elman recurrent network, single layer, batch-first, like ``nn.RNN(batch_first=True)``.

    Input ``(N, T, D)``; output the hidden states of every step, ``(N, T, H)``. The state
    API (``state=h0``, ``h_n``, ``final_state``, ``backward(dY, dstate)``, ``dh0``) is
    described in :mod:`scratchnn.layers.recurrent`.

    Parameters
    ----------
    input_size, hidden_size : int
        ``D`` and ``H``.
    nonlinearity : {"tanh", "relu"}
        ``f`` below, as in PyTorch.
    bias : bool
        Learn ``b_ih`` and ``b_hh`` (two biases, as PyTorch has; only their sum matters).
    rng : numpy.random.Generator or int, optional
        Source of the initial weights, all ``U(±1/√H)`` as in PyTorch.
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``W_ih (H, D)``, ``W_hh (H, H)``, ``b_ih (H,)``, ``b_hh (H,)``.

    Math
    ----
    For ``t = 1..T`` with ``h_0`` the initial state; backpropagation through time runs
    ``t = T..1`` with ``dh`` starting at ``dstate`` (zeros by default)::

        forward   Z_t  = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh
                  h_t  = f(Z_t)                     y_t = h_t
        backward  dh   = dh + dy_t                  h_t feeds y_t and step t + 1
                  dZ_t = dh ⊙ f'(Z_t)               tanh' = 1 - h_t²;  relu' = [h_t > 0]
                  dh   = dZ_t W_hh                  to h_{t-1}; after step 1 it is dh0
        then      dW_ih = Σ_t dZ_tᵀ x_t    dW_hh = Σ_t dZ_tᵀ h_{t-1}    db_ih = db_hh = Σ_t dZ_t
                  dx_t  = dZ_t W_ih

    (Rumelhart, Hinton & Williams, 1986; Werbos, 1990, for backpropagation through time.)

    Examples
    --------
    >>> import numpy as np
    >>> rnn = RNN(3, 5, rng=np.random.default_rng(0))
    >>> Y = rnn.forward(np.ones((2, 7, 3), dtype=np.float32))
    >>> Y.shape, rnn.h_n.shape, bool((rnn.h_n == Y[:, -1]).all())
    ((2, 7, 5), (2, 5), True)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise InputError(f"RNN nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity
        self._Hs: np.ndarray | None = None

    def forward(
        self, X: np.ndarray, training: bool = True, state: np.ndarray | None = None
    ) -> np.ndarray:
        self._check_input(X)
        T = X.shape[1]
        Z = self._input_projection(X)  # (T, N, H): x_t W_ihᵀ + b for every t
        # W_hhᵀ copied to C order once: each step's product is then 1.3× faster
        W_hh_T = np.ascontiguousarray(self.params["W_hh"].T)
        Hs = np.empty((T + 1, *Z.shape[1:]), dtype=Z.dtype)  # h_0, then the h of each step
        Hs[0] = self._initial(state, X, "state h0")
        for t in range(T):  # step t reads h_prev = Hs[t] and writes its h_t to Hs[t + 1]
            Z_t = Z[t] + Hs[t] @ W_hh_T  # Z_t = x_t W_ihᵀ + b + h_{t-1} W_hhᵀ
            Hs[t + 1] = np.tanh(Z_t) if self.nonlinearity == "tanh" else np.maximum(Z_t, 0)
        self._X, self._Hs = X, Hs
        self.h_n = Hs[T].copy()
        return Hs[1:].transpose(1, 0, 2).copy()  # batch-first; a copy so the cache stays ours

    @property
    def final_state(self) -> np.ndarray | None:
        """``h_n``, in the form ``forward(..., state=)`` takes."""
        return self.h_n

    def backward(self, dY: np.ndarray, dstate: np.ndarray | None = None) -> np.ndarray:
        Hs = self._cached("_Hs")
        dY = self._check_dY(dY, Hs)
        W_hh = self.params["W_hh"]
        dZ = np.empty(dY.shape, dtype=Hs.dtype)  # (T, N, H)
        dh = self._initial(dstate, self._X, "dstate")
        for t in reversed(range(dY.shape[0])):
            h_t = Hs[t + 1]
            dh = dh + dY[t]  # dh = dh + dy_t
            dZ[t] = dh * (1 - h_t * h_t) if self.nonlinearity == "tanh" else dh * (h_t > 0)
            dh = dZ[t] @ W_hh  # dh = dZ_t W_hh
        self.dh0 = dh
        return self._weight_grads(dZ, Hs[:-1])

    def get_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "nonlinearity": self.nonlinearity,
            "bias": self.bias,
        }


class LSTM(_Recurrent):
    r"""Long short-term memory (Hochreiter & Schmidhuber, 1997), like ``nn.LSTM(batch_first=True)``.

    Single layer, with the forget gate (Gers et al., 2000), as in PyTorch. Input
    ``(N, T, D)``; output the hidden states of every step, ``(N, T, H)``. The state API
    (``state=(h0, c0)``, ``h_n``, ``c_n``, ``final_state``, ``backward(dY, dstate)``,
    ``dh0``, ``dc0``) is described in :mod:`scratchnn.layers.recurrent`.

    Parameters
    ----------
    input_size, hidden_size : int
        ``D`` and ``H``.
    bias : bool
        Learn ``b_ih`` and ``b_hh`` (two biases, as PyTorch has; only their sum matters).
    rng : numpy.random.Generator or int, optional
        Source of the initial weights, all ``U(±1/√H)`` as in PyTorch.
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Attributes
    ----------
    params : ``W_ih (4H, D)``, ``W_hh (4H, H)``, ``b_ih (4H,)``, ``b_hh (4H,)``, the four
        gates stacked in PyTorch's order ``i, f, g, o`` (rows ``0:H`` are the input gate's).

    Math
    ----
    ``σ`` is the logistic function; ``[a | b]`` splits the ``4H`` columns into gates::

        forward   [Zi|Zf|Zg|Zo] = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh
                  i = σ(Zi)   f = σ(Zf)   g = tanh(Zg)   o = σ(Zo)
                  c_t = f ⊙ c_{t-1} + i ⊙ g
                  h_t = o ⊙ tanh(c_t)                          y_t = h_t
        backward  dh  = dh + dy_t                              h_t feeds y_t and step t + 1
                  do  = dh ⊙ tanh(c_t)
                  dc  = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))         c_t feeds h_t and c_{t+1}
                  di  = dc ⊙ g     dg = dc ⊙ i     df = dc ⊙ c_{t-1}
                  dZ_t = [di ⊙ i(1-i) | df ⊙ f(1-f) | dg ⊙ (1-g²) | do ⊙ o(1-o)]
                  dh  = dZ_t W_hh  dc = dc ⊙ f                 to h_{t-1}, c_{t-1}; finally dh0, dc0
        then      dW_ih, dW_hh, db_ih, db_hh, dx_t as for the RNN

    Examples
    --------
    >>> import numpy as np
    >>> lstm = LSTM(3, 5, rng=np.random.default_rng(0))
    >>> Y = lstm.forward(np.ones((2, 7, 3), dtype=np.float32))
    >>> Y.shape, lstm.params["W_ih"].shape, lstm.c_n.shape
    ((2, 7, 5), (20, 3), (2, 5))
    """

    _num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self._Hs: np.ndarray | None = None
        self._Cs: np.ndarray | None = None
        self._gate_values: np.ndarray | None = None
        self._tanh_Cs: np.ndarray | None = None
        self.c_n: np.ndarray | None = None
        self.dc0: np.ndarray | None = None

    def forward(
        self,
        X: np.ndarray,
        training: bool = True,
        state: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_input(X)
        T, H = X.shape[1], self.hidden_size
        h0, c0 = (None, None) if state is None else _pair(state, "state", "(h0, c0)")
        Z = self._input_projection(X)  # (T, N, 4H): x_t W_ihᵀ + b for every t
        # W_hhᵀ copied to C order once: each step's product is then 1.3× faster
        W_hh_T = np.ascontiguousarray(self.params["W_hh"].T)
        gates = np.empty(Z.shape, dtype=Z.dtype)  # i, f, g, o after their nonlinearity
        Hs = np.empty((T + 1, X.shape[0], H), dtype=Z.dtype)  # h_0, then the h of each step
        Cs = np.empty_like(Hs)  # c_0, then the c of each step
        tanh_Cs = np.empty_like(Hs[1:])  # tanh(c_t) of each step, for backward
        Hs[0], Cs[0] = self._initial(h0, X, "h0"), self._initial(c0, X, "c0")
        # All four nonlinearities in one tanh: σ(z) = ½ (1 + tanh(z/2)), so with s = ½ on
        # the columns of i, f, o and 1 on those of g, gates = tanh(s z) s + (1 - s). One
        # pass over the 4H columns instead of two sigmoids and a tanh on slices.
        s = np.full(4 * H, 0.5, dtype=Z.dtype)
        s[2 * H : 3 * H] = 1
        shift = 1 - s
        # step t reads Hs[t], Cs[t] (h_{t-1}, c_{t-1}) and writes Hs[t + 1], Cs[t + 1]
        for t in range(T):
            Z_t = Z[t]
            Z_t += Hs[t] @ W_hh_T  # Z_t = x_t W_ihᵀ + b + h_{t-1} W_hhᵀ
            gate = gates[t]
            np.multiply(Z_t, s, out=gate)
            np.tanh(gate, out=gate)
            gate *= s
            gate += shift  # i, f, o = σ(Zi), σ(Zf), σ(Zo); g = tanh(Zg)
            i, f, g, o = gate[:, :H], gate[:, H : 2 * H], gate[:, 2 * H : 3 * H], gate[:, 3 * H :]
            c_t = Cs[t + 1]
            np.multiply(f, Cs[t], out=c_t)
            c_t += i * g  # c_t = f ⊙ c_{t-1} + i ⊙ g
            np.tanh(c_t, out=tanh_Cs[t])
            np.multiply(o, tanh_Cs[t], out=Hs[t + 1])  # h_t = o ⊙ tanh(c_t)
        self._tanh_Cs = tanh_Cs
        self._X, self._Hs, self._Cs, self._gate_values = X, Hs, Cs, gates
        self.h_n, self.c_n = Hs[T].copy(), Cs[T].copy()
        return Hs[1:].transpose(1, 0, 2).copy()  # batch-first; a copy so the cache stays ours

    @property
    def final_state(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(h_n, c_n)``, in the form ``forward(..., state=)`` takes."""
        return None if self.h_n is None else (self.h_n, self.c_n)

    def backward(
        self, dY: np.ndarray, dstate: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        Hs = self._cached("_Hs")
        dY = self._check_dY(dY, Hs)
        Cs, gates, X = self._Cs, self._gate_values, self._X
        dh_n, dc_n = (None, None) if dstate is None else _pair(dstate, "dstate", "(dh_n, dc_n)")
        dh, dc = self._initial(dh_n, X, "dh_n"), self._initial(dc_n, X, "dc_n")
        W_hh = self.params["W_hh"]
        dZ = np.empty(gates.shape, dtype=gates.dtype)  # (T, N, 4H)
        H = self.hidden_size
        for t in reversed(range(dY.shape[0])):
            gate, dZ_t = gates[t], dZ[t]
            i, f, g, o = gate[:, :H], gate[:, H : 2 * H], gate[:, 2 * H : 3 * H], gate[:, 3 * H :]
            c_prev, tanh_c = Cs[t], self._tanh_Cs[t]  # c_{t-1}, tanh(c_t)
            dh = dh + dY[t]  # dh = dh + dy_t
            dc = dc + dh * o * (1 - tanh_c * tanh_c)  # dc = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))
            # the four blocks of dZ_t, written in place (views of dZ[t])
            np.multiply(dc * g, i * (1 - i), out=dZ_t[:, :H])  # di = dc ⊙ g,   through σ'
            np.multiply(dc * c_prev, f * (1 - f), out=dZ_t[:, H : 2 * H])  # df = dc ⊙ c_{t-1}
            np.multiply(dc * i, 1 - g * g, out=dZ_t[:, 2 * H : 3 * H])  # dg = dc ⊙ i, tanh'
            np.multiply(dh * tanh_c, o * (1 - o), out=dZ_t[:, 3 * H :])  # do = dh ⊙ tanh(c_t)
            dh = dZ_t @ W_hh  # dh = dZ_t W_hh
            dc = dc * f  # dc = dc ⊙ f
        self.dh0, self.dc0 = dh, dc
        return self._weight_grads(dZ, Hs[:-1])

    def get_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias}


def _pair(value: Any, name: str, form: str) -> tuple[Any, Any]:
    """Unpack an LSTM ``(h, c)`` pair, or say what form it must take."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"LSTM {name} must be a pair {form} of (N, H) arrays or None")
    return value[0], value[1]
