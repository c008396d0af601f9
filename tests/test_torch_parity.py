"""PyTorch parity: same weights in, same outputs and gradients out (float64, within 1e-10).

Skipped without PyTorch (``pip install torch==2.13.0``); required in CI.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import layers as L
from scratchnn import losses, optimizers, schedules

pytestmark = pytest.mark.torch
ATOL = 1e-10


def _t(torch, a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def assert_close(ours, theirs, what, atol=ATOL):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol, err_msg=what)


def _torch_layer(torch, name, layer):
    nn = torch.nn
    if name == "Dense":
        lin = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias)
        with torch.no_grad():
            lin.weight.copy_(_t(torch, layer.params["W"]))
            if layer.bias:
                lin.bias.copy_(_t(torch, layer.params["b"]))
        return lin
    return {
        "ReLU": nn.ReLU(),
        "LeakyReLU": nn.LeakyReLU(0.1),
        "Sigmoid": nn.Sigmoid(),
        "Tanh": nn.Tanh(),
        "Softmax": nn.Softmax(dim=-1),
        "Identity": nn.Identity(),
        "Flatten": nn.Flatten(),
    }[name]


LAYERS = {
    "Dense": (lambda rng: L.Dense(7, 5, rng=rng, dtype=np.float64), (11, 7)),
    "ReLU": (lambda rng: L.ReLU(), (11, 7)),
    "LeakyReLU": (lambda rng: L.LeakyReLU(0.1), (11, 7)),
    "Sigmoid": (lambda rng: L.Sigmoid(), (11, 7)),
    "Tanh": (lambda rng: L.Tanh(), (11, 7)),
    "Softmax": (lambda rng: L.Softmax(), (11, 7)),
    "Identity": (lambda rng: L.Identity(), (11, 7)),
    "Flatten": (lambda rng: L.Flatten(), (3, 2, 4, 4)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, torch, rng):
    make, shape = LAYERS[name]
    layer = make(rng)
    X = rng.standard_normal(shape) * 3
    if name == "Sigmoid":
        X[0, :3] = [-800.0, 800.0, 0.0]  # saturated but finite
    dY = rng.standard_normal(layer.forward(X).shape)
    Y = layer.forward(X)
    dX = layer.backward(dY)

    tlayer = _torch_layer(torch, name, layer)
    tX = _t(torch, X, grad=True)
    tY = tlayer(tX)
    tY.backward(_t(torch, dY))
    assert_close(Y, tY, f"{name}: output")
    assert_close(dX, tX.grad, f"{name}: dX")
    if name == "Dense":
        assert_close(layer.grads["W"], tlayer.weight.grad, "Dense: dW")
        assert_close(layer.grads["b"], tlayer.bias.grad, "Dense: db")


def test_dropout_matches_torch_given_the_same_mask(torch, rng):
    layer = L.Dropout(0.4, rng=rng)
    X = rng.standard_normal((50, 8))
    Y = layer.forward(X)
    dY = rng.standard_normal(X.shape)
    dX = layer.backward(dY)
    mask = Y != 0
    tX = _t(torch, X, grad=True)
    tY = tX * _t(torch, mask) / (1 - 0.4)  # what torch's dropout computes for this mask
    tY.backward(_t(torch, dY))
    assert_close(Y, tY, "Dropout: output")
    assert_close(dX, tX.grad, "Dropout: dX")
    tlayer = torch.nn.Dropout(0.4).eval()
    assert_close(layer.forward(X, training=False), tlayer(_t(torch, X)), "Dropout: eval mode")


def _loss_cases(torch):
    F = torch.nn.functional
    return {
        "SoftmaxCrossEntropy-labels": (
            losses.SoftmaxCrossEntropy(),
            lambda r: (r.standard_normal((9, 4)) * 5, r.integers(0, 4, 9)),
            lambda z, t: F.cross_entropy(z, torch.as_tensor(t)),
        ),
        "SoftmaxCrossEntropy-probabilities": (
            losses.SoftmaxCrossEntropy(),
            lambda r: (r.standard_normal((9, 4)), r.dirichlet(np.ones(4), 9)),
            lambda z, t: F.cross_entropy(z, _t(torch, t)),
        ),
        "BCEWithLogits-mean": (
            losses.BCEWithLogits(),
            lambda r: (r.standard_normal((9, 3)) * 4, r.uniform(size=(9, 3))),
            lambda z, t: F.binary_cross_entropy_with_logits(z, _t(torch, t)),
        ),
        "BCEWithLogits-batchmean": (
            losses.BCEWithLogits("batchmean"),
            lambda r: (r.standard_normal((9, 3)) * 4, r.integers(0, 2, (9, 3)).astype(float)),
            lambda z, t: F.binary_cross_entropy_with_logits(z, _t(torch, t), reduction="sum") / 9,
        ),
        "MSE": (
            losses.MSE(),
            lambda r: (r.standard_normal((9, 2)), r.standard_normal((9, 2))),
            lambda y, t: F.mse_loss(y, _t(torch, t)),
        ),
        "MSE-sum": (
            losses.MSE("sum"),
            lambda r: (r.standard_normal((9, 2)), r.standard_normal((9, 2))),
            lambda y, t: F.mse_loss(y, _t(torch, t), reduction="sum"),
        ),
        "CrossEntropy-probabilities": (
            losses.CrossEntropy(),
            lambda r: (r.dirichlet(np.ones(4) * 3, 9), r.integers(0, 4, 9)),
            lambda p, t: F.nll_loss(torch.log(p), torch.as_tensor(t)),
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "SoftmaxCrossEntropy-labels",
        "SoftmaxCrossEntropy-probabilities",
        "BCEWithLogits-mean",
        "BCEWithLogits-batchmean",
        "MSE",
        "MSE-sum",
        "CrossEntropy-probabilities",
    ],
)
def test_loss_matches_torch(name, torch, rng):
    loss, make, reference = _loss_cases(torch)[name]
    Y, T = make(rng)
    value, dY = loss(Y.copy(), T)
    tY = _t(torch, Y, grad=True)
    tvalue = reference(tY, T)
    tvalue.backward()
    assert_close(value, tvalue, f"{name}: value")
    assert_close(dY, tY.grad, f"{name}: gradient")


def test_gaussian_kl_matches_torch(torch, rng):
    mu, logvar = rng.standard_normal((8, 5)), rng.standard_normal((8, 5))
    value, (dmu, dlogvar) = losses.GaussianKL()(mu, logvar)
    tmu, tlv = _t(torch, mu, grad=True), _t(torch, logvar, grad=True)
    tq = torch.distributions.Normal(tmu, torch.exp(0.5 * tlv))
    tp = torch.distributions.Normal(torch.zeros_like(tmu), torch.ones_like(tmu))
    tvalue = torch.distributions.kl_divergence(tq, tp).sum() / 8
    tvalue.backward()
    assert_close(value, tvalue, "GaussianKL: value")
    assert_close(dmu, tmu.grad, "GaussianKL: dmu")
    assert_close(dlogvar, tlv.grad, "GaussianKL: dlogvar")


OPTIMIZERS = {
    "SGD": (lambda: optimizers.SGD(lr=0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    "SGD-momentum": (
        lambda: optimizers.SGD(lr=0.05, momentum=0.9),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "SGD-nesterov-decay": (
        lambda: optimizers.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    ),
    "Adam": (lambda: optimizers.Adam(lr=0.01), lambda t, p: t.optim.Adam(p, lr=0.01)),
    "Adam-betas-decay": (
        lambda: optimizers.Adam(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05),
        lambda t, p: t.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    ),
    "AdamW": (
        lambda: optimizers.AdamW(lr=0.01, weight_decay=0.1),
        lambda t, p: t.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
    "RMSprop": (lambda: optimizers.RMSprop(lr=0.01), lambda t, p: t.optim.RMSprop(p, lr=0.01)),
    "RMSprop-momentum-centered-decay": (
        lambda: optimizers.RMSprop(
            lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01
        ),
        lambda t, p: t.optim.RMSprop(
            p, lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01
        ),
    ),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch_over_20_steps(name, torch, rng):
    ours_factory, theirs_factory = OPTIMIZERS[name]
    shapes = {"0.W": (4, 3), "0.b": (4,), "1.W": (2, 4)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    grads = {k: np.zeros(s) for k, s in shapes.items()}
    tparams = {k: _t(torch, v, grad=True) for k, v in params.items()}
    ours, theirs = ours_factory(), theirs_factory(torch, list(tparams.values()))
    for step in range(20):
        for k in shapes:
            g = rng.standard_normal(shapes[k])
            if step % 7 == 3:
                g[...] = 0.0  # zero gradients must not confuse the moments
            grads[k][...] = g
            tparams[k].grad = _t(torch, g)
        ours.step((k, params[k], grads[k]) for k in shapes)
        theirs.step()
    for k in shapes:
        assert_close(params[k], tparams[k], f"{name}: parameter {k} after 20 steps", atol=1e-10)
    assert ours.t == 20


@pytest.mark.parametrize(
    "name,ours,theirs",
    [
        ("StepLR", schedules.StepLR(3, 0.5), lambda t, o: t.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (
            "ExponentialLR",
            schedules.ExponentialLR(0.9),
            lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, 0.9),
        ),
        (
            "CosineAnnealingLR",
            schedules.CosineAnnealingLR(8, eta_min=0.001),
            lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, 8, eta_min=0.001),
        ),
    ],
)
def test_schedule_matches_torch(name, ours, theirs, torch):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = theirs(torch, opt)
    for epoch in range(12):
        assert ours.lr_at(epoch, 0.1) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12), (
            f"{name}: epoch {epoch}"
        )
        opt.step()
        sched.step()


def test_clip_grad_norm_matches_torch(torch, rng):
    grads = [rng.standard_normal((5, 3)), rng.standard_normal(4)]
    tparams = [_t(torch, np.zeros_like(g), grad=True) for g in grads]
    for tp, g in zip(tparams, grads):
        tp.grad = _t(torch, g)
    norm = snn.clip_grad_norm([(str(i), None, g) for i, g in enumerate(grads)], max_norm=1.5)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, max_norm=1.5)
    assert norm == pytest.approx(float(tnorm), abs=1e-12)
    for i, (g, tp) in enumerate(zip(grads, tparams)):
        assert_close(g, tp.grad, f"clipped gradient {i}")


def test_784_64_10_network_trains_like_its_torch_twin(torch, rng):
    """30 Adam mini-batches on identical data and initial weights: same weights to 1e-8."""
    model = snn.Sequential(
        L.Dense(784, 64, rng=rng), L.ReLU(), L.Dense(64, 10, rng=rng), dtype=np.float64
    )
    net = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.copy_(_t(torch, model[i].params["W"]))
            net[i].bias.copy_(_t(torch, model[i].params["b"]))
    X = rng.uniform(0, 1, (30 * 16, 784))
    y = rng.integers(0, 10, 30 * 16)
    loss = losses.SoftmaxCrossEntropy()
    ours = optimizers.Adam(lr=1e-3)
    theirs = torch.optim.Adam(net.parameters(), lr=1e-3)
    for b, (Xb, yb) in enumerate(snn.batches(X, y, 16, shuffle=False)):
        value, dY = loss(model.forward(Xb), yb)
        model.backward(dY, input_grad=False)
        ours.step(model.parameters())

        theirs.zero_grad()
        tloss = torch.nn.functional.cross_entropy(net(_t(torch, Xb)), torch.as_tensor(yb))
        tloss.backward()
        theirs.step()
        assert value == pytest.approx(tloss.item(), abs=1e-9), f"loss at batch {b}"
    for i in (0, 2):
        assert_close(model[i].params["W"], net[i].weight, f"layer {i} W after 30 steps", atol=1e-8)
        assert_close(model[i].params["b"], net[i].bias, f"layer {i} b after 30 steps", atol=1e-8)


def test_fit_matches_the_explicit_torch_loop(torch):
    """fit() itself (shuffling included) reproduces a torch loop fed the same batch order."""
    X, y = snn.datasets.circle_regions(300, seed=1)
    model = snn.mlp([2, 8, 3], rng=3, dtype=np.float64)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.copy_(_t(torch, model[i].params["W"]))
            net[i].bias.copy_(_t(torch, model[i].params["b"]))
    history = model.fit(
        X,
        y,
        optimizer=optimizers.SGD(lr=0.1, momentum=0.9),
        epochs=3,
        batch_size=32,
        seed=7,
        verbose=0,
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(7)
    for _ in range(3):
        order = rng.permutation(300)
        for start in range(0, 300, 32):
            idx = order[start : start + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                net(_t(torch, X[idx])), torch.as_tensor(y[idx])
            ).backward()
            opt.step()
    for i in (0, 2):
        assert_close(model[i].params["W"], net[i].weight, f"layer {i} W after fit", atol=1e-10)
    assert len(history) == 3
