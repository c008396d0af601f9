"""The 2-D convolution: a vectorised :class:`Conv2D` and a plain-loop reference.

A convolution is a :class:`~scratchnn.layers.Dense` layer applied to every receptive field
of the image with the same weights. Gather each field into one row of a matrix (*im2col*)
and the whole layer is one matrix product, exactly Dense's ``Z = X @ W.T + b``; its
backward is Dense's three products plus *col2im*, which adds each row's gradient back to
the pixels the row was read from. :func:`conv2d_loop` and :func:`conv2d_loop_backward`
spell the same computation out with Python loops, one output pixel at a time: slow, but
the equation is on the page, and the tests check the fast layer against them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import initializers
from .._validation import as_generator
from ..errors import InputError, ShapeError
from .base import Layer, format_shape, sum_rows

__all__ = ["Conv2D", "conv2d_loop", "conv2d_loop_backward", "conv_output_size"]

Pair = tuple[int, int]


def _pair(value: Any, name: str, minimum: int = 1) -> Pair:
    """``3 -> (3, 3)``; ``(3, 5)`` stays; anything else is an InputError."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
        for v in values
    ):
        kind = "positive" if minimum == 1 else "non-negative"
        raise InputError(f"{name} must be a {kind} integer or a pair of them, got {value!r}")
    return int(values[0]), int(values[1])


def _plain(pair: Pair) -> int | list[int]:
    """A pair as JSON: one int when both sides agree, else a list."""
    return pair[0] if pair[0] == pair[1] else list(pair)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: ``⌊(size + 2·padding - kernel) / stride⌋ + 1``.

    Positions whose window would run past the (padded) edge are dropped, as in PyTorch.

    >>> conv_output_size(28, 5), conv_output_size(28, 5, padding=2), conv_output_size(7, 3, 2)
    (24, 28, 3)
    """
    return (size + 2 * padding - kernel) // stride + 1


class Conv2D(Layer):
    r"""2-D convolution (cross-correlation, as in every deep-learning library) over ``(N, C, H, W)``.

    Input shape ``(N, C, H, W)``; output shape ``(N, F, OH, OW)`` with
    ``OH = ⌊(H + 2p - KH)/s⌋ + 1`` (:func:`conv_output_size`), likewise ``OW``.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C`` input and ``F`` output channels (filters).
    kernel_size : int or (int, int)
        ``(KH, KW)``; the weight ``W`` has shape ``(F, C, KH, KW)``, PyTorch's ``nn.Conv2d``.
    stride : int or (int, int)
        Step ``s`` between neighbouring windows.
    padding : int or (int, int)
        Zeros added on each side of ``H`` and ``W`` (``p``).
    bias : bool
        Learn one bias per filter, ``b`` of shape ``(F,)``.
    init : str or callable
        Weight initialiser; default ``"torch"``, PyTorch's default ``U(±1/√(C·KH·KW))`` for
        ``W`` and ``b``. Other initialisers start the bias at zero.
    input_size : int or (int, int), optional
        ``(H, W)`` of the images, for a model's first layer: it lets :class:`Sequential`
        check every later layer and show all shapes in ``summary()``. When given, inputs of
        another size are refused.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights.
    dtype : numpy dtype
        Parameter dtype, float32 by default.

    Math
    ----
    The definition, for example ``n``, filter ``f`` and output pixel ``(i, j)``, with ``X``
    zero-padded::

        Y[n,f,i,j] = b[f] + Σ_c Σ_p Σ_q  W[f,c,p,q] · X[n, c, s·i + p, s·j + q]

    im2col puts the receptive field of output pixel ``(n,i,j)`` in row ``(n,i,j)`` of
    ``cols`` (``N·OH·OW`` rows, ``KH·KW·C`` columns) and filter ``f``, flattened in the same
    order, in row ``f`` of ``Wm``. Then it is a Dense layer on every field at once::

        forward   Z     = cols @ Wm.T + b       (N·OH·OW, F)     z = w a + b
        backward  dWm   = dZ.T @ cols           ∂L/∂W[f] = Σ_{n,i,j} δ[n,f,i,j] · field   (BP4)
                  db    = dZ.sum(0)             ∂L/∂b[f] = Σ_{n,i,j} δ[n,f,i,j]           (BP3)
                  dcols = dZ @ Wm               ∂L/∂field = Σ_f δ[n,f,i,j] · W[f]         (BP2)
                  dX    = col2im(dcols)         each field's gradient added where it was read

    ``dcols`` is computed as one batched product over the kernel offsets,
    ``dcols[p, q] = dZ @ W[:, :, p, q]``, and ``col2im`` loops over the ``KH·KW`` offsets,
    adding one whole-batch block per offset to a strided slice of ``dX``; where windows
    overlap (stride < kernel) their gradients sum, as the chain rule requires. Measured
    with ``benchmarks/conv_col2im.py``: for the second layer of :func:`~scratchnn.models.cnn`
    this takes 1.5 ms of CPU per batch of 64, against 2.5 ms for the same loop over the
    columns of a single ``dZ @ Wm`` product and 13 ms for one ``np.add.at`` scatter.

    Memory order: the output ``Z`` is returned as the ``(N, F, OH, OW)`` *view* of the
    ``(N, OH, OW, F)`` product, with no transposing copy, so activations after a Conv2D
    are *channels-last* in memory (oneDNN keeps them so for the same reason), and the next
    im2col copies contiguous ``KW·C`` runs. The shapes are always NCHW; use
    ``np.ascontiguousarray`` if you need C order.

    Examples
    --------
    >>> import numpy as np
    >>> conv = Conv2D(1, 8, kernel_size=5, padding=2, rng=0)
    >>> conv.params["W"].shape, conv.params["b"].shape
    ((8, 1, 5, 5), (8,))
    >>> conv.forward(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape
    (2, 8, 28, 28)
    >>> X = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
    >>> W, b = conv.params["W"].astype(np.float64), conv.params["b"].astype(np.float64)
    >>> bool(np.allclose(conv.astype(np.float64).forward(X), conv2d_loop(X, W, b, padding=2)))
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        init: str = "torch",
        input_size: int | tuple[int, int] | None = None,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InputError(f"Conv2D {name} must be a positive integer, got {value!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size, "Conv2D kernel_size")
        self.stride = _pair(stride, "Conv2D stride")
        self.padding = _pair(padding, "Conv2D padding", minimum=0)
        self.input_size = None if input_size is None else _pair(input_size, "Conv2D input_size")
        self.bias = bool(bias)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        rng = as_generator(rng)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["W"] = initializers.get(init)(shape, rng, dtype=dtype)
        if self.bias:
            if init == "torch":  # nn.Conv2d draws its bias from U(±1/√fan_in) too
                bound = 1.0 / np.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
                self.params["b"] = rng.uniform(-bound, bound, self.out_channels).astype(dtype)
            else:
                self.params["b"] = np.zeros(self.out_channels, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        if self.input_size is not None:
            self.output_shape(self.input_shape())  # a kernel larger than the image fails here
        self._X: np.ndarray | None = None
        self._cols: np.ndarray | None = None
        self._geometry: tuple[int, ...] | None = None

    # -- forward --------------------------------------------------------------------------
    def _output_hw(self, H: int, W: int) -> Pair:
        (KH, KW), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return conv_output_size(H, KH, sh, ph), conv_output_size(W, KW, sw, pw)

    def _im2col(self, X: np.ndarray) -> np.ndarray:
        """``(N, C, H, W)`` -> ``cols`` of shape ``(N·OH·OW, KH·KW·C)``, one receptive field per row.

        The matrix is the same either way, but its memory order follows ``X``'s so that the
        one copy reads long contiguous runs: C order (rows contiguous) when ``X`` is
        channels-last in memory, as every Conv2D output is; Fortran order (columns
        contiguous) when ``X`` is channels-first or has a single channel, as images do.
        BLAS takes either order without a further copy.
        """
        N, C, H, W = X.shape
        (KH, KW), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        OH, OW = self._output_hw(H, W)
        channels_first = C == 1 or X.strides[1] > X.strides[3]
        if ph or pw:
            Hp, Wp = H + 2 * ph, W + 2 * pw
            if channels_first:
                padded = np.zeros((N, C, Hp, Wp), dtype=X.dtype)
            else:  # the same (N, C, Hp, Wp) array, with channels-last memory
                padded = np.zeros((N, Hp, Wp, C), dtype=X.dtype).transpose(0, 3, 1, 2)
            padded[:, :, ph : ph + H, pw : pw + W] = X
            X = padded
        # windows[n, c, i, j, p, q] = X[n, c, s·i + p, s·j + q]: a view, nothing copied yet
        windows = sliding_window_view(X, (KH, KW), axis=(2, 3))[:, :, ::sh, ::sw]
        if channels_first:  # copy cols.T: rows (p, q, c), columns (n, i, j)
            return windows.transpose(4, 5, 1, 0, 2, 3).reshape(KH * KW * C, N * OH * OW).T
        # the rows (n, i, j) with columns (p, q, c)
        return windows.transpose(0, 2, 3, 4, 5, 1).reshape(N * OH * OW, KH * KW * C)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._check_input(X)
        N, _, H, W = X.shape
        OH, OW = self._output_hw(H, W)
        F = self.out_channels
        cols = self._im2col(X)
        # filters flattened in the column order of cols: (p, q, c)
        Wm = self.params["W"].transpose(0, 2, 3, 1).reshape(F, -1)
        Z = cols @ Wm.T  # (N·OH·OW, F): Dense on every receptive field
        if self.bias:
            Z += self.params["b"]
        # in evaluation, keep X rather than cols (KH·KW times larger): backward is rare there
        self._X, self._cols = X, (cols if training else None)
        self._geometry = (N, H, W, OH, OW)
        return Z.reshape(N, OH, OW, F).transpose(0, 3, 1, 2)

    # -- backward -------------------------------------------------------------------------
    def _dZ(self, dY: np.ndarray) -> np.ndarray:
        """``dY`` ``(N, F, OH, OW)`` as the ``(N·OH·OW, F)`` matrix ``dZ`` (a view if channels-last)."""
        N, _, _, OH, OW = self._cached("_geometry")
        if dY.shape != (N, self.out_channels, OH, OW):
            raise ShapeError(
                f"Conv2D.backward got dY of shape {dY.shape}; expected "
                f"{(N, self.out_channels, OH, OW)}, the shape of the last forward's output"
            )
        return dY.transpose(0, 2, 3, 1).reshape(N * OH * OW, self.out_channels)

    def _set_param_grads(self, dZ: np.ndarray) -> None:
        cols = self._cols if self._cols is not None else self._im2col(self._cached("_X"))
        F, C, KH, KW = self.params["W"].shape
        # dW = dZ.T @ cols (BP4), computed as its transpose cols.T @ dZ: the same numbers,
        # but BLAS then splits the long N·OH·OW axis well (3× faster for the first layer
        # of cnn(), where dZ.T @ cols has only 16 × 25 outputs)
        dWm_T = cols.T @ dZ  # (KH·KW·C, F) = dWm.T
        np.copyto(self.grads["W"], dWm_T.reshape(KH, KW, C, F).transpose(3, 2, 0, 1))
        if self.bias:
            sum_rows(dZ, out=self.grads["b"])  # db = Σ_rows dZ = 1ᵀ dZ   (BP3)

    def param_grads(self, dY: np.ndarray) -> None:
        """Set ``dW`` and ``db`` only: all a first layer needs, since data has no gradient."""
        self._set_param_grads(self._dZ(dY))

    def backward(self, dY: np.ndarray) -> np.ndarray:
        dZ = self._dZ(dY)
        self._set_param_grads(dZ)
        F, C, KH, KW = self.params["W"].shape
        # dcols = dZ @ Wm, ∂L/∂(each receptive field), computed per kernel offset:
        # dcols[p·KW + q] = dZ @ W[:, :, p, q] in one batched product, so that col2im
        # adds contiguous (N, OH, OW, C) blocks                     (BP2)
        Wk = self.params["W"].transpose(2, 3, 0, 1).reshape(KH * KW, F, C)
        dcols = np.matmul(dZ, Wk)  # (KH·KW, N·OH·OW, C)
        return self._col2im(dcols)

    def _col2im(self, dcols: np.ndarray) -> np.ndarray:
        """Add each window's gradient back onto the input pixels the window read."""
        N, H, W, OH, OW = self._cached("_geometry")
        (KH, KW), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        dcols = dcols.reshape(KH, KW, N, OH, OW, self.in_channels)
        dXh = np.zeros((N, H + 2 * ph, W + 2 * pw, self.in_channels), dtype=dcols.dtype)
        for p in range(KH):
            for q in range(KW):
                # pixel (s·i + p, s·j + q) was entry (p, q) of window (i, j)
                dXh[:, p : p + sh * OH : sh, q : q + sw * OW : sw, :] += dcols[p, q]
        dXh = dXh[:, ph : ph + H, pw : pw + W, :]  # the padding has no gradient to pass on
        return dXh.transpose(0, 3, 1, 2)

    # -- shapes and configuration ---------------------------------------------------------
    def _check_input(self, X: np.ndarray) -> None:
        expected = (
            f"(N, {self.in_channels}, H, W)"
            if self.input_size is None
            else "(N, {}, {}, {})".format(self.in_channels, *self.input_size)
        )
        if X.ndim != 4 or X.shape[1] != self.in_channels:
            raise ShapeError(
                f"{self._name()} got input of shape {X.shape}; expected {expected} "
                "(images as (N, channels, height, width); scratchnn.models.cnn.as_images "
                "turns (N, H·W) rows or (N, H, W) arrays into that)"
            )
        if self.input_size is not None and X.shape[2:] != self.input_size:
            raise ShapeError(
                f"{self._name()} got images of size {X.shape[2:]}; expected {expected}, "
                "its declared input_size"
            )
        self.output_shape((None, *X.shape[1:]))

    def _name(self) -> str:
        return f"Conv2D({self.in_channels}, {self.out_channels})"

    def input_shape(self) -> tuple[int | None, ...]:
        if self.input_size is None:
            return (None, self.in_channels, None, None)
        return (None, self.in_channels, *self.input_size)

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != 4 or input_shape[1] not in (None, self.in_channels):
            raise ShapeError(
                f"{self._name()} cannot follow an output of shape {format_shape(input_shape)}: it "
                f"expects (N, {self.in_channels}, H, W); make in_channels match the previous "
                "layer's channels"
            )
        N, _, H, W = input_shape
        if self.input_size is not None and (H, W) != self.input_size and None not in (H, W):
            raise ShapeError(
                f"{self._name()} declares input_size {self.input_size} but follows an output "
                f"of shape {format_shape(input_shape)}; fix input_size or drop it"
            )
        out = []
        for size, k, s, p, axis in zip((H, W), self.kernel_size, self.stride, self.padding, "HW"):
            if size is None:
                out.append(None)
                continue
            if size + 2 * p < k:
                raise ShapeError(
                    f"{self._name()} has a {k}-wide kernel but the input {axis} is {size} "
                    f"(+{2 * p} padding); use a smaller kernel, more padding or larger images"
                )
            out.append(conv_output_size(size, k, s, p))
        return (N, self.out_channels, *out)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": _plain(self.kernel_size),
            "stride": _plain(self.stride),
            "padding": _plain(self.padding),
            "bias": self.bias,
            "init": self.init,
        }
        if self.input_size is not None:
            config["input_size"] = _plain(self.input_size)
        return config


# -- the plain-loop reference -------------------------------------------------------------
def _pad(X: np.ndarray, padding: Pair) -> np.ndarray:
    ph, pw = padding
    return np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_loop(
    X: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> np.ndarray:
    """The convolution one output pixel at a time: the definition, for teaching and testing.

    ``Y[n,f,i,j] = b[f] + Σ_{c,p,q} W[f,c,p,q] · Xpad[n, c, s·i + p, s·j + q]``

    >>> X = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d_loop(X, np.ones((1, 1, 2, 2)))[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])
    """
    (sh, sw), padding = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    Xp = _pad(X, padding)
    N, _, Hp, Wp = Xp.shape
    F, _, KH, KW = W.shape
    OH, OW = (Hp - KH) // sh + 1, (Wp - KW) // sw + 1
    Y = np.zeros((N, F, OH, OW), dtype=np.result_type(X, W))
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    field = Xp[n, :, i * sh : i * sh + KH, j * sw : j * sw + KW]
                    Y[n, f, i, j] = np.sum(W[f] * field) + (0.0 if b is None else b[f])
    return Y


def conv2d_loop_backward(
    dY: np.ndarray,
    X: np.ndarray,
    W: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dX, dW, db)`` of :func:`conv2d_loop`, one output pixel at a time.

    Each output pixel ``Y[n,f,i,j]`` used the field ``Xpad[n, :, s·i:s·i+KH, s·j:s·j+KW]``
    and the filter ``W[f]``, so its gradient ``δ = dY[n,f,i,j]`` adds ``δ · field`` to
    ``dW[f]``, ``δ`` to ``db[f]`` and ``δ · W[f]`` to the field's place in ``dXpad``.
    """
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    Xp = _pad(X, (ph, pw))
    N, F, OH, OW = dY.shape
    _, _, KH, KW = W.shape
    dXp = np.zeros_like(Xp)
    dW = np.zeros_like(W)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    delta = dY[n, f, i, j]
                    rows, cols = slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW)
                    dW[f] += delta * Xp[n, :, rows, cols]
                    dXp[n, :, rows, cols] += delta * W[f]
    db = dY.sum(axis=(0, 2, 3))
    H, Wd = X.shape[2:]
    return dXp[:, :, ph : ph + H, pw : pw + Wd], dW, db
