"""Gradient clipping by the global norm, as ``torch.nn.utils.clip_grad_norm_``."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._validation import check_positive

__all__ = ["Triple", "clip_grad_norm"]

Triple = tuple[str, np.ndarray, np.ndarray]


def clip_grad_norm(parameters: Iterable[Triple], max_norm: float) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``). The scale is
    ``max_norm / (norm + 1e-6)``, applied only when the norm exceeds ``max_norm``.

    >>> import numpy as np
    >>> g = np.array([3.0, 4.0])
    >>> clip_grad_norm([("w", np.zeros(2), g)], max_norm=1.0)
    5.0
    >>> np.round(g, 4)
    array([0.6, 0.8])
    """
    check_positive(max_norm, "max_norm")
    grads = [g for _, _, g in parameters]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return total
