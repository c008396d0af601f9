"""The :class:`Optimizer` base class: one step over unique ``(name, param, grad)`` triples."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from .._validation import check_positive
from ..errors import InputError, ShapeError
from ..registry import OPTIMIZERS
from .clipping import Triple, clip_grad_norm

__all__ = ["Optimizer", "Triple", "check_beta", "check_nonnegative"]


def check_nonnegative(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InputError(f"{name} must be a non-negative number, got {value!r}")


def check_beta(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(f"{name} must be in [0, 1), got {value!r}")


class Optimizer:
    """Base class. Subclasses implement :meth:`update` for one parameter.

    Attributes
    ----------
    lr : float
        Learning rate η; a schedule may change it between epochs.
    initial_lr : float
        The rate given at construction, from which schedules compute ``lr``.
    t : int
        Number of :meth:`step` calls so far (never reset: Adam's bias correction needs it).
    state : dict[str, dict[str, numpy.ndarray]]
        Per-parameter state, keyed by the parameter's unique name.
    flush_every : int
        Every this many steps, :meth:`flush_subnormals` sets subnormal entries of the
        decaying state to zero (16 by default; 0 turns it off).
    """

    #: State buffers that decay geometrically towards zero between gradients (moments,
    #: momentum), and so can underflow into subnormal numbers.
    decaying: ClassVar[tuple[str, ...]] = ()
    flush_every: int = 16
    #: Short names this optimizer is also registered under (``"adam"``).
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OPTIMIZERS.register(cls, cls.__dict__.get("aliases", ()))

    def __init__(self, lr: float) -> None:
        check_positive(lr, "learning rate lr")
        self.lr = float(lr)
        self.initial_lr = float(lr)  # what a schedule starts from; lr is the current rate
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}
        #: Clip the global gradient norm to this before every step (``None``: never);
        #: ``fit(clip_norm=...)`` sets it, as Keras optimizers' ``global_clipnorm`` does.
        self.clip_norm: float | None = None
        #: The global gradient norm before clipping, at the last step (only with clip_norm).
        self.grad_norm: float | None = None

    def step(self, parameters: Iterable[Triple]) -> None:
        """Apply one update to every ``(name, param, grad)`` triple, in place."""
        if self.clip_norm is not None:
            parameters = list(parameters)
            self.grad_norm = clip_grad_norm(parameters, self.clip_norm)
        self.t += 1
        seen: set[str] = set()
        work = []
        for name, param, grad in parameters:
            if name in seen:
                raise InputError(
                    f"parameter name {name!r} appears twice in one step; names must be unique"
                )
            seen.add(name)
            work.append((name, param, grad, self._state_for(name, param)))
        # A finite gradient can still overflow g² (|g| > 1.8e19 in float32) or meet an inf:
        # the moments then hold inf or NaN and the step is NaN or zero, no warning printed.
        # fit's divergence check reports it as a non-finite gradient norm, in one line.
        with np.errstate(over="ignore", invalid="ignore"):
            self.update_all(work)
        if self.flush_every > 0 and self.t % self.flush_every == 0:
            for *_, state in work:
                self.flush_subnormals(state)

    def update_all(
        self, work: list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]]
    ) -> None:
        """Update every ``(name, p, g, state)`` of one step: :meth:`update` on each, in order.

        An optimizer may override this to update several parameters at once (see
        :class:`~scratchnn.optimizers.Adam`); the result must be what :meth:`update` on each
        would give.
        """
        for name, p, g, state in work:
            self.update(name, p, g, state)

    def update(self, name: str, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Update parameter ``p`` in place from its gradient ``g``."""
        raise NotImplementedError

    def flush_subnormals(self, state: dict[str, np.ndarray]) -> None:
        """Set the subnormal entries of the decaying state to exactly zero, in place.

        Why: the first moment of a weight whose gradient has gone quiet (in MNIST, a first
        layer weight fed by a pixel that is rarely lit) shrinks by β₁ every step, and after
        a few hundred steps falls below float32's smallest normal number 2⁻¹²⁶ ≈ 1.2e-38.
        Arithmetic on such subnormal numbers takes a slow path on most x86 CPUs (tens to
        hundreds of cycles), so without this an epoch gets slower as training goes on.
        Flushing every few steps keeps the state normal at the cost of three cheap passes.

        Why this is within float32 rounding: an entry is zeroed only if ``|x| < 2⁻¹²⁶``
        (2⁻¹⁰²² in float64), so it moves by less than the underflow threshold: exactly the
        result IEEE-754 flush-to-zero arithmetic (GPUs, ``torch.set_flush_denormal``)
        would have given. For Adam's ``m`` the step ``η m̂/(√v̂ + ε)`` then moves by less
        than ``η 2⁻¹²⁶/((1-β₁ᵗ) ε)`` ≈ 1.2e-32 with the defaults, under half an ulp of any
        float32 parameter larger than 2⁻⁸⁰ ≈ 8e-25 in magnitude, so the stored parameter
        is the same number; for ``v``, ``√v̂`` moves by at most ``√(2⁻¹²⁶/(1-β₂))`` ≈
        3.4e-18, under half an ulp of ε = 1e-8, so ``√v̂ + ε`` is the same number. (Ten
        epochs of the MNIST benchmark give bit-identical weights with and without it.)
        NaN and ±inf are kept as they are.
        """
        scratch = state["scratch"]
        for key in self.decaying:
            buf = state.get(key)
            if buf is None or buf.dtype != scratch.dtype:
                continue
            np.abs(buf, out=scratch)
            # 1.0 where |x| is normal (or inf), 0.0 where subnormal (or NaN, kept by NaN * 0)
            np.greater_equal(scratch, np.finfo(buf.dtype).smallest_normal, out=scratch)
            np.multiply(buf, scratch, out=buf)

    def _state_for(self, name: str, param: np.ndarray) -> dict[str, np.ndarray]:
        state = self.state.get(name)
        if state is None:
            state = self.state[name] = {"scratch": np.empty_like(param)}
        elif state["scratch"].shape != param.shape or state["scratch"].dtype != param.dtype:
            raise ShapeError(
                f"parameter {name!r} changed shape or dtype to {param.shape} {param.dtype} "
                f"since the optimizer last saw it ({state['scratch'].shape}); "
                "create a new optimizer for a new model"
            )
        return state

    def _buffer(self, state: dict[str, np.ndarray], key: str, like: np.ndarray) -> np.ndarray:
        """A zero-initialised state array (moment, momentum buffer) created on first use."""
        buf = state.get(key)
        if buf is None:
            buf = state[key] = np.zeros_like(like)
        return buf

    def _with_weight_decay(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], weight_decay: float
    ) -> np.ndarray:
        """``g + λ p`` (classic L2 regularisation) in a buffer of its own, or ``g`` if λ = 0."""
        if not weight_decay:
            return g
        g_wd = self._buffer(state, "grad_wd", p)
        np.multiply(p, weight_decay, out=g_wd)
        g_wd += g
        return g_wd

    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments, for saving and for ``repr``."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """Step counter and per-parameter state (copies), e.g. for a checkpoint."""
        return {
            "t": self.t,
            "hyperparameters": self.hyperparameters(),
            "state": {
                name: {k: v.copy() for k, v in st.items() if k != "scratch"}
                for name, st in self.state.items()
            },
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.t = int(state_dict["t"])
        self.state = {}
        for name, st in state_dict["state"].items():
            arrays = {k: np.array(v, copy=True) for k, v in st.items()}
            like = next(iter(arrays.values()), None)
            if like is not None:
                arrays["scratch"] = np.empty_like(like)
                self.state[name] = arrays
        for key, value in state_dict.get("hyperparameters", {}).items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"
