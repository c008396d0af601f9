"""Inverted dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_generator
from ..errors import InputError
from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout (Srivastava et al., 2014): zero each input with probability ``p``.

    In training the survivors are scaled by ``1/(1-p)`` so that the expected output equals
    the input; in evaluation (``training=False``) the layer is the identity, with no
    rescaling needed at test time.

    Parameters
    ----------
    p : float
        Probability of dropping a unit, in ``[0, 1)``.
    rng : numpy.random.Generator or int, optional
        Source of the masks. ``None`` draws fresh entropy (not reproducible).

    Math
    ----
    ::

        forward   M  ~ Bernoulli(1 - p) / (1 - p)     (elementwise, a new M every batch)
                  Y  = X ⊙ M
        backward  dX = dY ⊙ M

    >>> import numpy as np
    >>> layer = Dropout(0.5, rng=np.random.default_rng(0))
    >>> Y = layer.forward(np.ones((1000, 10)))
    >>> np.unique(Y).tolist()
    [0.0, 2.0]
    >>> layer.forward(np.ones((2, 2)), training=False)
    array([[1., 1.],
           [1., 1.]])
    """

    has_training_mode = True

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise InputError(f"Dropout p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = as_generator(rng)
        self._mask: np.ndarray | None = None
        self._identity = False

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._identity = not training or self.p == 0.0
        if self._identity:
            self._mask = np.empty(0)  # marks "forward ran"; backward is the identity
            return X
        keep = self.rng.random(X.shape) >= self.p
        self._mask = keep.astype(X.dtype) / X.dtype.type(1.0 - self.p)
        return X * self._mask

    def backward(self, dY: np.ndarray) -> np.ndarray:
        mask = self._cached("_mask")
        return dY if self._identity else dY * mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
