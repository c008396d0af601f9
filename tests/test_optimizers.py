"""Optimizer behaviour: state per name, one step counter, in-place updates, clipping, schedules."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import optimizers, schedules
from scratchnn.errors import InputError, ShapeError

ALL = {
    "SGD-momentum": lambda: optimizers.SGD(lr=0.1, momentum=0.9),
    "Adam": optimizers.Adam,
    "AdamW": optimizers.AdamW,
    "RMSprop-all-options": lambda: optimizers.RMSprop(
        momentum=0.5, centered=True, weight_decay=0.1
    ),
    "SGD-nesterov-decay": lambda: optimizers.SGD(
        lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1
    ),
}


@pytest.mark.parametrize("name", list(ALL))
def test_updates_are_in_place_and_keep_dtype(name):
    opt = ALL[name]()
    p = np.ones((3, 2), dtype=np.float32)
    g = np.full((3, 2), 0.5, dtype=np.float32)
    before = id(p)
    for _ in range(3):
        opt.step([("w", p, g)])
    assert id(p) == before and p.dtype == np.float32
    assert (p < 1).all()
    assert all(v.dtype == np.float32 for v in opt.state["w"].values())


@pytest.mark.parametrize("name", list(ALL))
def test_no_parameter_sized_allocations_after_the_first_step(name):
    """Every buffer an update writes to exists after step 1; later steps reuse them."""
    opt = ALL[name]()
    p, g = np.ones(1000), np.full(1000, 0.1)
    opt.step([("w", p, g)])
    buffers = {k: id(v) for k, v in opt.state["w"].items()}
    opt.step([("w", p, g)])
    assert {k: id(v) for k, v in opt.state["w"].items()} == buffers


@pytest.mark.parametrize("name", list(ALL))
def test_steps_allocate_no_parameter_sized_temporaries(name):
    """After the first step an update allocates nothing the size of the parameter (flush too).

    NumPy reports its data allocations to tracemalloc, so a hidden temporary would show.
    """
    opt = ALL[name]()
    p = np.ones(250_000, dtype=np.float32)
    g = np.full_like(p, 0.1)
    opt.step([("w", p, g)])  # the first step creates the state buffers
    tracemalloc.start()
    try:
        for _ in range(opt.flush_every):  # one of these steps also flushes
            opt.step([("w", p, g)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.nbytes / 10, f"{name}: a step allocated {peak} bytes"


def test_state_is_kept_per_unique_name():
    opt = optimizers.Adam(lr=0.1)
    a, b = np.zeros(2), np.zeros(2)
    opt.step([("0.W", a, np.array([1.0, 1.0])), ("1.W", b, np.array([-1.0, -1.0]))])
    assert set(opt.state) == {"0.W", "1.W"}
    assert (opt.state["0.W"]["m"] > 0).all() and (opt.state["1.W"]["m"] < 0).all()
    with pytest.raises(InputError, match="appears twice"):
        opt.step([("x", a, a), ("x", b, b)])
    with pytest.raises(ShapeError, match="changed shape"):
        opt.step([("0.W", np.zeros(3), np.zeros(3))])


def test_adam_first_step_moves_every_weight_by_lr():
    """With bias correction, step 1 is lr·g/(|g| + ε') ≈ lr·sign(g), whatever the scale of g."""
    p = np.zeros(3)
    optimizers.Adam(lr=0.01).step([("w", p, np.array([1e-3, -5.0, 100.0]))])
    np.testing.assert_allclose(p, [-0.01, 0.01, -0.01], rtol=1e-4)


def test_adam_step_counter_counts_across_epochs():
    """The seed project reset t every epoch, re-applying the large early bias correction."""
    X, y = snn.datasets.circle_regions(64, seed=0)
    model = snn.mlp([2, 4, 2], rng=0)
    opt = optimizers.Adam(lr=0.01)
    model.fit(X, y, optimizer=opt, epochs=3, batch_size=16, seed=0, verbose=0)
    assert opt.t == 3 * 4
    model.fit(X, y, optimizer=opt, epochs=1, batch_size=16, seed=0, verbose=0)
    assert opt.t == 4 * 4


def _subnormal_count(a: np.ndarray) -> int:
    return int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).smallest_normal)))


QUIET = {
    "Adam": optimizers.Adam,
    "AdamW": optimizers.AdamW,
    "SGD-momentum": lambda: optimizers.SGD(lr=0.1, momentum=0.9),
    "RMSprop-centered-momentum": lambda: optimizers.RMSprop(momentum=0.5, centered=True),
}


@pytest.mark.parametrize("name", list(QUIET))
def test_flushing_subnormal_state_leaves_the_parameters_bit_identical(name, rng):
    """Gradients that go quiet let the state decay into subnormals; the flush zeroes them.

    One gradient of varied sizes, then zeros: every entry of the decaying state shrinks
    geometrically and crosses 2⁻¹²⁶ at its own step. With the flush (every 16 steps) none is
    subnormal right after a flush, and the float32 parameters are the same bits as without.
    (The parameters stay far above 2⁻⁸⁰; an L2 decay pulling them into the subnormal range
    themselves is outside what the flush promises.)
    """
    g0 = (rng.standard_normal(2000) * 10.0 ** rng.uniform(-6, 0, 2000)).astype(np.float32)
    params, subnormal = {}, {}
    for flush_every in (16, 0):
        opt = QUIET[name]()
        opt.flush_every = flush_every
        p = np.linspace(-1, 1, 2000, dtype=np.float32)
        g = g0.copy()
        subnormal[flush_every] = 0
        for t in range(1, 1201):
            opt.step([("w", p, g)])
            g[:] = 0
            if t % 16 == 0:
                state = opt.state["w"]
                subnormal[flush_every] += sum(
                    _subnormal_count(state[k]) for k in opt.decaying if k in state
                )
        params[flush_every] = p
    assert subnormal[0] > 100, "the test should create subnormal state without the flush"
    assert subnormal[16] == 0
    np.testing.assert_array_equal(params[16], params[0])


def test_flush_keeps_nan_and_inf_and_normal_numbers():
    opt = optimizers.Adam()
    tiny = np.finfo(np.float32).smallest_normal
    m = np.array([np.nan, np.inf, -np.inf, tiny, -tiny, tiny / 2, -tiny / 8, 0.0, 1.5], np.float32)
    state = {"m": m, "v": np.zeros_like(m), "scratch": np.empty_like(m)}
    opt.flush_subnormals(state)
    expected = [np.nan, np.inf, -np.inf, tiny, -tiny, 0, 0, 0, 1.5]
    np.testing.assert_array_equal(m, np.array(expected, np.float32))


def test_state_dict_roundtrip():
    opt = optimizers.Adam(lr=0.05)
    p, g = np.ones(4), np.arange(4.0)
    opt.step([("w", p, g)])
    saved = opt.state_dict()
    other = optimizers.Adam(lr=0.05)
    other.load_state_dict(saved)
    p2 = p.copy()
    opt.step([("w", p, g)])
    other.step([("w", p2, g)])
    np.testing.assert_array_equal(p, p2)
    assert other.t == 2


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: optimizers.SGD(lr=0), "lr"),
        (lambda: optimizers.Adam(lr=-1e-3), "lr"),
        (lambda: optimizers.Adam(beta1=1.0), "beta1"),
        (lambda: optimizers.SGD(lr=0.1, nesterov=True), "Nesterov"),
        (lambda: optimizers.RMSprop(weight_decay=-1), "weight_decay"),
        (lambda: optimizers.get("lbfgs"), "unknown optimizer"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(InputError, match=match):
        make()


def test_clip_grad_norm_leaves_small_gradients_alone():
    g = np.array([0.3, 0.4])
    assert optimizers.clip_grad_norm([("g", None, g)], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g, [0.3, 0.4])


def test_schedules_in_fit_set_the_rate_per_epoch():
    X, y = snn.datasets.circle_regions(40, seed=0)
    history = snn.mlp([2, 3, 2], rng=0).fit(
        X,
        y,
        optimizer=optimizers.SGD(lr=0.1),
        epochs=4,
        verbose=0,
        seed=0,
        lr_schedule=schedules.StepLR(step_size=2, gamma=0.1),
    )
    np.testing.assert_allclose(history["lr"], [0.1, 0.1, 0.01, 0.01])


def test_schedule_lookup():
    assert isinstance(schedules.get("cosine", T_max=5), schedules.CosineAnnealingLR)
    assert schedules.ExponentialLR(0.5).lr_at(2, 1.0) == 0.25
    with pytest.raises(InputError):
        schedules.get("cyclic")


@pytest.mark.parametrize("make", [lambda: snn.Adam(lr=1e-2), lambda: snn.AdamW(lr=1e-2)])
def test_adam_updates_small_arrays_together_bit_identically(make):
    """update_all groups the small arrays into one flat update; it must equal update()."""
    rng = np.random.default_rng(0)
    shapes = {"big": (300, 300), "W": (16, 8), "b": (16,), "gamma": (8,), "one": (1,)}
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    mixed = {**params, "d": rng.standard_normal(5)}  # a float64 array among float32 ones
    grouped, plain = make(), make()
    plain.group_size = 0  # every array alone: the plain update() path
    p_grouped = {k: v.copy() for k, v in mixed.items()}
    p_plain = {k: v.copy() for k, v in mixed.items()}
    for step in range(6):
        grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in mixed.items()}
        grouped.step((k, p_grouped[k], grads[k]) for k in mixed)
        plain.step((k, p_plain[k], grads[k]) for k in mixed)
        if step == 2:  # a reload replaces the state arrays: the flat buffers are rebuilt
            grouped.load_state_dict(grouped.state_dict())
    for k in mixed:
        np.testing.assert_array_equal(p_grouped[k], p_plain[k], err_msg=k)
    for k in mixed:
        for key in ("m", "v"):
            np.testing.assert_array_equal(grouped.state[k][key], plain.state[k][key])
    # the small float32 arrays really share one buffer; the large one has its own
    flat = grouped.state["W"]["m"].base
    assert flat is not None and all(
        grouped.state[k]["m"].base is flat for k in ("b", "gamma", "one")
    )
    assert grouped.state["big"]["m"].base is None and plain.state["b"]["m"].base is None


def test_a_gradient_whose_square_overflows_is_a_divergence_not_a_warning():
    """Found by hypothesis: y = 1e20 with MSE gives a finite gradient whose square is inf."""
    import warnings

    from scratchnn.errors import DivergenceError

    model = snn.mlp([3, 4, 1], rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", snn.ScratchnnWarning)
        with pytest.raises(DivergenceError, match="training diverged"):
            model.fit([[0.0, 0.0, 0.0]], [1e20], loss="mse", epochs=1, batch_size=1, verbose=0)
