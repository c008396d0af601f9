"""Between raw data and a model: the input scaling saved with it, and what its outputs mean.

:func:`~scratchnn.experiments.fit_preprocess` computes the scaling on the training split only
and returns it as JSON (stored in the model's ``metadata["preprocess"]``);
:func:`~scratchnn.experiments.apply_preprocess` applies it, the one place where ``train``,
``evaluate``, ``predict`` and ``compare`` turn raw inputs into model inputs.
:func:`~scratchnn.experiments.predict_outputs` runs a saved model on raw inputs, and
:func:`~scratchnn.experiments.outputs_to_labels` and
:func:`~scratchnn.experiments.outputs_to_probabilities` read its logits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError, ModelFileError, ShapeError
from ..layers.activations import sigmoid, softmax
from ..model import Sequential
from ..preprocessing import Standardizer
from .data import Data

__all__ = [
    "apply_preprocess",
    "check_model_metadata",
    "fit_preprocess",
    "outputs_to_labels",
    "outputs_to_probabilities",
    "predict_outputs",
]


# -- scaling: fitted on the training split only, saved with the model ----------------------
def fit_preprocess(data: Data, input_layout: str = "flat") -> dict[str, Any]:
    """The input transform, as JSON: ``{"scaler": ..., "layout": ..., "image_shape": ...}``.

    Images are scaled by 1/255 to ``[0, 1]``; other features are standardised with the mean
    and standard deviation of the *training split only*. ``layout`` is ``"flat"`` (rows of
    features) or ``"image"`` (``(N, C, H, W)`` tensors, for convolutional models).
    """
    if input_layout not in ("flat", "image"):
        raise InputError(f"input_layout must be 'flat' or 'image', got {input_layout!r}")
    if data.image_shape is not None:
        return {
            "scaler": {"kind": "rescale", "factor": 1 / 255},
            "layout": input_layout,
            "image_shape": list(data.image_shape),
        }
    if input_layout == "image":
        raise InputError(
            f"{data.name} holds rows of features, not images, which a convolutional model "
            "cannot read; use --model mlp"
        )
    X = data.X_train.reshape(len(data.X_train), -1)
    return {
        "scaler": {"kind": "standardize", **Standardizer().fit(X).get_config()},
        "layout": "flat",
        "image_shape": None,
    }


def apply_preprocess(preprocess: Mapping[str, Any], X: Any, dtype: Any = np.float32) -> np.ndarray:
    """Apply a transform from :func:`fit_preprocess` (or a model's metadata) to raw inputs."""
    X = np.asarray(X)
    if X.ndim == 0 or len(X) == 0:
        raise ShapeError(f"no examples to transform (shape {X.shape})")
    dtype = np.dtype(dtype)
    scaler = preprocess.get("scaler") or {"kind": "none"}
    image_shape = preprocess.get("image_shape")
    if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)):
        raise InputError(f"inputs have dtype {X.dtype}; pass numbers")
    flat = X.reshape(len(X), -1)
    if scaler["kind"] == "rescale":
        out = flat.astype(dtype)  # a new array: scaled in place without a float64 copy
        out *= dtype.type(scaler["factor"])
    elif scaler["kind"] == "standardize":
        out = Standardizer.from_config(scaler).transform(flat.astype(np.float64)).astype(dtype)
    elif scaler["kind"] == "none":
        out = flat.astype(dtype)
    else:
        raise InputError(f"unknown scaler {scaler['kind']!r} in the model's metadata")
    if preprocess.get("layout") == "image":
        if image_shape is None or int(np.prod(image_shape)) != out.shape[1]:
            raise ShapeError(f"inputs of shape {X.shape} do not fit images of shape {image_shape}")
        return out.reshape(len(out), *image_shape)
    return out


def predict_outputs(model: Sequential, X_raw: Any, batch_size: int = 1024) -> np.ndarray:
    """Model outputs for raw inputs, through the transform saved in ``model.metadata``."""
    preprocess = model.metadata.get("preprocess", {"scaler": {"kind": "none"}, "layout": "flat"})
    return model.predict(apply_preprocess(preprocess, X_raw, model.dtype), batch_size=batch_size)


def outputs_to_labels(outputs: np.ndarray) -> np.ndarray:
    """Class indices from logits: argmax, or ``logit > 0`` for a single output."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0).astype(np.int64)
    return outputs.argmax(axis=1)


def outputs_to_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from logits (softmax; sigmoid for a single output)."""
    outputs = outputs.astype(np.float64)
    if outputs.shape[1] == 1:
        p = sigmoid(outputs[:, 0])
        return np.column_stack([1 - p, p])
    return softmax(outputs, axis=1)


# -- what a trained model's file says about its data, checked -------------------------------
def _finite_numbers(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)


def _output_width(model: Any) -> int | None:
    """The number of outputs: the rows of the last weight matrix (``None`` if there is none)."""
    weights = [v for k, v in model.state_dict().items() if k.endswith("W") and np.ndim(v) >= 2]
    return int(weights[-1].shape[0]) if weights else None


def check_model_metadata(model: Any, path: Any) -> None:
    """Refuse a model file whose metadata ``scratchnn train`` could not have written.

    ``model.metadata`` comes from the file as JSON: ``classes`` must be a list of names as
    long as the model has outputs (two for one logit), ``preprocess`` a scaler of a known
    kind with finite numbers, ``seed`` a whole number, ``feature_names`` a list of names.
    One-line :class:`~scratchnn.errors.ModelFileError` naming the field.
    """

    def refuse(field: str, expected: str) -> None:
        value = repr(meta.get(field))
        value = value if len(value) <= 60 else value[:57] + "..."
        raise ModelFileError(
            f"{path}: metadata {field} should be {expected}, got {value}; the file was edited "
            "or damaged, use the model file that training wrote"
        )

    meta = model.metadata
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata is not a JSON object; the file is damaged")
    for field in ("dataset", "task", "loss", "target", "model_type", "scratchnn_version"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            refuse(field, "a name")
    seed = meta.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        refuse("seed", "a whole number from 0 to 2^63 - 1")
    if meta.get("feature_names") is not None and not _names(meta["feature_names"]):
        refuse("feature_names", "a list of column names")
    classes = meta.get("classes")
    if classes is not None:
        width = _output_width(model)
        expected = None if width is None else max(width, 2)
        if not _names(classes) or (expected is not None and len(classes) != expected):
            refuse("classes", f"a list of {expected or 'the'} class names (one per output)")
    preprocess = meta.get("preprocess")
    if preprocess is None:
        return
    if not isinstance(preprocess, dict):
        refuse("preprocess", "a JSON object (scaler, layout, image_shape)")
    scaler = preprocess.get("scaler") or {"kind": "none"}
    kind = scaler.get("kind") if isinstance(scaler, dict) else None
    if kind not in ("none", "rescale", "standardize"):
        refuse("preprocess", "a scaler of kind none, rescale or standardize")
    if kind == "rescale" and not _finite_numbers([scaler.get("factor")]):
        refuse("preprocess", "a rescale scaler with a finite factor")
    if kind == "standardize" and not (
        _finite_numbers(scaler.get("mean"))
        and _finite_numbers(scaler.get("scale"))
        and len(scaler["mean"]) == len(scaler["scale"])
    ):
        refuse("preprocess", "a standardize scaler with finite means and scales of one length")
    if preprocess.get("layout", "flat") not in ("flat", "image"):
        refuse("preprocess", "a layout flat or image")
    shape = preprocess.get("image_shape")
    if shape is not None and not (
        isinstance(shape, list)
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 1 << 16 for n in shape)
    ):
        refuse("preprocess", "an image_shape of positive whole numbers")
