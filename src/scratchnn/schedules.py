"""Learning-rate schedules, applied by the training loop at the start of every epoch.

A schedule maps the epoch index (0-based) to a learning rate given the initial rate η₀.
The formulas are the closed forms of PyTorch's ``StepLR``, ``ExponentialLR`` and
``CosineAnnealingLR`` (stepped once per epoch)::

    StepLR             η_e = η₀ γ^⌊e / step_size⌋
    ExponentialLR      η_e = η₀ γ^e
    CosineAnnealingLR  η_e = η_min + (η₀ - η_min) (1 + cos(π e / T_max)) / 2

>>> StepLR(step_size=2, gamma=0.5).lr_at(3, base_lr=0.1)
0.05
>>> CosineAnnealingLR(T_max=10).lr_at(10, base_lr=0.1)
0.0
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ._validation import check_positive
from .errors import InputError
from .registry import SCHEDULES

__all__ = ["ConstantLR", "CosineAnnealingLR", "ExponentialLR", "Schedule", "StepLR", "get"]


class Schedule:
    """Base class: :meth:`lr_at` gives the learning rate for an epoch."""

    #: Short names this schedule is also registered under (``"cosine"``).
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        SCHEDULES.register(cls, cls.__dict__.get("aliases", ()))

    def lr_at(self, epoch: int, base_lr: float) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ConstantLR(Schedule):
    """The initial learning rate every epoch."""

    aliases = ("constant",)

    def lr_at(self, epoch: int, base_lr: float) -> float:
        return base_lr


class StepLR(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    aliases = ("step",)

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        check_positive(step_size, "step_size", integer=True)
        check_positive(gamma, "gamma")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)

    def get_config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialLR(Schedule):
    """Multiply the rate by ``gamma`` every epoch."""

    aliases = ("exponential",)

    def __init__(self, gamma: float) -> None:
        check_positive(gamma, "gamma")
        self.gamma = float(gamma)

    def lr_at(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma**epoch

    def get_config(self):
        return {"gamma": self.gamma}


class CosineAnnealingLR(Schedule):
    """Half a cosine from η₀ down to ``eta_min`` over ``T_max`` epochs (SGDR without restarts)."""

    aliases = ("cosine",)

    def __init__(self, T_max: int, eta_min: float = 0.0) -> None:
        check_positive(T_max, "T_max", integer=True)
        if eta_min < 0:
            raise InputError(f"eta_min must be non-negative, got {eta_min!r}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)

    def lr_at(self, epoch: int, base_lr: float) -> float:
        return (
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        )

    def get_config(self):
        return {"T_max": self.T_max, "eta_min": self.eta_min}


def get(name: str | Schedule | None, **kwargs: Any) -> Schedule:
    """A schedule from its name (``"constant"``, ``"step"``, ``"exponential"``, ``"cosine"``)."""
    if name is None:
        return ConstantLR()
    if isinstance(name, Schedule):
        return name
    return SCHEDULES.create(str(name), **kwargs)
