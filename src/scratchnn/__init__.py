"""scratchnn: neural networks from scratch in NumPy.

Readable layers whose backward reads like its equation, gradients checked by finite
differences and against PyTorch, and a training loop fast enough for real MNIST.

Reading order, the lesson first:

1. :mod:`scratchnn.layers.base`: the :class:`Module`, a layer or a block of layers;
2. :mod:`scratchnn.layers.dense`, :mod:`scratchnn.layers.activations`: BP1–BP4 in code;
3. :mod:`scratchnn.losses`, :mod:`scratchnn.optimizers`;
4. :mod:`scratchnn.loop`: :func:`train_step`, the four lines, and an epoch's order;
5. :mod:`scratchnn.model` (:class:`Sequential`), :mod:`scratchnn.models` (CNN, VAE);
6. :mod:`scratchnn.gradcheck`.

Then the harness: :mod:`scratchnn.training` (``fit`` and its callbacks),
:mod:`scratchnn.io`, :mod:`scratchnn.datasets`, :mod:`scratchnn.plotting`,
:mod:`scratchnn.experiments`, :mod:`scratchnn.cli`; and the way out to other libraries:
:mod:`scratchnn.interop` (PyTorch, safetensors, ONNX) and :mod:`scratchnn.sklearn`.

>>> import numpy as np
>>> import scratchnn as snn
>>> X, y = snn.datasets.circle_regions(200, seed=0)
>>> rng = np.random.default_rng(0)
>>> model = snn.Sequential(snn.Dense(2, 16, rng=rng), snn.ReLU(), snn.Dense(16, 2, rng=rng))
>>> history = model.fit(X, y, loss="ce", optimizer=snn.Adam(lr=0.01), epochs=5, seed=0, verbose=0)
>>> len(history)
5
"""

from . import (
    checkpoint,
    datasets,
    gradcheck,
    initializers,
    interop,
    io,
    layers,
    loop,
    losses,
    models,
    optimizers,
    registry,
    schedules,
    training,
)
from .errors import (
    DivergenceError,
    InputError,
    NotFittedError,
    OutputError,
    ScratchnnError,
    ScratchnnWarning,
    ShapeError,
    TrainingInterrupted,
)
from .io.model_file import load_model as load
from .io.model_file import load_weights
from .layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Identity,
    Layer,
    LeakyReLU,
    MaxPool2D,
    Module,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .loop import Evaluation, batches, evaluate, train_step
from .losses import MSE, BCEWithLogits, CrossEntropy, GaussianKL, SoftmaxCrossEntropy, one_hot
from .model import Model, Sequential
from .models import cnn, mlp
from .optimizers import SGD, Adam, AdamW, RMSprop, clip_grad_norm
from .preprocessing import MinMaxScaler, Standardizer, train_test_split
from .schedules import CosineAnnealingLR, ExponentialLR, StepLR
from .training import (
    Callback,
    Checkpoint,
    EarlyStopping,
    History,
    fit,
    load_checkpoint,
    resume,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    """``snn.plotting`` without ``import scratchnn.plotting``, loaded on first use."""
    if name == "plotting":
        # matplotlib is heavy: the plotting package is imported only when it is used
        from . import plotting

        return plotting
    raise AttributeError(f"module 'scratchnn' has no attribute {name!r}")


__all__ = [
    "MSE",
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BCEWithLogits",
    "BatchNorm1D",
    "BatchNorm2D",
    "Callback",
    "Checkpoint",
    "Conv2D",
    "CosineAnnealingLR",
    "CrossEntropy",
    "Dense",
    "DivergenceError",
    "Dropout",
    "EarlyStopping",
    "Evaluation",
    "ExponentialLR",
    "Flatten",
    "GaussianKL",
    "GlobalAvgPool2D",
    "History",
    "Identity",
    "InputError",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "MinMaxScaler",
    "Model",
    "Module",
    "NotFittedError",
    "OutputError",
    "RMSprop",
    "ReLU",
    "ScratchnnError",
    "ScratchnnWarning",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Standardizer",
    "StepLR",
    "Tanh",
    "TrainingInterrupted",
    "__version__",
    "batches",
    "checkpoint",
    "clip_grad_norm",
    "cnn",
    "datasets",
    "evaluate",
    "fit",
    "gradcheck",
    "initializers",
    "interop",
    "io",
    "layers",
    "load",
    "load_checkpoint",
    "load_weights",
    "loop",
    "losses",
    "mlp",
    "models",
    "one_hot",
    "optimizers",
    "registry",
    "resume",
    "schedules",
    "train_step",
    "train_test_split",
    "training",
]
