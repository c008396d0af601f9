"""How each layer becomes ONNX operators: a :class:`Graph` builder and :data:`ONNX_LAYERS`.

A function per layer class adds the nodes that compute the layer's evaluation-mode
forward pass to a :class:`Graph`, its parameters as float32 initializers named as in
``state_dict()`` (``"0.W"``), and returns the name of its output:

=========================  =========================================================
layer                      ONNX operators (opset 17 or newer; 20 by default)
=========================  =========================================================
Dense                      ``Gemm(X, W, b, transB=1)``: ``X @ W.T + b``
ReLU                       ``Relu``
LeakyReLU                  ``LeakyRelu(alpha)``
Sigmoid, Tanh, Identity    ``Sigmoid``, ``Tanh``, ``Identity``
Softmax                    ``Softmax(axis=-1)``
GELU                       ``Gelu(approximate="tanh")`` from opset 20; below it
                           the tanh formula from ``Mul``, ``Add``, ``Tanh``
Dropout                    ``Identity`` (evaluation: nothing is dropped)
Flatten                    ``Flatten(axis=1)``
Conv2D                     ``Conv(kernel_shape, strides, pads)``
MaxPool2D                  ``MaxPool(kernel_shape, strides)``
AvgPool2D                  ``AveragePool(kernel_shape, strides, count_include_pad=0)``;
                           our pooling never pads, so the convention cannot differ
GlobalAvgPool2D            ``GlobalAveragePool``, then ``Flatten``
BatchNorm1D, BatchNorm2D   ``BatchNormalization`` with the running statistics
Embedding                  ``Gather(W, ids)``; the graph's input is then int64 ids
LayerNorm                  ``LayerNormalization(axis=-1)``
RMSNorm                    ``RMSNormalization`` from opset 23; below it
                           ``X / Sqrt(ReduceMean(X·X) + ε) · γ``
RNN, LSTM                  ``RNN``, ``LSTM`` between two ``Transpose`` (ONNX is
                           time-major); LSTM gates reordered from PyTorch's
                           i, f, g, o to ONNX's i, o, f, c
CausalSelfAttention        ``MatMul``, ``Reshape``, ``Transpose``, ``Softmax``; the
                           causal mask from ``Range``, ``Greater`` and ``Where``
Sequential (nested)        its layers, in order
=========================  =========================================================

A layer class not in :data:`ONNX_LAYERS` is a one-line
:class:`~scratchnn.errors.InputError` naming it; add a function there to export it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ..layers import (
    GELU,
    LSTM,
    RNN,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    CausalSelfAttention,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool2D,
    Identity,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    Module,
    ReLU,
    RMSNorm,
    Sigmoid,
    Softmax,
    Tanh,
)
from ..model import Sequential

__all__ = ["ONNX_LAYERS", "Graph", "export_layer", "export_layers"]


class Graph:
    """The nodes and initializers of one graph being built, and fresh names for them."""

    def __init__(self, onnx: Any, opset: int) -> None:
        self.onnx, self.opset = onnx, opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._used: set[str] = set()

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self._used:
            name, k = f"{hint}_{k}", k + 1
        self._used.add(name)
        return name

    def const(self, hint: str, value: Any, dtype: Any = np.float32) -> str:
        """An initializer holding ``value`` (float32 unless told): its name."""
        array = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, hint: str, values: Any) -> str:
        return self.const(hint, values, np.int64)

    def op(
        self, op_type: str, inputs: list[str], hint: str, out: str | None = None, **attrs
    ) -> str:
        """Add one node; returns the name of its (first) output."""
        output = out or self.fresh(f"{hint}{op_type}")
        self.nodes.append(
            self.onnx.helper.make_node(op_type, inputs, [output], name=output, **attrs)
        )
        return output


# -- one function per layer: (graph, layer, input name, name prefix) -> output name ----------
def _dense(g: Graph, layer: Dense, x: str, path: str) -> str:
    inputs = [x, g.const(f"{path}W", layer.params["W"])]
    if layer.bias:
        inputs.append(g.const(f"{path}b", layer.params["b"]))
    return g.op("Gemm", inputs, path, transB=1)  # X @ W.T + b


def _unary(op_type: str, **attrs: Any) -> Callable[[Graph, Module, str, str], str]:
    return lambda g, layer, x, path: g.op(op_type, [x], path, **attrs)


def _gelu(g: Graph, layer: GELU, x: str, path: str) -> str:
    if g.opset >= 20:
        return g.op("Gelu", [x], path, approximate="tanh")
    # before opset 20, GELU's own forward: ½ X (1 + tanh(k (X + a X³)))
    cube = g.op("Mul", [g.op("Mul", [x, x], path), x], path)
    inner = g.op("Add", [x, g.op("Mul", [cube, g.const(f"{path}a", GELU._A)], path)], path)
    tanh = g.op("Tanh", [g.op("Mul", [inner, g.const(f"{path}k", GELU._K)], path)], path)
    half_x = g.op("Mul", [x, g.const(f"{path}half", 0.5)], path)
    return g.op("Mul", [half_x, g.op("Add", [tanh, g.const(f"{path}one", 1.0)], path)], path)


def _conv2d(g: Graph, layer: Conv2D, x: str, path: str) -> str:
    inputs = [x, g.const(f"{path}W", layer.params["W"])]
    if layer.bias:
        inputs.append(g.const(f"{path}b", layer.params["b"]))
    ph, pw = layer.padding
    return g.op(
        "Conv",
        inputs,
        path,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.stride),
        pads=[ph, pw, ph, pw],  # begin H, begin W, end H, end W
    )


def _pool(op_type: str, **attrs: Any) -> Callable[[Graph, Module, str, str], str]:
    def export(g: Graph, layer: Any, x: str, path: str) -> str:
        kernel, stride = list(layer.kernel_size), list(layer.stride)
        return g.op(op_type, [x], path, kernel_shape=kernel, strides=stride, **attrs)

    return export


def _global_avg_pool(g: Graph, layer: GlobalAvgPool2D, x: str, path: str) -> str:
    return g.op("Flatten", [g.op("GlobalAveragePool", [x], path)], path, axis=1)


def _batchnorm(g: Graph, layer: BatchNorm1D | BatchNorm2D, x: str, path: str) -> str:
    arrays = {**layer.params, **layer.buffers}
    names = [g.const(f"{path}{key}", arrays[key]) for key in _BATCHNORM_INPUTS]
    return g.op("BatchNormalization", [x, *names], path, epsilon=layer.eps)


# BatchNormalization's inputs after X; the running statistics: evaluation mode
_BATCHNORM_INPUTS = ("gamma", "beta", "running_mean", "running_var")


def _embedding(g: Graph, layer: Embedding, x: str, path: str) -> str:
    return g.op("Gather", [g.const(f"{path}W", layer.params["W"]), x], path, axis=0)


def _scale(g: Graph, layer: LayerNorm | RMSNorm, path: str) -> str:
    """γ, or ones without affine parameters (the ONNX operators require a scale)."""
    gamma = layer.params.get("gamma", np.ones(layer.size))
    return g.const(f"{path}gamma", gamma)


def _layernorm(g: Graph, layer: LayerNorm, x: str, path: str) -> str:
    inputs = [x, _scale(g, layer, path)]
    if "beta" in layer.params:
        inputs.append(g.const(f"{path}beta", layer.params["beta"]))
    return g.op("LayerNormalization", inputs, path, axis=-1, epsilon=layer.eps)


def _rmsnorm(g: Graph, layer: RMSNorm, x: str, path: str) -> str:
    # eps=None means the machine epsilon of the input's dtype, and the graph is float32
    eps = float(np.finfo(np.float32).eps) if layer.eps is None else layer.eps
    if g.opset >= 23:
        return g.op("RMSNormalization", [x, _scale(g, layer, path)], path, axis=-1, epsilon=eps)
    square = g.op("Mul", [x, x], path)
    if g.opset >= 18:  # ReduceMean's axes became an input in opset 18
        mean = g.op("ReduceMean", [square, g.ints(f"{path}axes", [-1])], path, keepdims=1)
    else:
        mean = g.op("ReduceMean", [square], path, axes=[-1], keepdims=1)
    r = g.op("Sqrt", [g.op("Add", [mean, g.const(f"{path}eps", eps)], path)], path)  # r
    return g.op("Mul", [g.op("Div", [x, r], path), _scale(g, layer, path)], path)  # γ X / r


def _recurrent(g: Graph, layer: RNN | LSTM, x: str, path: str) -> str:
    H = layer.hidden_size

    def onnx_order(A: np.ndarray) -> np.ndarray:
        if isinstance(layer, RNN):
            return A
        i, f, c, o = (A[k * H : (k + 1) * H] for k in range(4))  # PyTorch's order: i, f, g, o
        return np.concatenate([i, o, f, c])  # ONNX's: i, o, f, c

    inputs = [
        g.op("Transpose", [x], path, perm=[1, 0, 2]),  # (N, T, D) -> (T, N, D)
        g.const(f"{path}W_ih", onnx_order(layer.params["W_ih"])[None]),
        g.const(f"{path}W_hh", onnx_order(layer.params["W_hh"])[None]),
    ]
    if layer.bias:
        both = np.concatenate([onnx_order(layer.params["b_ih"]), onnx_order(layer.params["b_hh"])])
        inputs.append(g.const(f"{path}b", both[None]))
    attrs: dict[str, Any] = {"hidden_size": H}
    if isinstance(layer, RNN):
        attrs["activations"] = ["Tanh" if layer.nonlinearity == "tanh" else "Relu"]
    Y = g.op("LSTM" if isinstance(layer, LSTM) else "RNN", inputs, path, **attrs)
    Y = g.op("Squeeze", [Y, g.ints(f"{path}axes", [1])], path)  # (T, 1, N, H): one direction
    return g.op("Transpose", [Y], path, perm=[1, 0, 2])  # back to batch-first


def _attention(g: Graph, layer: CausalSelfAttention, x: str, path: str) -> str:
    C, d = layer.embed_dim, layer.head_dim

    def project(p: str, Z: str) -> str:  # Z W.T + b, as MatMul: Gemm takes 2-D inputs only
        Y = g.op("MatMul", [Z, g.const(f"{path}W{p}.T", layer.params[f"W{p}"].T)], path)
        return (
            g.op("Add", [Y, g.const(f"{path}b{p}", layer.params[f"b{p}"])], path)
            if layer.bias
            else Y
        )

    heads = g.ints(f"{path}heads", [0, 0, layer.num_heads, d])  # 0: keep N and T
    Q, K, V = (
        g.op("Transpose", [g.op("Reshape", [project(p, x), heads], path)], path, perm=[0, 2, 1, 3])
        for p in "qkv"
    )  # (N, H, T, d)
    Kt = g.op("Transpose", [K], path, perm=[0, 1, 3, 2])
    S = g.op(
        "Mul", [g.op("MatMul", [Q, Kt], path), g.const(f"{path}scale", 1 / math.sqrt(d))], path
    )
    # the causal mask, for any T: future[i, j] = j > i
    T = g.op("Gather", [g.op("Shape", [x], path), g.ints(f"{path}one", 1)], path, axis=0)
    positions = g.op("Range", [g.ints(f"{path}zero", 0), T, g.ints(f"{path}step", 1)], path)
    j = g.op("Unsqueeze", [positions, g.ints(f"{path}row", [0])], path)  # (1, T)
    i = g.op("Unsqueeze", [positions, g.ints(f"{path}column", [1])], path)  # (T, 1)
    future = g.op("Greater", [j, i], path)
    S = g.op("Where", [future, g.const(f"{path}minus_inf", -np.inf), S], path)
    P = g.op("Softmax", [S], path, axis=-1)  # exp(-inf) = 0: nothing from the future
    A = g.op("Transpose", [g.op("MatMul", [P, V], path)], path, perm=[0, 2, 1, 3])
    return project("o", g.op("Reshape", [A, g.ints(f"{path}merged", [0, 0, C])], path))


def export_layers(g: Graph, model: Sequential, x: str, path: str) -> str:
    """Add ``model``'s layers in order, from input ``x``; returns the name of the output."""
    for i, layer in enumerate(model):
        x = export_layer(g, layer, x, f"{path}{i}.", f"layer {path}{i}")
    return x


#: scratchnn layer class -> ``(graph, layer, input, prefix) -> output``: the table above.
ONNX_LAYERS: dict[type[Module], Callable[[Graph, Any, str, str], str]] = {
    Dense: _dense,
    ReLU: _unary("Relu"),
    LeakyReLU: lambda g, layer, x, path: g.op("LeakyRelu", [x], path, alpha=layer.negative_slope),
    Sigmoid: _unary("Sigmoid"),
    Tanh: _unary("Tanh"),
    Identity: _unary("Identity"),
    Softmax: _unary("Softmax", axis=-1),
    GELU: _gelu,
    Dropout: _unary("Identity"),
    Flatten: _unary("Flatten", axis=1),
    Conv2D: _conv2d,
    MaxPool2D: _pool("MaxPool"),
    AvgPool2D: _pool("AveragePool", count_include_pad=0),
    GlobalAvgPool2D: _global_avg_pool,
    BatchNorm1D: _batchnorm,
    BatchNorm2D: _batchnorm,
    Embedding: _embedding,
    LayerNorm: _layernorm,
    RMSNorm: _rmsnorm,
    RNN: _recurrent,
    LSTM: _recurrent,
    CausalSelfAttention: _attention,
    Sequential: export_layers,
}


def export_layer(g: Graph, layer: Module, x: str, path: str, where: str) -> str:
    """Add one layer's nodes (``where`` names it in errors); returns its output's name."""
    for cls in type(layer).__mro__:
        if cls in ONNX_LAYERS:
            return ONNX_LAYERS[cls](g, layer, x, path)
    supported = ", ".join(sorted(cls.__name__ for cls in ONNX_LAYERS))
    raise InputError(
        f"ONNX export does not support {where}, {type(layer).__name__}; it supports {supported}"
    )
