"""Models: a :class:`Model` is a module you train, and :class:`Sequential` is the first one.

:class:`Model` adds to the :class:`~scratchnn.layers.Module` tree what a user does with a
whole network: ``fit`` (the loop of :mod:`scratchnn.loop`, run by
:func:`scratchnn.training.fit`), ``evaluate``, ``predict``, ``save`` and ``metadata`` saved
with it. :class:`Sequential` applies its layers in order and backpropagates in reverse;
the CNN and the VAE are models too (:mod:`scratchnn.models`), and so is any subclass you
write whose ``forward`` and ``backward`` combine its children.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._validation import as_float_array, check_positive, warn_if_unscaled_pixels
from .errors import InputError, ShapeError
from .io.model_file import save_model
from .layers.base import Module
from .layers.conv import Conv2D
from .layers.dense import Dense
from .layers.reshape import Flatten
from .loop import Evaluation
from .losses import Loss
from .registry import MODULES
from .training import History, evaluate, fit

__all__ = ["Evaluation", "Model", "Sequential"]


def _feature_shape_message(shape: tuple[int, ...], expected: int, name: str) -> str:
    """What is wrong with an input of ``shape`` for a model of ``expected`` features, and the fix."""
    if len(shape) == 1:
        return (
            f"{name} has shape {shape} but must be 2-D, (n_examples, n_features) with "
            f"{expected} feature(s) here: use {name}.reshape(-1, 1) for one feature per "
            f"example, or {name}.reshape(1, -1) for a single example"
        )
    if len(shape) > 2:
        if int(np.prod(shape[1:])) == expected:
            return (
                f"{name} has shape {shape} (images?) but the model's first layer takes rows of "
                f"{expected} features: flatten them with {name}.reshape(len({name}), -1), or "
                "start the model with a Flatten() layer"
            )
        return (
            f"{name} has shape {shape} but the model takes rows of {expected} features, "
            f"shape (n_examples, {expected})"
        )
    return (
        f"{name} has {shape[1]} features per example but the model expects {expected}; "
        "use data with the same columns the model was trained on"
    )


class Model(Module):
    """A module you train and use: ``fit``, ``evaluate``, ``predict``, ``save``.

    Subclasses build their children in ``__init__`` (after ``super().__init__(dtype)``) and
    write ``forward`` and ``backward``; :meth:`get_config` returns the constructor
    arguments so that ``scratchnn.load`` can rebuild the model.

    Attributes
    ----------
    dtype : numpy.dtype
        The one dtype of every parameter; ``fit``, ``predict`` and ``evaluate`` convert
        inputs to it once.
    metadata : dict
        JSON-able information saved with the model (feature scaling, class names, a
        tokenizer).
    stop_training : bool
        Set by a callback (EarlyStopping) to end ``fit`` after the current epoch.
    """

    def __init__(self, dtype: Any = np.float32) -> None:
        super().__init__()
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise InputError(f"dtype must be a floating type such as float32, got {self.dtype}")
        self.metadata: dict[str, Any] = {}
        self.stop_training = False

    #: Number of input features, if the model declares it (``None``: any shape).
    input_dim: int | None = None
    #: Number of outputs (classes for a classifier), if known.
    output_dim: int | None = None

    def check_input(self, X: Any, name: str = "X") -> np.ndarray:
        """``X`` as an array of the model's dtype, its shape checked; one-line errors.

        A wrong shape names the fix (``X.reshape(-1, 1)`` for a 1-D ``X``,
        ``X.reshape(len(X), -1)`` or a ``Flatten`` layer for images given to a Dense layer).
        Unscaled image pixels (whole numbers up to 255) fed to a Dense or Conv2D layer give
        a :class:`~scratchnn.errors.ScratchnnWarning`.
        """
        X = as_float_array(X, self.dtype, name=name)
        expected = self.input_dim
        if expected is not None and (X.ndim != 2 or X.shape[1] != expected):
            raise ShapeError(_feature_shape_message(X.shape, expected, name))
        if self._takes_pixels():
            warn_if_unscaled_pixels(X, name)
        return X

    def _takes_pixels(self) -> bool:
        """Whether the first layer that reads the input is a Dense or a Conv2D layer."""
        for layer in getattr(self, "layers", ()):
            if isinstance(layer, Flatten):
                continue
            return isinstance(layer, (Dense, Conv2D))
        return False

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Model outputs (logits for a classifier) in evaluation mode, computed in batches.

        Batches are joined on the first axis, so outputs of any shape work: ``(N, C)`` for
        a classifier, ``(N, T, V)`` for a language model.
        """
        check_positive(batch_size, "batch_size", integer=True)
        X = self.check_input(X)
        outputs = [
            self.forward(X[start : start + batch_size], training=False)
            for start in range(0, X.shape[0], batch_size)
        ]
        return np.concatenate(outputs, axis=0)

    def predict_classes(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Predicted class labels: argmax of the outputs, or ``output > 0`` for one logit.

        The classes are on the last axis, so sequence outputs ``(N, T, V)`` (a language
        model's) give one label per position, ``(N, T)``.
        """
        Y = self.predict(X, batch_size=batch_size)
        if Y.shape[-1] == 1:
            return (Y[..., 0] > 0).astype(np.intp)
        return Y.argmax(axis=-1)

    def evaluate(
        self, X: Any, y: Any, loss: str | Loss = "ce", batch_size: int = 1024
    ) -> Evaluation:
        """Mean loss and accuracy over ``(X, y)``, in evaluation mode and in batches."""
        return evaluate(self, X, y, loss=loss, batch_size=batch_size)

    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train with mini-batches; see :func:`scratchnn.training.fit` for every argument."""
        return fit(self, X, y, **kwargs)

    def save(self, path: Any) -> None:
        """Save architecture, parameters and :attr:`metadata` to one file (atomic, no pickle).

        A scratchnn ``.npz`` file, or, for a path ending in ``.safetensors``, a safetensors
        file whose tensors carry PyTorch's names (``"0.weight"``): ``torch.nn`` twins load
        it with ``load_state_dict`` (:mod:`scratchnn.io.safetensors_file`). Both reload
        with :func:`scratchnn.load`.
        """
        save_model(self, path, **self.metadata)


class Sequential(Model):
    """A stack of layers: ``Y = f_L(... f_2(f_1(X)))``.

    ``backward`` applies the chain rule in reverse, each layer turning ``∂L/∂(its output)``
    into ``∂L/∂(its input)`` and setting its parameter gradients on the way
    (BP2 layer by layer; thinc's ``chain``).

    Parameters
    ----------
    *layers : Module
        The layers, in order (a single list is accepted too).
    dtype : numpy dtype
        One switch for the whole model: every parameter is converted to it and ``fit``,
        ``predict`` and ``evaluate`` convert inputs to it once. float32 by default.

    Raises
    ------
    ShapeError
        If consecutive layers do not fit (``Dense(2, 16)`` followed by ``Dense(8, 1)``).

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense, ReLU
    >>> rng = np.random.default_rng(0)
    >>> model = Sequential(Dense(2, 16, rng=rng), ReLU(), Dense(16, 3, rng=rng))
    >>> [name for name, _, _ in model.parameters()]
    ['0.W', '0.b', '2.W', '2.b']
    >>> model.forward(np.zeros((5, 2), dtype=np.float32)).shape
    (5, 3)
    >>> Sequential(Dense(2, 16, rng=rng), Dense(8, 1, rng=rng))
    Traceback (most recent call last):
      ...
    scratchnn.errors.ShapeError: layer 1, Dense(8, 1), cannot follow an output of shape (N, 16): it expects (N, 8); make in_features match the previous layer's output size
    """

    def __init__(self, *layers: Module | Sequence[Module], dtype: Any = np.float32) -> None:
        super().__init__(dtype)
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise InputError(
                    f"Sequential argument {i} is {type(layer).__name__}, not a Layer; "
                    "pass layer instances such as Dense(2, 16) or ReLU()"
                )
        if not layers:
            raise InputError("Sequential needs at least one layer")
        #: The layers in order; they are also the children ``"0"``, ``"1"``, ...
        self.layers: list[Module] = list(layers)
        for i, layer in enumerate(self.layers):
            self.add(str(i), layer)
        self.astype(self.dtype)
        self._shapes = self._infer_shapes()

    # -- structure ------------------------------------------------------------------------
    def _infer_shapes(self) -> list[tuple[int | None, ...] | None]:
        """Output shape of every layer, checking that consecutive layers fit."""
        shapes: list[tuple[int | None, ...] | None] = []
        shape: tuple[int | None, ...] | None = None
        for i, layer in enumerate(self.layers):
            if shape is None:
                shape = layer.input_shape()
            if shape is not None:
                try:
                    shape = layer.output_shape(shape)
                except ShapeError as exc:
                    msg = str(exc)
                    prefix = f"{type(layer).__name__}("
                    if msg.startswith(prefix):  # name the position of the offending layer
                        end = msg.index(")") + 1
                        msg = f"layer {i}, {msg[:end]}," + msg[end:]
                    raise ShapeError(msg) from None
            shapes.append(shape)
        return shapes

    @property
    def input_dim(self) -> int | None:
        """Number of input features, if the first layers declare it."""
        for layer in self.layers:
            if isinstance(layer, Flatten):  # what comes after it says nothing about X
                return None
            shape = layer.input_shape()
            if shape is not None:
                return shape[-1] if len(shape) == 2 else None
        return None

    @property
    def output_dim(self) -> int | None:
        """Number of outputs (classes for a classifier), if known."""
        last = self._shapes[-1]
        return None if last is None else last[-1]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner},\n  dtype={self.dtype.name!r}\n)"

    # -- forward and backward ---------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """Apply every layer in order. ``training=False`` switches Dropout/BatchNorm to evaluation."""
        for layer in self.layers:
            X = layer.forward(X, training=training)
        return X

    def backward(self, dY: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate ``dY = ∂L/∂Y`` through every layer in reverse, setting all gradients.

        With ``input_grad=False`` the gradient with respect to the input data is not computed
        (the first layer only sets its parameter gradients), which saves one matrix product
        per step; ``fit`` does this. Returns ``dX`` or ``None``.
        """
        for layer in reversed(self.layers[1:]):
            dY = layer.backward(dY)
        first = self.layers[0]
        if not input_grad and hasattr(first, "param_grads"):
            first.param_grads(dY)
            return None
        return first.backward(dY)

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts (returned, not printed)."""
        rows = [("#", "layer", "output shape", "parameters")]
        for i, (layer, shape) in enumerate(zip(self.layers, self._shapes)):
            dims = [("?" if k else "N") if s is None else str(s) for k, s in enumerate(shape or ())]
            shape_text = "?" if shape is None else "(" + ", ".join(dims) + ")"
            rows.append((str(i), repr(layer), shape_text, f"{layer.num_parameters:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 6)
        out = [line]
        for j, row in enumerate(rows):
            out.append(
                "  ".join(
                    cell.rjust(w) if c in (0, 3) else cell.ljust(w)
                    for c, (cell, w) in enumerate(zip(row, widths))
                )
            )
            if j == 0:
                out.append(line)
        out += [line, f"total parameters: {self.num_parameters:,} ({self.dtype.name})"]
        return "\n".join(out)

    def get_config(self) -> dict[str, Any]:
        """The architecture as plain JSON values (layer classes and constructor arguments)."""
        return {
            "dtype": self.dtype.name,
            "layers": [
                {"class": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Rebuild an (untrained) model from :meth:`get_config`'s output."""
        layers = []
        for i, spec in enumerate(config["layers"]):
            name = spec.get("class")
            if name not in MODULES:
                raise InputError(f"layer {i} has unknown class {name!r}; it cannot be rebuilt")
            layers.append(MODULES.get(name).from_config(spec.get("config", {})))
        return cls(*layers, dtype=config.get("dtype", "float32"))
