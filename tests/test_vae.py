"""The VAE: checks that do not trust our own backward, a PyTorch twin, real MNIST, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import gradcheck
from scratchnn.errors import InputError, NotFittedError, ShapeError
from scratchnn.models import VAE, KLWarmup, VAELoss
from scratchnn.models.vae import reparameterize


def _binary_data(rng, n=64, d=12):
    return (rng.random((n, d)) < 0.35).astype(np.float64)


# -- the reparameterisation and the KL, checked against sampling ---------------------------
def test_reparameterised_samples_have_mean_mu_and_variance_exp_logvar(rng):
    mu = np.array([-1.5, 0.0, 2.0])
    logvar = np.array([np.log(0.25), 0.0, np.log(4.0)])  # variances 0.25, 1, 4
    n = 200_000
    z, std = reparameterize(
        np.tile(mu, (n, 1)), np.tile(logvar, (n, 1)), rng.standard_normal((n, 3))
    )
    np.testing.assert_allclose(std[0], [0.5, 1.0, 2.0])
    # standard errors: σ/√n for the mean, about σ²·√(2/n) for the variance
    np.testing.assert_allclose(z.mean(0), mu, atol=5 * 2.0 / math.sqrt(n))
    np.testing.assert_allclose(z.var(0), np.exp(logvar), rtol=5 * math.sqrt(2 / n))


def test_the_model_samples_z_from_q_with_its_own_noise(rng):
    vae = VAE(6, hidden=(5,), latent_dim=3, rng=0, dtype=np.float64)
    x = rng.random((1, 6))
    mu, logvar = vae.encode(x)
    X = np.repeat(x, 100_000, axis=0)
    vae.forward(X)
    z = vae.decoder[0]._X  # what the decoder received: z = μ + σ ε
    np.testing.assert_allclose(z.mean(0), mu[0], atol=5 * np.exp(0.5 * logvar.max()) / 300)
    np.testing.assert_allclose(z.var(0), np.exp(logvar[0]), rtol=0.03)


def test_kl_equals_the_closed_form_and_a_monte_carlo_estimate(rng):
    mu = np.array([[1.0, -0.5], [0.3, 2.0]])
    logvar = np.array([[np.log(2.0), -1.0], [0.5, np.log(0.1)]])
    value, _ = snn.GaussianKL()(mu, logvar)
    var = np.exp(logvar)
    # KL(N(μ, σ²) ‖ N(0, 1)) = log(1/σ) + (σ² + μ²)/2 − 1/2, per dimension (textbook form)
    closed = np.sum(-0.5 * logvar + (var + mu**2) / 2 - 0.5) / mu.shape[0]
    assert value == pytest.approx(closed, rel=1e-12)
    # Monte Carlo: E_q[log q(z) − log p(z)] with z = μ + σ ε
    n = 400_000
    eps = rng.standard_normal((n, *mu.shape))
    z = mu + np.sqrt(var) * eps
    log_q = -0.5 * (eps**2 + np.log(2 * np.pi) + logvar)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    samples = (log_q - log_p).sum(axis=2).mean(axis=1)
    stderr = samples.std() / math.sqrt(n)
    assert abs(samples.mean() - value) < 5 * stderr


# -- the whole objective against finite differences, noise held fixed ----------------------
@pytest.mark.parametrize(
    "likelihood, beta, hidden",
    [
        ("bernoulli", 1.0, (7,)),
        ("bernoulli", 0.3, (7, 5)),
        ("gaussian", 1.0, (6,)),
        ("gaussian", 2.0, ()),
    ],
)
def test_whole_objective_passes_the_finite_difference_check(rng, likelihood, beta, hidden):
    vae = VAE(
        9, hidden=hidden, latent_dim=3, likelihood=likelihood, obs_std=0.7, rng=1, dtype=np.float64
    )
    loss = vae.loss(beta)
    X = rng.random((10, 9))
    T = X.copy()  # the target is the input, held fixed while X is perturbed
    eps = rng.standard_normal((10, 3))

    def f() -> float:
        return loss(vae.forward(X, eps=eps), T)[0]

    _, dY = loss(vae.forward(X, eps=eps), T)
    analytic = {"dX": vae.backward(dY).copy()}
    analytic.update({name: g.copy() for name, _, g in vae.parameters()})
    inputs = {"dX": X, **{name: p for name, p, _ in vae.parameters()}}
    # The batch-mean gradients are small (|dX| ~ 1e-2), so at h = 1e-6 the rounding error of
    # f (~1e-16 · f / h) dominates; h = 1e-4 keeps it and the O(h²) truncation below 1e-8.
    report = gradcheck.check_gradients(f, inputs, analytic, h=1e-4)
    assert report.passed, str(report)
    assert len(report.errors) == 1 + len(list(vae.parameters()))


def test_backward_without_input_grad_sets_the_same_parameter_gradients(rng):
    vae = VAE(8, hidden=(6,), latent_dim=2, rng=0, dtype=np.float64)
    X, eps = rng.random((5, 8)), rng.standard_normal((5, 2))
    loss = vae.loss()
    vae.backward(loss(vae.forward(X, eps=eps), X)[1])
    full = {n: g.copy() for n, _, g in vae.parameters()}
    assert vae.backward(loss(vae.forward(X, eps=eps), X)[1], input_grad=False) is None
    for name, _, g in vae.parameters():
        np.testing.assert_array_equal(g, full[name], err_msg=name)


# -- one training step against a PyTorch twin ----------------------------------------------
def _torch_twin(torch, vae):
    nn, F = torch.nn, torch.nn.functional

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(vae.input_dim, vae.hidden[0])
            self.fc21 = nn.Linear(vae.hidden[0], vae.latent_dim)
            self.fc22 = nn.Linear(vae.hidden[0], vae.latent_dim)
            self.fc3 = nn.Linear(vae.latent_dim, vae.hidden[0])
            self.fc4 = nn.Linear(vae.hidden[0], vae.input_dim)

        def forward(self, x, eps):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.exp(0.5 * logvar) * eps
            return self.fc4(F.relu(self.fc3(z))), mu, logvar

    twin = Twin().double()
    names = {
        "encoder.0": twin.fc1,
        "mu": twin.fc21,
        "logvar": twin.fc22,
        "decoder.0": twin.fc3,
        "decoder.2": twin.fc4,
    }
    with torch.no_grad():
        for prefix, lin in names.items():
            state = vae.state_dict()
            lin.weight.copy_(torch.from_numpy(state[f"{prefix}.W"]))
            lin.bias.copy_(torch.from_numpy(state[f"{prefix}.b"]))
    pairs = {
        f"{prefix}.{k}": getattr(lin, a)
        for prefix, lin in names.items()
        for k, a in (("W", "weight"), ("b", "bias"))
    }
    return twin, pairs


@pytest.mark.torch
@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_training_steps_equal_a_pytorch_twin(torch, rng, beta):
    F = torch.nn.functional
    vae = VAE(20, hidden=(16,), latent_dim=4, rng=3, dtype=np.float64)
    twin, pairs = _torch_twin(torch, vae)
    ours_opt = snn.Adam(lr=1e-3)
    torch_opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    loss = vae.loss(beta)
    for step in range(3):
        X = rng.random((32, 20))
        eps = rng.standard_normal((32, 4))
        value, dY = loss(vae.forward(X, eps=eps), X)
        vae.backward(dY, input_grad=False)

        x, e = torch.from_numpy(X), torch.from_numpy(eps)
        out, mu, logvar = twin(x, e)
        bce = F.binary_cross_entropy_with_logits(out, x, reduction="sum")
        kl = 0.5 * torch.sum(logvar.exp() + mu**2 - 1 - logvar)
        torch_value = (bce + beta * kl) / x.shape[0]
        torch_opt.zero_grad()
        torch_value.backward()

        assert value == pytest.approx(torch_value.item(), abs=1e-10), f"loss at step {step}"
        for name, _, g in vae.parameters():
            np.testing.assert_allclose(
                g, pairs[name].grad.numpy(), rtol=0, atol=1e-10, err_msg=f"d{name} at step {step}"
            )
        ours_opt.step(vae.parameters())
        torch_opt.step()
        for name, p, _ in vae.parameters():
            np.testing.assert_allclose(
                p,
                pairs[name].detach().numpy(),
                rtol=0,
                atol=1e-8,
                err_msg=f"{name} after step {step}",
            )


# -- training, evaluation and the rest of the API ------------------------------------------
def test_fit_records_reconstruction_and_kl_in_the_history(rng):
    X, X_val = _binary_data(rng, 200), _binary_data(rng, 50)
    vae = VAE(12, hidden=(16,), latent_dim=2, rng=0)
    history = vae.fit(X, epochs=3, batch_size=32, validation_data=X_val, seed=0, verbose=0)
    df = history.to_dataframe()
    assert list(df.columns)[:7] == list(snn.History.COLUMNS)
    assert {"recon", "kl", "val_recon", "val_kl"} <= set(df.columns)
    np.testing.assert_allclose(df["loss"], df["recon"] + df["kl"], rtol=1e-6)
    np.testing.assert_allclose(df["val_loss"], df["val_recon"] + df["val_kl"], rtol=1e-6)
    assert df["loss"].iloc[-1] < df["loss"].iloc[0]
    assert df["accuracy"].isna().all()


def test_fit_is_reproducible_from_seeds(rng):
    X = _binary_data(rng, 100)
    runs = []
    for _ in range(2):
        vae = VAE(12, hidden=(8,), latent_dim=2, rng=5)
        vae.fit(X, epochs=2, batch_size=16, seed=1, verbose=0)
        runs.append(vae.state_dict())
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_kl_warmup_raises_beta_per_epoch_and_restores_it(rng):
    X = _binary_data(rng, 64)
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    loss = vae.loss(beta=2.0)
    seen = []

    class Spy(snn.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(loss.beta)

    history = vae.fit(
        X, loss=loss, warmup_epochs=4, epochs=5, callbacks=[Spy()], batch_size=16, seed=0, verbose=0
    )
    assert seen == [0.5, 1.0, 1.5, 2.0, 2.0]
    assert loss.beta == 2.0
    df = history.to_dataframe()
    np.testing.assert_allclose(df["loss"], df["recon"] + np.array(seen) * df["kl"], rtol=1e-6)


def test_kl_warmup_validates_its_arguments():
    with pytest.raises(InputError, match="warmup_epochs"):
        KLWarmup(VAELoss(), 0)
    with pytest.raises(InputError, match="beta"):
        VAELoss(beta=-1.0)


def test_encode_decode_sample_reconstruct(rng):
    vae = VAE(12, hidden=(8,), latent_dim=3, rng=0)
    X = _binary_data(rng, 10)
    mu, logvar = vae.encode(X)
    assert mu.shape == logvar.shape == (10, 3) and mu.dtype == np.float32
    probs = vae.decode(mu)
    logits = vae.decode(mu, logits=True)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), rtol=1e-5)
    np.testing.assert_array_equal(vae.reconstruct(X), probs)
    assert vae.reconstruct(X, sample=True).shape == (10, 12)
    samples = vae.sample(7, rng=0)
    assert samples.shape == (7, 12) and (samples > 0).all() and (samples < 1).all()
    np.testing.assert_array_equal(samples, vae.sample(7, rng=0))


def test_images_are_flattened(rng):
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    images = _binary_data(rng, 6).reshape(6, 3, 4)
    assert vae.reconstruct(images).shape == (6, 12)
    assert math.isfinite(vae.evaluate(images).neg_elbo)


def test_evaluate_terms_add_up(rng):
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    ev = vae.evaluate(_binary_data(rng, 40), batch_size=7)
    assert ev.neg_elbo == pytest.approx(ev.recon + ev.kl)
    assert ev.kl > 0 and ev.recon > 0


def test_importance_weighted_bound_reaches_the_exact_likelihood_of_a_linear_gaussian_vae(rng):
    # With no hidden layers and a Gaussian decoder, x = W z + b + σ_x ν is linear-Gaussian:
    # p(x) = N(b, W Wᵀ + σ_x² I) exactly, so the estimates can be checked against the truth.
    s2 = 0.25
    vae = VAE(
        4, hidden=(), latent_dim=2, likelihood="gaussian", obs_std=0.5, rng=0, dtype=np.float64
    )
    W, b = vae.decoder[0].params["W"], vae.decoder[0].params["b"]
    X = rng.standard_normal((20, 2)) @ W.T + b + 0.5 * rng.standard_normal((20, 4))
    cov = W @ W.T + s2 * np.eye(4)
    diff = X - b
    exact = -0.5 * (
        np.einsum("nd,de,ne->n", diff, np.linalg.inv(cov), diff)
        + np.linalg.slogdet(cov)[1]
        + 4 * np.log(2 * np.pi)
    )
    # A good proposal: the encoder set to the exact posterior's mean and marginal variances
    # (q is diagonal, the posterior is not, so the ELBO stays strictly below log p(x)).
    post_cov = np.linalg.inv(np.eye(2) + W.T @ W / s2)
    A = post_cov @ W.T / s2
    vae.mu_head.params["W"][:] = A
    vae.mu_head.params["b"][:] = -A @ b
    vae.logvar_head.params["W"][:] = 0
    vae.logvar_head.params["b"][:] = np.log(np.diag(post_cov))

    def expected_estimate(k: int, repeats: int) -> np.ndarray:
        """E[estimate with k samples] per example, averaged over independent repeats."""
        tiled = np.tile(X, (repeats, 1))
        return vae.log_likelihood(tiled, k=k, rng=k).reshape(repeats, -1).mean(axis=0)

    elbo = expected_estimate(1, 2000)  # k = 1 is the ELBO
    gap_1 = np.mean(exact - elbo)
    gap_5 = np.mean(exact - expected_estimate(5, 500))
    assert 0.05 < gap_1 < 0.15  # the ELBO is below log p(x) by E[KL(q ‖ posterior)]
    assert 0 < gap_5 < gap_1 / 3  # importance weighting closes the gap (Burda et al., Thm 1)
    # The same ELBO through the training loss (closed-form KL, one sample of z per row):
    neg_elbo = vae.evaluate(np.tile(X, (2000, 1))).neg_elbo
    assert neg_elbo == pytest.approx(-np.mean(elbo), abs=0.02)
    # Many samples: the estimate converges to the exact log-likelihood (sd ≈ 0.002 here).
    np.testing.assert_allclose(vae.log_likelihood(X, k=20_000, rng=0), exact, atol=0.01)


def test_log_likelihood_is_finite_for_extreme_inputs(rng):
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    for layer in vae.decoder:
        if "W" in layer.params:
            layer.params["W"] *= 200  # logits in the thousands: w_i far outside float range
    ll = vae.log_likelihood(_binary_data(rng, 5), k=50, rng=0)
    assert np.isfinite(ll).all()


def test_save_and_load_round_trip(tmp_path, rng):
    vae = VAE(
        12,
        hidden=(8, 6),
        latent_dim=3,
        likelihood="gaussian",
        obs_std=0.3,
        activation="tanh",
        rng=0,
    )
    vae.fit(rng.random((40, 12)), epochs=1, batch_size=8, seed=0, verbose=0)
    vae.metadata = {"dataset": "toy"}
    vae.save(tmp_path / "vae.npz")
    clone = snn.load(tmp_path / "vae.npz")
    assert isinstance(clone, VAE) and clone.get_config() == vae.get_config()
    assert clone.metadata == {"dataset": "toy"}
    for (name, p, _), (name2, q, _) in zip(vae.parameters(), clone.parameters()):
        assert name == name2
        np.testing.assert_array_equal(p, q)
    X, eps = rng.random((4, 12)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    for a, b in zip(vae.forward(X, eps=eps), clone.forward(X, eps=eps)):
        np.testing.assert_array_equal(a, b)


def test_a_file_naming_an_unknown_model_class_is_a_clear_error(tmp_path):
    from scratchnn.errors import ModelFileError
    from scratchnn.io import write_npz

    write_npz(tmp_path / "m.npz", {"kind": "model", "architecture": {"class": "GAN"}}, {})
    with pytest.raises(ModelFileError, match="unknown model class 'GAN'"):
        snn.load(tmp_path / "m.npz")


def test_float32_stays_float32(rng):
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    out, mu, logvar = vae.forward(_binary_data(rng, 4).astype(np.float32))
    assert out.dtype == mu.dtype == logvar.dtype == np.float32
    vae.fit(_binary_data(rng, 32), epochs=1, batch_size=8, seed=0, verbose=0)
    assert all(p.dtype == g.dtype == np.float32 for _, p, g in vae.parameters())


# -- errors a user can cause ---------------------------------------------------------------
def test_bernoulli_vae_refuses_unscaled_images(rng):
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    with pytest.raises(InputError, match=r"inputs in \[0, 1\].*X / 255"):
        vae.fit(rng.integers(0, 256, (20, 12)), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda v, X: v.fit(X[:, :5], epochs=1, verbose=0), ShapeError, "expects 12"),
        (lambda v, X: v.forward(X, eps=np.zeros((3, 2))), ShapeError, "eps has shape"),
        (lambda v, X: v.decode(np.zeros((2, 5))), ShapeError, r"codes must be \(N, 2\)"),
        (lambda v, X: v.sample(0), InputError, "n must be a positive integer"),
        (lambda v, X: v.log_likelihood(X, k=0), InputError, "k must be"),
        (
            lambda v, X: snn.fit(v, X, np.zeros(len(X)), loss=v.loss(), verbose=0),
            ShapeError,
            "pass y=None",
        ),
        (
            lambda v, X: VAELoss()(np.zeros((2, 12)), X),
            InputError,
            "needs the .out, mu, logvar. triple",
        ),
    ],
)
def test_misuse_gets_a_named_error(rng, call, error, match):
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    with pytest.raises(error, match=match):
        call(vae, _binary_data(rng, 6).astype(np.float32))


def test_backward_before_forward_explains_itself():
    vae = VAE(12, hidden=(8,), latent_dim=2, rng=0)
    with pytest.raises(NotFittedError, match="before forward"):
        vae.backward((np.zeros((1, 12)), np.zeros((1, 2)), np.zeros((1, 2))))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"likelihood": "poisson"}, "likelihood must be one of"),
        ({"latent_dim": 0}, "latent_dim must be a positive integer"),
        ({"hidden": (4, -1)}, "each hidden size"),
        ({"activation": "swish"}, "unknown activation"),
        ({"obs_std": 0.0}, "obs_std"),
        ({"dtype": np.int32}, "floating type"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        VAE(12, **kwargs)


# -- real MNIST ----------------------------------------------------------------------------
@pytest.mark.slow
def test_one_epoch_on_real_mnist_reaches_the_reference_bound(mnist_dir):
    """PyTorch's reference VAE: 126.9 nats after epoch 1; a wrong σ or a per-pixel mean
    reconstruction with a summed KL lands far above this."""
    (X_train, _), (X_test, _) = snn.datasets.load_mnist(mnist_dir)
    X_train = (X_train / 255).astype(np.float32)
    X_test = (X_test[:2000] / 255).astype(np.float32)
    vae = VAE(rng=0)
    vae.fit(X_train, epochs=1, batch_size=128, seed=0, verbose=0)
    ev = vae.evaluate(X_test)
    assert ev.neg_elbo < 130.0, ev
    assert 10.0 < ev.kl < 40.0, ev  # the code is used: no posterior collapse
    nll = -vae.log_likelihood(X_test[:200], k=50, rng=0).mean()
    assert nll < ev.neg_elbo


# -- checkpoints ----------------------------------------------------------------------------
def _vae_run(tmp_path=None, callbacks=(), resume=False, epochs=4):
    X = np.random.default_rng(4).random((96, 12))
    vae = VAE(12, hidden=(8,), latent_dim=3, rng=1)
    history = vae.fit(
        X,
        epochs=epochs,
        batch_size=16,
        optimizer=snn.Adam(lr=1e-2),
        validation_data=X[:32],
        seed=2,
        verbose=0,
        checkpoint=tmp_path,
        resume=resume,
        callbacks=list(callbacks),
    )
    return vae, history


@pytest.mark.parametrize("step", [3, 6, 14])  # 6 steps per epoch: mid-epoch and at its end
def test_interrupted_vae_resumes_bit_identically(tmp_path, step):
    """The noise generator ε is drawn from is saved too, and so are the recon/kl sums."""
    import os
    import signal

    import pandas as pd

    class SignalAt(snn.Callback):
        def __init__(self):
            self.seen = 0

        def on_batch_end(self, batch, logs):
            self.seen += 1
            if self.seen == step:
                os.kill(os.getpid(), signal.SIGINT)

    straight, straight_history = _vae_run()
    with pytest.raises(snn.TrainingInterrupted):
        _vae_run(tmp_path, callbacks=[SignalAt()])
    vae, history = _vae_run(tmp_path, resume=True)
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(value, vae.state_dict()[name], err_msg=name)
    assert {"recon", "kl", "val_recon", "val_kl"} <= set(history.columns)
    pd.testing.assert_frame_equal(
        straight_history.to_dataframe().drop(columns="seconds"),
        history.to_dataframe().drop(columns="seconds"),
        check_exact=True,
    )
    assert type(snn.load_checkpoint(tmp_path).model).__name__ == "VAE"
