r"""PyTorch's names for our arrays: the one table between a scratchnn and a torch state dict.

scratchnn names a parameter by where it lives and its own key (``"0.W"``, ``"3.gamma"``);
PyTorch by where it lives and *its* key (``"0.weight"``, ``"3.weight"``). The tree, and so
the prefix, is the same when every scratchnn layer becomes one torch module at the same
position (what :func:`scratchnn.interop.to_torch` builds), so only the last part differs,
and :data:`TORCH_NAMES` says how, per layer class:

=====================================  ==========================================  ==============================================
scratchnn layer                        scratchnn key                               torch key
=====================================  ==========================================  ==============================================
Dense, Conv2D                          ``W``, ``b``                                ``weight``, ``bias``
BatchNorm1D, BatchNorm2D               ``gamma``, ``beta``                         ``weight``, ``bias``
\                                      ``running_mean``, ``running_var``,          the same
                                       ``num_batches_tracked``
Embedding                              ``W``                                       ``weight``
LayerNorm, RMSNorm                     ``gamma``, ``beta``                         ``weight``, ``bias``
RNN, LSTM                              ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``      ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``
CausalSelfAttention                    ``Wq``, ``bq``, ... ``Wo``, ``bo``          ``q_proj.weight``, ``q_proj.bias``, ... ``o_proj.bias``
=====================================  ==========================================  ==============================================

The arrays themselves need no change: Dense and Conv2D weights are ``(out, in)`` and
``(F, C, KH, KW)`` as in ``nn.Linear``/``nn.Conv2d``, the LSTM gates are stacked in
PyTorch's order ``i, f, g, o``. A key of a class not in the table keeps its name.

The table lives here, below the models, because ``model.save("m.safetensors")``
(:mod:`scratchnn.io.model_file`) writes these names; :func:`scratchnn.interop.to_torch`
and :func:`~scratchnn.interop.from_torch` copy weights through the same table.

>>> from scratchnn.models import cnn
>>> names = torch_names(cnn(batchnorm=True, rng=0))
>>> names["0.W"], names["1.gamma"], names["1.num_batches_tracked"], names["12.b"]
('0.weight', '1.weight', '1.num_batches_tracked', '12.bias')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelFileError
from ..layers import (
    LSTM,
    RNN,
    BatchNorm1D,
    BatchNorm2D,
    CausalSelfAttention,
    Conv2D,
    Dense,
    Embedding,
    LayerNorm,
    Module,
    RMSNorm,
)

__all__ = [
    "TORCH_NAMES",
    "checked_state",
    "from_torch_state",
    "to_torch_state",
    "torch_key",
    "torch_names",
]

_WEIGHT_BIAS = {"W": "weight", "b": "bias"}
_AFFINE = {"gamma": "weight", "beta": "bias"}
_RECURRENT = {
    "W_ih": "weight_ih_l0",
    "W_hh": "weight_hh_l0",
    "b_ih": "bias_ih_l0",
    "b_hh": "bias_hh_l0",
}
# four nn.Linear(C, C) children, named as in most torch transformer code (our twin's names)
_ATTENTION = {
    f"{kind}{p}": f"{p}_proj.{'weight' if kind == 'W' else 'bias'}" for p in "qkvo" for kind in "Wb"
}

#: scratchnn key -> torch key, per layer class (subclasses inherit their base's entry).
TORCH_NAMES: dict[type[Module], dict[str, str]] = {
    Dense: _WEIGHT_BIAS,
    Conv2D: _WEIGHT_BIAS,
    BatchNorm1D: _AFFINE,  # running_mean, running_var, num_batches_tracked: same names
    BatchNorm2D: _AFFINE,
    Embedding: {"W": "weight"},
    LayerNorm: _AFFINE,
    RMSNorm: {"gamma": "weight"},
    RNN: _RECURRENT,
    LSTM: _RECURRENT,
    CausalSelfAttention: _ATTENTION,
}


def torch_key(module: Module, key: str) -> str:
    """PyTorch's name for ``module``'s array ``key`` (``"W"`` of a Dense: ``"weight"``)."""
    for cls in type(module).__mro__:
        if cls in TORCH_NAMES:
            return TORCH_NAMES[cls].get(key, key)
    return key


def torch_names(model: Module) -> dict[str, str]:
    """``{scratchnn name: torch name}`` for every entry of ``model.state_dict()``."""
    return {
        f"{path}{key}": f"{path}{torch_key(module, key)}"
        for path, module in model.named_modules()
        for key in (*module.params, *module.buffers)
    }


def to_torch_state(model: Module) -> dict[str, np.ndarray]:
    """``model.state_dict()`` (copies) under PyTorch's names."""
    names = torch_names(model)
    return {names[name]: v for name, v in model.state_dict().items()}


def from_torch_state(
    model: Module, tensors: Mapping[str, Any], source: object
) -> dict[str, np.ndarray]:
    """A state dict for ``model`` from arrays under PyTorch's names, every key checked
    (:func:`checked_state`)."""
    return checked_state(model, tensors, source, torch_names(model))


def checked_state(
    model: Module,
    tensors: Mapping[str, Any],
    source: object,
    names: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """A state dict for ``model`` from ``tensors``, named in the file as ``names`` says
    (``{our name: the file's name}``; ``None``: our own names).

    A missing, unexpected or mis-shaped tensor, or an integer buffer given floats, is a
    one-line :class:`~scratchnn.errors.ModelFileError` naming it and ``source`` (the file).
    Buffers a module lists as optional (BatchNorm's ``num_batches_tracked``) may be absent.
    """
    own = {name: param for name, param, _ in model.parameters()}
    own.update(model.named_buffers())
    by_file = {(names or {}).get(name, name): name for name in own}
    optional = {
        f"{path}{key}" for path, module in model.named_modules() for key in module.optional_buffers
    }
    what = type(model).__name__
    unexpected = [key for key in tensors if key not in by_file]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise ModelFileError(
            f"{source}: unexpected tensor {unexpected[0]!r}{more}, which this {what} has no "
            "parameter for; build the model the weights came from"
        )
    missing = [key for key, name in by_file.items() if key not in tensors and name not in optional]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ModelFileError(
            f"{source}: no tensor {missing[0]!r}{more} for this {what}'s "
            f"{by_file[missing[0]]}; build the model the weights came from"
        )
    state = {}
    for key, name in by_file.items():  # in the model's order: the first layer's errors first
        if key not in tensors:
            continue
        value = np.asarray(tensors[key])
        if value.shape != own[name].shape:
            raise ModelFileError(
                f"{source}: tensor {key!r} has shape {value.shape}, but this {what}'s {name} "
                f"has {own[name].shape}; build the model the weights came from"
            )
        if value.dtype.kind not in ("iu" if own[name].dtype.kind in "iu" else "fiu"):
            raise ModelFileError(
                f"{source}: tensor {key!r} has dtype {value.dtype}, but this {what}'s {name} "
                f"is {own[name].dtype}"
            )
        state[name] = value
    return state
