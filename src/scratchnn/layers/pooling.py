"""Pooling: :class:`MaxPool2D`, :class:`AvgPool2D` and :class:`GlobalAvgPool2D`.

A pooling window covers ``KH × KW`` pixels of one channel and moves by the stride. Both
local poolings loop over the ``KH·KW`` offsets ``(p, q)`` inside the window; at each
offset, the pixel of *every* window in the batch is one strided slice of ``X``::

    X[:, :, p : p + s·OH : s, q : q + s·OW : s]      pixel (p, q) of window (i, j)

so the work is ``KH·KW`` whole-batch array operations and no Python loop over pixels
(the same trick as :class:`~scratchnn.layers.Conv2D`'s col2im).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ShapeError
from .base import Layer, format_shape
from .conv import Pair, _pair, _plain, conv_output_size

__all__ = ["AvgPool2D", "GlobalAvgPool2D", "MaxPool2D", "maxpool2d_loop"]


def _in_memory_order_of(template: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``A``, copied into ``template``'s memory order if its own differs: operations that
    mix orders (NCHW-ordered ``dY`` from Flatten, channels-last ``X``) are several times
    slower than one copy."""
    if list(np.argsort(A.strides)) == list(np.argsort(template.strides)):
        return A
    out = np.empty_like(template, dtype=A.dtype)
    out[...] = A
    return out


class _Pool2D(Layer):
    """What max and average pooling share: window geometry, slicing, shapes, config."""

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, f"{name} kernel_size")
        # PyTorch's default: non-overlapping windows
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{name} stride")
        self._geometry: tuple[np.ndarray, int, int] | None = None

    def _start(self, X: np.ndarray) -> Pair:
        if X.ndim != 4:
            raise ShapeError(
                f"{self._name()} got input of shape {X.shape}; expected (N, C, H, W) images"
            )
        _, _, OH, OW = self.output_shape(X.shape)
        self._geometry = (X, OH, OW)  # X only to allocate dX in X's memory order
        return OH, OW

    def _offsets(self, OH: int, OW: int) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
        """``(p, q, index)`` where ``X[index]`` holds pixel ``(p, q)`` of every window."""
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        for p in range(KH):
            for q in range(KW):
                index = (
                    slice(None),
                    slice(None),
                    slice(p, p + sh * OH, sh),
                    slice(q, q + sw * OW, sw),
                )
                yield p, q, index

    def _new_dX(self, X: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, bool]:
        """``(dX, overlapping)``: an array for dX in X's memory order, and whether windows
        overlap. Zeros, unless the windows tile X exactly and every pixel gets written."""
        _, _, H, W = X.shape
        (KH, KW), (sh, sw) = self.kernel_size, self.stride
        overlapping = sh < KH or sw < KW
        tiles = (sh, sw) == (KH, KW) and H % KH == 0 and W % KW == 0
        dX = (np.empty_like if tiles else np.zeros_like)(X, dtype=dtype)
        return dX, overlapping

    def _name(self) -> str:
        return f"{type(self).__name__}({_plain(self.kernel_size)})"

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != 4:
            raise ShapeError(
                f"{self._name()} cannot follow an output of shape {format_shape(input_shape)}: it "
                "expects images (N, C, H, W); put it after a Conv2D, before Flatten"
            )
        N, C, H, W = input_shape
        out = []
        for size, k, s, axis in zip((H, W), self.kernel_size, self.stride, "HW"):
            if size is not None and size < k:
                raise ShapeError(
                    f"{self._name()} has a {k}-wide window but the input {axis} is {size}; "
                    "use a smaller window or pool less often"
                )
            out.append(None if size is None else conv_output_size(size, k, s))
        return (N, C, *out)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": _plain(self.kernel_size), "stride": _plain(self.stride)}


class MaxPool2D(_Pool2D):
    """Max pooling: each output is the largest pixel of its window, per channel.

    Input ``(N, C, H, W)``; output ``(N, C, OH, OW)``, ``OH = ⌊(H - KH)/s⌋ + 1``. Rows and
    columns that no full window reaches are dropped (and get a zero gradient), as in PyTorch.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window ``(KH, KW)``.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size`` (non-overlapping windows).

    Math
    ----
    ::

        forward   Y[n,c,i,j]  = max_{p,q} X[n,c, s·i+p, s·j+q]
                  (p*, q*)    = argmax_{p,q}, the first maximum in row-major order
        backward  dX[n,c, s·i+p*, s·j+q*] += dY[n,c,i,j]       every other pixel gets 0

    The max is locally the identity for the winning pixel and constant in the others, so
    the whole gradient goes to the winner (its "switch"). Overlapping windows that share a
    winner add their gradients there. The forward is a running ``np.maximum`` over the
    ``KH·KW`` offsets and records each window's switch ``k* = p*·KW + q*``; the backward
    visits the offsets and gives ``dY`` to pixel ``k`` of the windows whose switch is ``k``.

    **Ties.** When several pixels of a window share the maximum, the max is not
    differentiable; the gradient goes, deterministically, to the *first* of them in
    row-major window order (smallest ``p``, then smallest ``q``), the pixel ``np.argmax``
    picks. PyTorch's CPU kernel picks the same one, so the two agree even on ties. (The
    finite-difference checks avoid ties, where the one-sided derivatives differ.)

    Examples
    --------
    >>> import numpy as np
    >>> pool = MaxPool2D(2)
    >>> X = np.array([[[[1.0, 2.0], [4.0, 3.0]]]])
    >>> pool.forward(X)
    array([[[[4.]]]])
    >>> pool.backward(np.array([[[[10.0]]]]))
    array([[[[ 0.,  0.],
             [10.,  0.]]]])
    >>> pool.forward(np.ones((1, 1, 2, 2)))  # a tie: the first pixel wins
    array([[[[1.]]]])
    >>> pool.backward(np.ones((1, 1, 1, 1)))
    array([[[[1., 0.],
             [0., 0.]]]])
    """

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ) -> None:
        super().__init__(kernel_size, stride)
        self._switch: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        OH, OW = self._start(X)
        pixels = [X[index] for _, _, index in self._offsets(OH, OW)]  # pixel k of every window
        Y = pixels[0].copy(order="K")  # in X's memory order
        for pixel in pixels[1:]:
            np.maximum(Y, pixel, out=Y)
        # the switch k* = the first k with pixel k == max, i.e. how many leading pixels
        # are not the maximum: ties go to the first maximum in row-major order
        not_yet = pixels[0] != Y
        switch = not_yet.astype(np.uint8 if len(pixels) <= 256 else np.intp)
        for pixel in pixels[1:-1]:
            not_yet &= pixel != Y
            switch += not_yet
        self._switch = switch
        return Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        switch = self._cached("_switch")
        X, OH, OW = self._cached("_geometry")
        if dY.shape != switch.shape:
            raise ShapeError(
                f"{self._name()}.backward got dY of shape {dY.shape}; expected {switch.shape}"
            )
        dX, overlapping = self._new_dX(X, dY.dtype)
        dY = _in_memory_order_of(switch, dY)
        for k, (_, _, index) in enumerate(self._offsets(OH, OW)):
            # dX[pixel k of window (i, j)] = dY[i, j] if k is the window's switch, else 0
            if overlapping:  # windows share pixels: their gradients add up
                dX[index] += dY * (switch == k)
            else:
                np.multiply(dY, switch == k, out=dX[index])
        return dX


class AvgPool2D(_Pool2D):
    """Average pooling: each output is the mean of its window, per channel.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window ``(KH, KW)``.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.

    Math
    ----
    ::

        forward   Y[n,c,i,j] = 1/(KH·KW) Σ_{p,q} X[n,c, s·i+p, s·j+q]
        backward  dX[n,c, s·i+p, s·j+q] += dY[n,c,i,j] / (KH·KW)     for every (p, q)

    Examples
    --------
    >>> import numpy as np
    >>> pool = AvgPool2D(2)
    >>> pool.forward(np.array([[[[1.0, 2.0], [4.0, 3.0]]]]))
    array([[[[2.5]]]])
    >>> pool.backward(np.array([[[[4.0]]]]))
    array([[[[1., 1.],
             [1., 1.]]]])
    """

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        OH, OW = self._start(X)
        offsets = self._offsets(OH, OW)
        _, _, first = next(offsets)
        Y = X[first].copy(order="K")
        for _, _, index in offsets:
            Y += X[index]
        Y *= X.dtype.type(1.0 / (self.kernel_size[0] * self.kernel_size[1]))
        return Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        X, OH, OW = self._cached("_geometry")
        if dY.shape != (*X.shape[:2], OH, OW):
            raise ShapeError(
                f"{self._name()}.backward got dY of shape {dY.shape}; "
                f"expected {(*X.shape[:2], OH, OW)}"
            )
        share = dY * dY.dtype.type(1.0 / (self.kernel_size[0] * self.kernel_size[1]))
        dX, overlapping = self._new_dX(X, dY.dtype)
        for _, _, index in self._offsets(OH, OW):
            if overlapping:
                dX[index] += share
            else:
                dX[index] = share
        return dX


class GlobalAvgPool2D(Layer):
    """Mean over all of ``H × W`` per channel: ``(N, C, H, W) -> (N, C)``.

    Replaces Flatten + a large Dense layer at the end of a convolutional network (Lin et
    al., 2014, "Network in Network"), whatever the image size.

    Math
    ----
    ::

        forward   Y[n,c]      = 1/(H·W) Σ_{h,w} X[n,c,h,w]
        backward  dX[n,c,h,w] = dY[n,c] / (H·W)

    >>> import numpy as np
    >>> GlobalAvgPool2D().forward(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[1.5, 5.5]])
    """

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        if X.ndim != 4:
            raise ShapeError(
                f"GlobalAvgPool2D got input of shape {X.shape}; expected (N, C, H, W) images"
            )
        self._shape = X.shape
        return X.mean(axis=(2, 3))

    def backward(self, dY: np.ndarray) -> np.ndarray:
        N, C, H, W = self._cached("_shape")
        dX = dY[:, :, None, None] * dY.dtype.type(1.0 / (H * W))
        return np.broadcast_to(dX, (N, C, H, W)).copy()

    def output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if len(input_shape) != 4:
            raise ShapeError(
                f"GlobalAvgPool2D() cannot follow an output of shape {format_shape(input_shape)}: it "
                "expects images (N, C, H, W)"
            )
        return input_shape[:2]


def maxpool2d_loop(
    X: np.ndarray, dY: np.ndarray, kernel_size: int | tuple[int, int], stride: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(Y, dX)`` of max pooling one window at a time: the reference for the tests.

    ``np.argmax`` over the flattened window picks the first maximum, the tie rule of
    :class:`MaxPool2D`.
    """
    KH, KW = _pair(kernel_size, "kernel_size")
    sh, sw = (KH, KW) if stride is None else _pair(stride, "stride")
    N, C, H, W = X.shape
    OH, OW = conv_output_size(H, KH, sh), conv_output_size(W, KW, sw)
    Y = np.zeros((N, C, OH, OW), dtype=X.dtype)
    dX = np.zeros_like(X)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    window = X[n, c, i * sh : i * sh + KH, j * sw : j * sw + KW]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    Y[n, c, i, j] = window[p, q]
                    dX[n, c, i * sh + p, j * sw + q] += dY[n, c, i, j]
    return Y, dX
