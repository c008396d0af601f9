"""The :class:`Sequential` model: layers applied in order, backpropagated in reverse."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._validation import as_float_array, check_positive
from .errors import InputError, ShapeError
from .layers.base import LAYERS, Layer

if TYPE_CHECKING:
    from .losses import Loss
    from .training import History

__all__ = ["Evaluation", "Sequential"]

Triple = tuple[str, np.ndarray, np.ndarray]


class Evaluation(NamedTuple):
    """Result of :meth:`Sequential.evaluate`: mean loss and accuracy (``nan`` for regression)."""

    loss: float
    accuracy: float


class Sequential:
    """A stack of layers: ``Y = f_L(... f_2(f_1(X)))``.

    ``backward`` applies the chain rule in reverse, each layer turning ``∂L/∂(its output)``
    into ``∂L/∂(its input)`` and setting its parameter gradients on the way
    (BP2 layer by layer; thinc's ``chain``).

    Parameters
    ----------
    *layers : Layer
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

    def __init__(self, *layers: Layer | Sequence[Layer], dtype: Any = np.float32) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise InputError(
                    f"Sequential argument {i} is {type(layer).__name__}, not a Layer; "
                    "pass layer instances such as Dense(2, 16) or ReLU()"
                )
        if not layers:
            raise InputError("Sequential needs at least one layer")
        self.layers: list[Layer] = list(layers)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise InputError(f"dtype must be a floating type such as float32, got {self.dtype}")
        for layer in self.layers:
            layer.astype(self.dtype)
        self.stop_training = False
        #: JSON-able information saved with the model (e.g. feature scaling, class names).
        self.metadata: dict[str, Any] = {}
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

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner},\n  dtype={self.dtype.name!r}\n)"

    # -- the four-line loop -----------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """Apply every layer in order. ``training=False`` switches Dropout/BatchNorm to evaluation."""
        for layer in self.layers:
            X = layer.forward(X, training=training)
        return X

    __call__ = forward

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

    def parameters(self) -> Iterator[Triple]:
        """Yield ``(name, param, grad)`` for every parameter, named ``"<layer index>.<key>"``."""
        for i, layer in enumerate(self.layers):
            for key, param in layer.params.items():
                yield f"{i}.{key}", param, layer.grads[key]

    def buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, array)`` for every buffer (non-trainable state such as BatchNorm's
        running statistics), named like parameters (``"1.running_mean"``). Optimizers never
        see them; :meth:`state_dict` and therefore ``save``/``load`` include them."""
        for i, layer in enumerate(self.layers):
            for key, buffer in layer.buffers.items():
                yield f"{i}.{key}", buffer

    @property
    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(layer.num_parameters for layer in self.layers)

    def astype(self, dtype: Any) -> Sequential:
        """Convert every parameter to ``dtype`` (the model's one dtype switch); returns self."""
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.astype(self.dtype)
        return self

    # -- using a trained model ------------------------------------------------------------
    def _check_input(self, X: Any, name: str = "X") -> np.ndarray:
        X = as_float_array(X, self.dtype, name=name)
        expected = self.input_dim
        if expected is not None and (X.ndim != 2 or X.shape[1] != expected):
            got = X.shape[1] if X.ndim == 2 else X.shape[1:]
            raise ShapeError(
                f"{name} has {got} features per example but the model expects {expected}; "
                "use data with the same columns the model was trained on"
            )
        return X

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Model outputs (logits for a classifier) in evaluation mode, computed in batches."""
        check_positive(batch_size, "batch_size", integer=True)
        X = self._check_input(X)
        outputs = [
            self.forward(X[start : start + batch_size], training=False)
            for start in range(0, X.shape[0], batch_size)
        ]
        return np.concatenate(outputs, axis=0)

    def predict_classes(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Predicted class labels: argmax of the outputs, or ``output > 0`` for one logit."""
        Y = self.predict(X, batch_size=batch_size)
        if Y.shape[1] == 1:
            return (Y[:, 0] > 0).astype(np.intp)
        return Y.argmax(axis=1)

    def evaluate(
        self, X: Any, y: Any, loss: str | Loss = "ce", batch_size: int = 1024
    ) -> Evaluation:
        """Mean loss and accuracy over ``(X, y)``, in evaluation mode and in batches."""
        from .training import evaluate

        return evaluate(self, X, y, loss=loss, batch_size=batch_size)

    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train with mini-batches; see :func:`scratchnn.training.fit` for every argument."""
        from .training import fit

        return fit(self, X, y, **kwargs)

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

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed like :meth:`parameters` and
        :meth:`buffers` (``"0.W"``, ``"0.b"``, ``"1.running_mean"``, ...)."""
        state = {name: param.copy() for name, param, _ in self.parameters()}
        state.update((name, buffer.copy()) for name, buffer in self.buffers())
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy parameters and buffers in place from ``state``; every key and shape must match.

        With ``strict=False`` keys missing from ``state`` are left as they are; unknown keys
        and shape mismatches are always errors.
        """
        own = {name: param for name, param, _ in self.parameters()}
        own.update(self.buffers())
        unknown = sorted(set(state) - set(own))
        missing = sorted(set(own) - set(state))
        if unknown or (strict and missing):
            raise ShapeError(
                f"state does not fit this model: missing {missing or 'none'}, "
                f"unexpected {unknown or 'none'}; load it into the same architecture"
            )
        for name, value in state.items():
            value = np.asarray(value)
            if value.shape != own[name].shape:
                raise ShapeError(
                    f"parameter {name} has shape {own[name].shape} in the model but {value.shape} "
                    "in the state; load it into the same architecture"
                )
        for name, value in state.items():
            np.copyto(own[name], value, casting="same_kind")

    def save(self, path: Any) -> None:
        """Save architecture, parameters and :attr:`metadata` to one ``.npz`` (atomic, no pickle)."""
        from .serialization import save_model

        save_model(self, path, **self.metadata)

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
            if name not in LAYERS:
                raise InputError(f"layer {i} has unknown class {name!r}; it cannot be rebuilt")
            layers.append(LAYERS[name](**spec.get("config", {})))
        return cls(*layers, dtype=config.get("dtype", "float32"))
