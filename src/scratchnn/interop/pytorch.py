"""PyTorch twins of scratchnn models, both ways: :func:`to_torch` and :func:`from_torch`.

A twin has one ``torch.nn`` module per scratchnn layer, at the same position, so that the
two state dicts differ only in the last part of each name, which
:data:`~scratchnn.io.torch_names.TORCH_NAMES` translates (``"0.W"`` is ``"0.weight"``).
Both directions copy the weights through that one table, with torch's own
``load_state_dict(strict=True)`` or ours checking every name and shape, the same
translation ``model.save("m.safetensors")`` writes. The structure comes from
:data:`TORCH_LAYERS` (scratchnn layer -> torch module) and :data:`FROM_TORCH` (the reverse).

Three scratchnn pieces have no single ``torch.nn`` module; their small torch modules are
in :mod:`scratchnn.interop.torch_twins`.

PyTorch is optional (``pip install "scratchnn[torch]"``) and imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from ..errors import InputError
from ..io.torch_names import from_torch_state, to_torch_state
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
from ..models import VAE
from .torch_twins import import_torch, torch_twins

__all__ = ["FROM_TORCH", "TORCH_LAYERS", "from_torch", "import_torch", "to_torch"]


def _pool(cls_name: str) -> Callable[[Any, Any], Any]:
    return lambda layer, torch: getattr(torch.nn, cls_name)(layer.kernel_size, layer.stride)


def _batchnorm(layer: BatchNorm1D | BatchNorm2D, torch: Any) -> Any:
    cls = torch.nn.BatchNorm1d if isinstance(layer, BatchNorm1D) else torch.nn.BatchNorm2d
    return cls(layer.num_features, eps=layer.eps, momentum=layer.momentum)


#: How each scratchnn layer class becomes a ``torch.nn`` module: ``(layer, torch) -> module``.
#: Only the structure: :func:`to_torch` copies the weights through the name table.
TORCH_LAYERS: dict[type[Module], Callable[[Any, Any], Any]] = {
    Dense: lambda layer, torch: torch.nn.Linear(
        layer.in_features, layer.out_features, bias=layer.bias
    ),
    ReLU: lambda layer, torch: torch.nn.ReLU(),
    LeakyReLU: lambda layer, torch: torch.nn.LeakyReLU(layer.negative_slope),
    Tanh: lambda layer, torch: torch.nn.Tanh(),
    Sigmoid: lambda layer, torch: torch.nn.Sigmoid(),
    Identity: lambda layer, torch: torch.nn.Identity(),
    Softmax: lambda layer, torch: torch.nn.Softmax(dim=-1),
    GELU: lambda layer, torch: torch.nn.GELU(approximate="tanh"),
    Flatten: lambda layer, torch: torch.nn.Flatten(),
    Dropout: lambda layer, torch: torch.nn.Dropout(layer.p),
    Conv2D: lambda layer, torch: torch.nn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        bias=layer.bias,
    ),
    MaxPool2D: _pool("MaxPool2d"),
    AvgPool2D: _pool("AvgPool2d"),  # no padding in ours, so count_include_pad never matters
    GlobalAvgPool2D: lambda layer, torch: torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    ),
    BatchNorm1D: _batchnorm,
    BatchNorm2D: _batchnorm,
    Embedding: lambda layer, torch: torch.nn.Embedding(layer.num_embeddings, layer.embedding_dim),
    LayerNorm: lambda layer, torch: torch.nn.LayerNorm(
        layer.size, eps=layer.eps, elementwise_affine=layer.elementwise_affine, bias=layer.bias
    ),
    RMSNorm: lambda layer, torch: torch.nn.RMSNorm(
        layer.size, eps=layer.eps, elementwise_affine=layer.elementwise_affine
    ),
    RNN: lambda layer, torch: torch_twins(torch).RNNOutputs(
        layer.input_size,
        layer.hidden_size,
        nonlinearity=layer.nonlinearity,
        bias=layer.bias,
        batch_first=True,
    ),
    LSTM: lambda layer, torch: torch_twins(torch).LSTMOutputs(
        layer.input_size, layer.hidden_size, bias=layer.bias, batch_first=True
    ),
    CausalSelfAttention: lambda layer, torch: torch_twins(torch).TorchCausalSelfAttention(
        layer.embed_dim, layer.num_heads, bias=layer.bias
    ),
}


def _structure(module: Module, torch: Any, where: str = "the model") -> Any:
    """The torch twin of ``module`` with its modules in place (weights not yet copied)."""
    if isinstance(module, Sequential):
        return torch.nn.Sequential(
            *(_structure(layer, torch, f"layer {i}") for i, layer in enumerate(module))
        )
    if isinstance(module, VAE):
        twins = [
            _structure(module.children[name], torch, f"the VAE's {name}")
            for name in ("encoder", "mu", "logvar", "decoder")
        ]
        return torch_twins(torch).TorchVAE(*twins, config=module.get_config())
    for cls in type(module).__mro__:
        if cls in TORCH_LAYERS:
            return TORCH_LAYERS[cls](module, torch)
    raise InputError(
        f"{where} ({type(module).__name__}) has no PyTorch twin in "
        "scratchnn.interop.TORCH_LAYERS; add one there to translate this model"
    )


def _float_dtype(module: Module) -> np.dtype:
    dtype = getattr(module, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype
    return next((p.dtype for _, p, _ in module.parameters()), np.dtype(np.float32))


def to_torch(model: Module, torch: Any | None = None) -> Any:
    """A ``torch.nn`` twin of ``model`` holding copies of its current parameters and buffers.

    A :class:`~scratchnn.Sequential` becomes a ``torch.nn.Sequential`` with one module per
    layer (:data:`TORCH_LAYERS`); the :class:`~scratchnn.models.VAE` a ``TorchVAE``; a
    single layer its module. Parameters keep their dtype (float64 stays float64, whatever
    torch's default). Dropout becomes ``nn.Dropout(p)``, BatchNorm keeps its running
    statistics; call ``.eval()`` on the twin to predict as ``model.predict`` does.

    >>> import numpy as np
    >>> from scratchnn.models import mlp
    >>> net = to_torch(mlp([3, 4, 2], rng=0, dtype=np.float64))
    >>> net
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): ReLU()
      (2): Linear(in_features=4, out_features=2, bias=True)
    )
    >>> net[0].weight.dtype
    torch.float64
    """
    torch = torch or import_torch()
    net = _structure(model, torch)
    net = net.to(torch.float64 if _float_dtype(model) == np.float64 else torch.float32)
    state = {name: torch.from_numpy(value) for name, value in to_torch_state(model).items()}
    net.load_state_dict(state, strict=True)  # torch checks our names against its own
    return net


# -- from torch -------------------------------------------------------------------------------
def _refuse(where: str, module: Any, what: str) -> NoReturn:
    raise InputError(f"{where}, {module}: {what}")


def _require(where: str, module: Any, **expected: Any) -> None:
    """One line naming the first attribute of ``module`` scratchnn cannot represent
    (``expected``: the value it must have, or a list of the values it may have)."""
    for attr, allowed in expected.items():
        value = getattr(module, attr)
        if value not in (allowed if isinstance(allowed, list) else [allowed]):
            _refuse(where, module, f"scratchnn supports only {attr}={allowed!r}, not {value!r}")


def _linear(m: Any, where: str) -> Module:
    return Dense(m.in_features, m.out_features, bias=m.bias is not None)


def _conv2d(m: Any, where: str) -> Module:
    _require(where, m, groups=1, dilation=(1, 1), padding_mode="zeros")
    if isinstance(m.padding, str):
        _refuse(where, m, "give the padding as numbers (scratchnn has no padding='same')")
    return Conv2D(
        m.in_channels,
        m.out_channels,
        tuple(m.kernel_size),
        stride=tuple(m.stride),
        padding=tuple(m.padding),
        bias=m.bias is not None,
    )


def _pool2d(cls: type[Module]) -> Callable[[Any, str], Module]:
    def convert(m: Any, where: str) -> Module:
        _require(where, m, padding=[0, (0, 0)], ceil_mode=False)
        dilation = getattr(m, "dilation", 1)
        if getattr(m, "divisor_override", None) is not None or dilation not in (1, (1, 1)):
            _refuse(where, m, "scratchnn pools without dilation or divisor_override")
        return cls(m.kernel_size, m.stride)

    return convert


def _batchnorm_from(cls: type[Module]) -> Callable[[Any, str], Module]:
    def convert(m: Any, where: str) -> Module:
        _require(where, m, affine=True, track_running_stats=True)
        if m.momentum is None:
            _refuse(where, m, "scratchnn's running statistics need a momentum, not None")
        return cls(m.num_features, eps=m.eps, momentum=m.momentum)

    return convert


def _embedding(m: Any, where: str) -> Module:
    _require(where, m, padding_idx=None, max_norm=None, scale_grad_by_freq=False)
    return Embedding(m.num_embeddings, m.embedding_dim)


def _one_axis(m: Any, where: str) -> int:
    if len(m.normalized_shape) != 1:
        _refuse(where, m, "scratchnn normalises over the last axis only")
    return m.normalized_shape[0]


def _recurrent(m: Any, where: str) -> Module:
    _require(where, m, num_layers=1, batch_first=True, bidirectional=False)
    if getattr(m, "proj_size", 0):
        _refuse(where, m, "scratchnn's LSTM has no proj_size")
    if m.mode == "LSTM":
        return LSTM(m.input_size, m.hidden_size, bias=m.bias)
    return RNN(m.input_size, m.hidden_size, nonlinearity=m.nonlinearity, bias=m.bias)


def _gelu(m: Any, where: str) -> Module:
    if m.approximate != "tanh":
        _refuse(where, m, "scratchnn's GELU is the tanh form: use nn.GELU(approximate='tanh')")
    return GELU()


def _softmax(m: Any, where: str) -> Module:
    if m.dim != -1:
        _refuse(where, m, "scratchnn's Softmax is over the last axis: use nn.Softmax(dim=-1)")
    return Softmax()


def _flatten(m: Any, where: str) -> Module:
    _require(where, m, start_dim=1, end_dim=-1)
    return Flatten()


def _sequential(m: Any, where: str) -> Module:
    """Only what :func:`to_torch` makes of GlobalAvgPool2D: AdaptiveAvgPool2d(1), Flatten()."""
    kinds = [type(child).__name__ for child in m]
    if kinds == ["AdaptiveAvgPool2d", "Flatten"] and m[0].output_size in (1, (1, 1)):
        _flatten(m[1], where)
        return GlobalAvgPool2D()
    _refuse(where, "a nested Sequential", "only Sequential(AdaptiveAvgPool2d(1), Flatten()) nests")


#: torch class name -> ``(module, where) -> scratchnn layer`` (a structure; weights follow).
FROM_TORCH: dict[str, Callable[[Any, str], Module]] = {
    "Linear": _linear,
    "ReLU": lambda m, where: ReLU(),
    "LeakyReLU": lambda m, where: LeakyReLU(m.negative_slope),
    "Tanh": lambda m, where: Tanh(),
    "Sigmoid": lambda m, where: Sigmoid(),
    "Identity": lambda m, where: Identity(),
    "Softmax": _softmax,
    "GELU": _gelu,
    "Flatten": _flatten,
    "Dropout": lambda m, where: Dropout(m.p),
    "Conv2d": _conv2d,
    "MaxPool2d": _pool2d(MaxPool2D),
    "AvgPool2d": _pool2d(AvgPool2D),
    "Sequential": _sequential,
    "BatchNorm1d": _batchnorm_from(BatchNorm1D),
    "BatchNorm2d": _batchnorm_from(BatchNorm2D),
    "Embedding": _embedding,
    "LayerNorm": lambda m, where: LayerNorm(
        _one_axis(m, where),
        eps=m.eps,
        elementwise_affine=m.elementwise_affine,
        bias=m.bias is not None or not m.elementwise_affine,
    ),
    "RMSNorm": lambda m, where: RMSNorm(
        _one_axis(m, where), eps=m.eps, elementwise_affine=m.elementwise_affine
    ),
    "RNN": _recurrent,
    "LSTM": _recurrent,
    "TorchCausalSelfAttention": lambda m, where: CausalSelfAttention(
        m.q_proj.in_features, m.num_heads, bias=m.q_proj.bias is not None
    ),
}


_TWINS = torch_twins.__module__  # the module defining our own torch modules


def _layer_from(module: Any, where: str) -> Module:
    for cls in type(module).__mro__:
        if cls.__name__ in FROM_TORCH and cls.__module__.startswith(("torch.", _TWINS)):
            return FROM_TORCH[cls.__name__](module, where)
    raise InputError(
        f"{where}, {type(module).__name__}, has no scratchnn counterpart "
        f"(scratchnn.interop.FROM_TORCH knows {', '.join(sorted(FROM_TORCH))})"
    )


def from_torch(module: Any, dtype: Any = None) -> Sequential | VAE:
    """The scratchnn model of a ``torch.nn.Sequential`` (or a ``TorchVAE``), same weights.

    Each module of the Sequential becomes its scratchnn layer (:data:`FROM_TORCH`); an
    option scratchnn cannot represent (``nn.GELU()``'s exact form, ``batch_first=False``,
    a dilated convolution, ...) is a one-line :class:`~scratchnn.errors.InputError`
    naming the module. ``dtype`` defaults to the module's: float64 stays float64, any
    other floating type becomes float32.

    >>> import torch
    >>> nn = torch.nn
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).float()
    >>> model = from_torch(net)
    >>> model.summary().splitlines()[-1]
    'total parameters: 26 (float32)'
    """
    torch = import_torch()
    if dtype is None:
        first = next((p for p in module.parameters() if p.is_floating_point()), None)
        dtype = np.float64 if first is not None and first.dtype == torch.float64 else np.float32
    if isinstance(module, torch_twins(torch).TorchVAE):
        model: Sequential | VAE = VAE(**{**module.config, "dtype": np.dtype(dtype).name})
    elif isinstance(module, torch.nn.Sequential):
        model = Sequential(
            *(_layer_from(m, f"module {i}") for i, m in enumerate(module)), dtype=dtype
        )
    else:
        raise InputError(
            f"from_torch takes a torch.nn.Sequential (or the TorchVAE of to_torch), not a "
            f"{type(module).__name__}; put the modules in an nn.Sequential"
        )
    tensors = {name: t.detach().cpu().numpy() for name, t in module.state_dict().items()}
    model.load_state_dict(from_torch_state(model, tensors, "the torch module"))
    return model
