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

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError, ShapeError
from ..layers.activations import sigmoid, softmax
from ..model import Sequential
from ..preprocessing import Standardizer
from .data import Data

__all__ = [
    "apply_preprocess",
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
