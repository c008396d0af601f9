"""ONNX export: a scratchnn model as a graph of standard operators, runnable without Python.

:func:`to_onnx` writes a model as an `ONNX <https://onnx.ai>`_ file that ONNX Runtime (or
any other ONNX runtime) runs: each layer becomes the operator that computes the same
function, its parameters the graph's initializers, named as in
``state_dict()`` (``"0.W"``). The graph is float32 (a float64 model's weights are rounded
once), its batch dimension is dynamic (``"N"``), and it is checked with
``onnx.checker.check_model(model, full_check=True)`` before it is written. The operators
each layer becomes are listed in :mod:`scratchnn.interop.onnx_layers`.

Inputs and outputs: a :class:`~scratchnn.Sequential` maps ``"input"`` to ``"logits"``
(its outputs, whatever they are); a :class:`~scratchnn.models.VAE` is two graphs, the
encoder ``"x"`` -> ``"mu"``, ``"logvar"`` and the decoder ``"z"`` -> ``"x_logits"`` (the
Bernoulli decoder's logits; ``"x_mean"`` for a Gaussian one). The graph computes what
``model.predict`` computes, in evaluation mode, on inputs already preprocessed as the
model expects; the model's ``metadata`` (its scaling, class names) is stored as JSON in
the ONNX model's ``metadata_props`` under ``"scratchnn"``.

Any other layer is a one-line :class:`~scratchnn.errors.InputError` naming it. The
``onnx`` package is an optional extra (``pip install "scratchnn[interop]"``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError, ScratchnnError
from ..io.atomic import atomic_write_bytes, json_ready
from ..io.model_file import architecture
from ..layers import LSTM, RNN, CausalSelfAttention, Dense, Embedding, Module
from ..model import Sequential
from ..models import VAE
from .onnx_layers import ONNX_LAYERS, Graph, export_layers

__all__ = ["MIN_OPSET", "OPSET", "import_onnx", "onnx_models", "to_onnx"]

#: The default opset: 20 has ``Gelu(approximate="tanh")``; ONNX Runtime has run it since 1.17.
OPSET = 20
#: The oldest opset supported (``LayerNormalization`` is 17).
MIN_OPSET = 17


def import_onnx() -> Any:
    """The ``onnx`` package, or a one-line error saying how to install it."""
    try:
        import onnx  # optional: only the export needs it
    except ImportError:
        raise ScratchnnError(
            'ONNX export needs the onnx package: pip install "scratchnn[interop]"'
        ) from None
    return onnx


# -- whole graphs -------------------------------------------------------------------------------
#: Names for the dimensions a first layer leaves unknown, by the input's rank.
_DIM_NAMES = {2: {0: "N", 1: "T"}, 3: {0: "N", 1: "T"}, 4: {0: "N", 2: "H", 3: "W"}}


def _input_shape(layer: Module) -> tuple[int | None, ...] | None:
    """The input shape ``layer`` declares; sequence layers take ``(N, T, features)``."""
    if isinstance(layer, Sequential):
        return _input_shape(layer[0])
    if isinstance(layer, (RNN, LSTM)):
        return (None, None, layer.input_size)
    if isinstance(layer, CausalSelfAttention):
        return (None, None, layer.embed_dim)
    return layer.input_shape()


def _value_info(g: Graph, name: str, shape: Any, elem_type: int, dim_names: dict) -> Any:
    dims = None
    if shape is not None:
        dims = [dim_names.get(k) if s is None else int(s) for k, s in enumerate(shape)]
    return g.onnx.helper.make_tensor_value_info(name, elem_type, dims)


def _graph(
    onnx: Any,
    opset: int,
    stack: Sequential,
    inputs: str,
    outputs: list[str],
    heads: list[Dense] | None = None,
) -> Any:
    """One graph: ``stack`` applied to the input, then either ``outputs[0]`` or one Dense
    head per output (the VAE encoder's μ and logvar)."""
    g = Graph(onnx, opset)
    for i, layer in enumerate(stack):
        if isinstance(layer, Embedding) and i > 0:
            raise InputError(
                f"ONNX export supports an Embedding only as the first layer, not as layer {i}"
            )
    shape = _input_shape(stack)
    integer_ids = isinstance(stack[0], Embedding)
    elem = onnx.TensorProto.INT64 if integer_ids else onnx.TensorProto.FLOAT
    graph_input = _value_info(g, inputs, shape, elem, _DIM_NAMES.get(len(shape or ()), {}))
    x = export_layers(g, stack, g.fresh(inputs), "")
    out_shape = None
    if shape is not None:
        out_shape = shape
        for layer in stack:
            out_shape = layer.output_shape(out_shape)
    infos = []
    for k, name in enumerate(outputs):
        y, y_shape = x, out_shape
        if heads:
            y = ONNX_LAYERS[Dense](g, heads[k], x, f"{name}.")
            y_shape = (None, heads[k].out_features)
        g.op("Identity", [y], name, out=name)
        infos.append(_value_info(g, name, y_shape, onnx.TensorProto.FLOAT, {0: "N"}))
    return onnx.helper.make_graph(g.nodes, "scratchnn", [graph_input], infos, g.initializers)


def _model(onnx: Any, graph: Any, opset: int, description: dict[str, Any]) -> Any:
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="scratchnn",
        ir_version=onnx.helper.find_min_ir_version_for(opsets),  # the oldest that can hold it
    )
    onnx.helper.set_model_props(model, {"scratchnn": json.dumps(json_ready(description))})
    onnx.checker.check_model(model, full_check=True)
    return model


def onnx_models(model: Module, opset: int = OPSET) -> dict[str, Any]:
    """The ``onnx.ModelProto`` graphs of ``model``, checked: ``{"model": ...}`` for a
    Sequential, ``{"encoder": ..., "decoder": ...}`` for a VAE."""
    onnx = import_onnx()
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise InputError(f"opset must be an integer of at least {MIN_OPSET}, got {opset!r}")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise InputError(f"opset {opset} is newer than this onnx package knows ({newest})")
    description = {"architecture": architecture(model), "metadata": getattr(model, "metadata", {})}
    if isinstance(model, VAE):
        out = "x_logits" if model.likelihood == "bernoulli" else "x_mean"
        heads = [model.mu_head, model.logvar_head]
        encoder = _graph(onnx, opset, model.encoder, "x", ["mu", "logvar"], heads)
        decoder = _graph(onnx, opset, model.decoder, "z", [out])
        return {
            "encoder": _model(onnx, encoder, opset, {**description, "graph": "encoder"}),
            "decoder": _model(onnx, decoder, opset, {**description, "graph": "decoder"}),
        }
    if isinstance(model, Sequential):
        graph = _graph(onnx, opset, model, "input", ["logits"])
        return {"model": _model(onnx, graph, opset, {**description, "graph": "model"})}
    raise InputError(
        f"ONNX export supports Sequential models and the VAE, not {type(model).__name__}"
    )


def to_onnx(model: Module, path: str | os.PathLike[str], opset: int = OPSET) -> list[Path]:
    """Write ``model`` as ONNX to ``path``; returns the files written.

    One file for a Sequential (``"input"`` -> ``"logits"``); for a VAE two, named after
    ``path``: ``vae.onnx`` gives ``vae-encoder.onnx`` (``"x"`` -> ``"mu"``, ``"logvar"``)
    and ``vae-decoder.onnx`` (``"z"`` -> ``"x_logits"``). Each is written atomically.

    >>> import tempfile, pathlib, numpy as np
    >>> import onnxruntime
    >>> from scratchnn.models import mlp
    >>> model = mlp([4, 8, 3], rng=0)
    >>> (path,) = to_onnx(model, pathlib.Path(tempfile.mkdtemp()) / "mlp.onnx")
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    (['input'], ['logits'])
    >>> X = np.ones((2, 4), dtype=np.float32)
    >>> bool(np.allclose(session.run(None, {"input": X})[0], model.predict(X), atol=1e-6))
    True
    """
    path = Path(path)
    graphs = onnx_models(model, opset)
    written = []
    for part, proto in graphs.items():
        target = path if part == "model" else path.with_name(f"{path.stem}-{part}{path.suffix}")
        atomic_write_bytes(target, proto.SerializeToString())
        written.append(target)
    return written
