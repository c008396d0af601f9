"""Learning-rate schedules, applied by the training loop at the start of every epoch.

A schedule maps the epoch index (0-based) to a learning rate given the initial rate η₀.
The formulas are the closed forms of PyTorch's ``StepLR``, ``ExponentialLR`` and
``CosineAnnealingLR`` (stepped once per epoch)::

    StepLR             η_e = η₀ γ^⌊e / step_size⌋
    ExponentialLR      η_e = η₀ γ^e
    CosineAnnealingLR  η_e = η_min + (η₀ - η_min) (1 + cos(π e / T_max)) / 2

A schedule is a function of a counter, so the same classes also run per *step* (the
counter is then the number of steps taken): :class:`~scratchnn.training.PerStepSchedule`
is the callback that sets the rate before every step, and :class:`WarmupCosineLR`, the
transformer recipe (a linear warm-up, then half a cosine down to a floor), is meant for it.

>>> StepLR(step_size=2, gamma=0.5).lr_at(3, base_lr=0.1)
0.05
>>> CosineAnnealingLR(T_max=10).lr_at(10, base_lr=0.1)
0.0
>>> WarmupCosineLR(warmup=100, total=3000).lr_at(2999, base_lr=3e-3) > 3e-4
True
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ._validation import check_positive
from .errors import InputError
from .registry import SCHEDULES

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "ExponentialLR",
    "Schedule",
    "StepLR",
    "WarmupCosineLR",
    "get",
]


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


class WarmupCosineLR(Schedule):
    r"""A linear warm-up over ``warmup`` steps, then half a cosine down to ``min_ratio`` · η₀.

    The schedule of GPT-2 and nanoGPT, meant to be applied per step
    (:class:`~scratchnn.training.PerStepSchedule`): Adam's first steps, whose moment
    estimates rest on a handful of gradients, are taken with a small rate, and the rate
    ends at a floor instead of 0, where the last steps still learn a little.

    Math
    ----
    For the step index ``s`` (0-based) of a run of ``S = total`` steps, ``W = warmup``,
    ``ρ = min_ratio``::

        η_s = η₀ (s + 1) / W                                      s < W   (linear warm-up)
        η_s = η₀ [ρ + (1 - ρ) (1 + cos(π (s - W) / (S - W))) / 2]  s ≥ W   (cosine decay)

    so the first step uses η₀/W, step ``W`` the full η₀ and the last one (``s = S - 1``)
    a little above ρ η₀; steps past the end stay at ρ η₀.

    Parameters
    ----------
    warmup : int
        ``W ≥ 0`` steps of linear warm-up (0: start at η₀).
    total : int
        ``S``, the number of steps of the whole run (``W < S``).
    min_ratio : float
        ``ρ`` in ``[0, 1]``: the floor as a fraction of the initial rate (0.1 by default).

    Examples
    --------
    >>> schedule = WarmupCosineLR(warmup=2, total=6, min_ratio=0.1)
    >>> [round(schedule.lr_at(s, 1.0), 3) for s in range(7)]
    [0.5, 1.0, 1.0, 0.868, 0.55, 0.232, 0.1]
    """

    aliases = ("warmup_cosine",)

    def __init__(self, warmup: int, total: int, min_ratio: float = 0.1) -> None:
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise InputError(f"warmup must be a whole number of steps, 0 or more, got {warmup!r}")
        check_positive(total, "total", integer=True)
        if warmup >= total:
            raise InputError(
                f"the warm-up ({warmup} steps) must be shorter than the run ({total} steps); "
                "use fewer warm-up steps or train longer"
            )
        if not 0 <= min_ratio <= 1:
            raise InputError(f"min_ratio must be between 0 and 1, got {min_ratio!r}")
        self.warmup, self.total, self.min_ratio = int(warmup), int(total), float(min_ratio)

    def lr_at(self, epoch: int, base_lr: float) -> float:
        step = epoch  # the counter is a step here
        if step < self.warmup:
            return base_lr * (step + 1) / self.warmup
        progress = min((step - self.warmup) / (self.total - self.warmup), 1.0)
        cosine = (1 + math.cos(math.pi * progress)) / 2
        return base_lr * (self.min_ratio + (1 - self.min_ratio) * cosine)

    def get_config(self):
        return {"warmup": self.warmup, "total": self.total, "min_ratio": self.min_ratio}


def get(name: str | Schedule | None, **kwargs: Any) -> Schedule:
    """A schedule from its name (``"constant"``, ``"step"``, ``"exponential"``, ``"cosine"``)."""
    if name is None:
        return ConstantLR()
    if isinstance(name, Schedule):
        return name
    return SCHEDULES.create(str(name), **kwargs)
