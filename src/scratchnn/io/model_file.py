"""Model files: one ``.npz`` with the architecture as JSON and every parameter and buffer.

A model file (:mod:`scratchnn.io.npz` describes the container) holds

- in its JSON: ``"kind": "model"``, the architecture ``{"class": "Sequential", "config":
  {...}}`` (the model's class, looked up in :data:`scratchnn.registry.MODULES`, and its
  :meth:`~scratchnn.layers.Module.get_config`) and ``"extra"``, the model's ``metadata``;
- ``param/<name>``: every entry of :meth:`~scratchnn.layers.Module.state_dict`, named as
  there: the parameters (``param/0.W``, ``param/0.b``, ...) and the buffers, non-trainable
  state such as BatchNorm's running statistics (``param/1.running_mean``).

Loading rebuilds the architecture from JSON and requires every parameter and buffer with
the right shape: a partial load is an error, never silent. The architecture may not declare
more parameters than the file holds (it is checked while the layers are built, before
their memory is taken), and a NaN or infinite parameter is refused, naming it. Files of
format version 1
(scratchnn 0.1, whose architecture was the bare config of a Sequential or a VAE) load too.

A path ending in ``.safetensors`` is written and read in that format instead
(:mod:`scratchnn.io.safetensors_file`): the same description as metadata, the arrays under
PyTorch's names. :func:`load_weights` loads the weights of either kind of file, a PyTorch
export included, into a model you build.

>>> import tempfile, pathlib, numpy as np
>>> from scratchnn.models import mlp
>>> model = mlp([4, 8, 3], rng=0)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
>>> save_model(model, path)
>>> clone = load_model(path)
>>> bool(np.array_equal(clone.predict(np.ones((1, 4))), model.predict(np.ones((1, 4)))))
True
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._validation import allocation_budget
from ..errors import InputError, ModelFileError, ScratchnnError
from ..layers.base import Module
from ..registry import MODULES
from .npz import read_npz, write_npz
from .safetensors_file import SUFFIX, read_safetensors, write_safetensors
from .torch_names import checked_state, from_torch_state, to_torch_state

__all__ = [
    "architecture",
    "build_model",
    "load_model",
    "load_weights",
    "model_class_and_config",
    "save_model",
]


def _is_safetensors(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).lower().endswith(SUFFIX)


def architecture(model: Module) -> dict[str, Any]:
    """``{"class": name, "config": model.get_config()}``, what a file says about a model."""
    return {"class": type(model).__name__, "config": model.get_config()}


def save_model(model: Module, path: str | os.PathLike[str], /, **extra: Any) -> None:
    """Save ``model`` (architecture, parameters, buffers) and JSON-able ``extra`` metadata atomically.

    ``model`` and ``path`` are positional-only, so that metadata may use any key, ``"model"``
    and ``"path"`` included. A ``path`` ending in ``.safetensors`` is written in that format,
    with PyTorch's names for the arrays; any other path is a scratchnn ``.npz`` file.
    """
    meta = {"kind": "model", "architecture": architecture(model), "extra": extra}
    if _is_safetensors(path):
        write_safetensors(path, meta, to_torch_state(model))
        return
    arrays = {f"param/{name}": value for name, value in model.state_dict().items()}
    write_npz(path, meta, arrays)


def model_class_and_config(arch: Any) -> tuple[type[Module], dict[str, Any]]:
    """The registered class and its config from a file's ``"architecture"`` entry.

    ``{"class": ..., "config": ...}`` since format 2; format 1 files held the config itself,
    with ``"class": "VAE"`` for a VAE and no class for a Sequential.
    """
    if not isinstance(arch, dict):
        raise InputError("the architecture is not a JSON object")
    if set(arch) == {"class", "config"}:
        name, config = arch["class"], arch["config"]
    else:
        name = arch.get("class", "Sequential")
        config = {k: v for k, v in arch.items() if k != "class"}
    if not isinstance(config, dict):
        raise InputError(f"the config of {name!r} is not a JSON object")
    if name not in MODULES:
        raise InputError(
            f"unknown model class {name!r}; define or import it before loading "
            f"(this program knows {', '.join(MODULES)})"
        )
    return MODULES.get(name), config


def build_model(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str | os.PathLike[str]
) -> Module:
    """The model held by what :func:`~scratchnn.io.npz.read_npz` returned (``path`` only
    names the file in errors)."""
    state = _npz_state(arrays)
    model = _rebuild(meta, path, state)
    _load_state(model, state, path)
    return model


def _rebuild(
    meta: dict[str, Any], path: str | os.PathLike[str], state: dict[str, np.ndarray]
) -> Module:
    """The untrained model ``meta`` describes, its ``metadata`` set.

    The layers may allocate at most about what ``state`` (the file's arrays) holds: a small
    file declaring huge layers is refused at the first one, before its memory is taken.
    """
    if not isinstance(meta.get("architecture"), dict):
        raise ModelFileError(f"{path}: holds no model architecture")
    budget = sum(int(value.size) for value in state.values())
    try:
        cls, config = model_class_and_config(meta["architecture"])
        with allocation_budget(budget):
            model = cls.from_config(config)
    except (ScratchnnError, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the saved architecture cannot be rebuilt ({exc})") from None
    except (MemoryError, RecursionError, OverflowError) as exc:
        raise ModelFileError(
            f"{path}: the saved architecture cannot be rebuilt ({type(exc).__name__}); "
            "the file is damaged, use another file"
        ) from None
    extra = meta.get("extra", {})
    model.metadata = extra if isinstance(extra, dict) else {}
    return model


def _npz_state(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        key[len("param/") :]: value for key, value in arrays.items() if key.startswith("param/")
    }


def _load_state(model: Module, state: dict[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    for name, value in state.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ModelFileError(
                f"{path}: parameter {name} holds NaN or infinite values, which would predict "
                "nonsense; use an earlier checkpoint or train the model again"
            )
    try:
        model.load_state_dict(state, strict=True)
    except (ScratchnnError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: parameters do not match the architecture ({exc})") from None


def load_model(path: str | os.PathLike[str]) -> Module:
    """Rebuild a model saved by :func:`save_model` (or inside a checkpoint).

    The architecture is rebuilt from JSON and every parameter and buffer must be present
    with the right shape: a partial load is an error, never silent. A ``.safetensors``
    file must hold scratchnn's metadata; one without it (a PyTorch export) has no
    architecture to rebuild: build the model and call :func:`load_weights`.
    """
    if not _is_safetensors(path):
        meta, arrays = read_npz(path)
        return build_model(meta, arrays, path)
    meta, tensors = read_safetensors(path)
    if meta is None:
        raise ModelFileError(
            f"{path}: holds weights but no scratchnn architecture (a PyTorch export?); "
            "build the model and call scratchnn.load_weights(model, path)"
        )
    model = _rebuild(meta, path, tensors)
    _load_state(model, from_torch_state(model, tensors, path), path)
    return model


def load_weights(model: Module, path: str | os.PathLike[str]) -> Module:
    """Copy the weights of the file at ``path`` into ``model``, in place; returns ``model``.

    ``path`` is a ``.safetensors`` file, whether scratchnn or PyTorch wrote it (its tensors
    named as in PyTorch, :mod:`scratchnn.io.torch_names`), or a scratchnn ``.npz`` model
    file; an architecture it describes is ignored. Every parameter and buffer of ``model``
    must be in the file with its shape, and nothing else: a missing, unexpected or
    mis-shaped tensor is a one-line :class:`~scratchnn.errors.ModelFileError` naming it.

    >>> import tempfile, pathlib, numpy as np
    >>> from scratchnn.models import mlp
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "weights.safetensors"
    >>> mlp([4, 8, 3], rng=0).save(path)
    >>> model = load_weights(mlp([4, 8, 3], rng=1), path)
    >>> load_weights(mlp([4, 16, 3]), path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    scratchnn.errors.ModelFileError: ...: tensor '0.weight' has shape (8, 4), but this Sequential's 0.W has (16, 4); build the model the weights came from
    """
    if _is_safetensors(path):
        _, tensors = read_safetensors(path)
        state = from_torch_state(model, tensors, path)
    else:
        _, arrays = read_npz(path)
        state = checked_state(model, _npz_state(arrays), path)
    _load_state(model, state, path)
    return model
