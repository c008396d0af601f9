"""PyTorch parity of the language models (float64): logits and gradients, and a GPT's Adam run.

Skipped without PyTorch (``pip install torch==2.13.0``); required in CI.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import losses, optimizers
from scratchnn.loop import train_step
from scratchnn.models.lm import GPT, LSTMLM, MLPLM, RNNLM, BigramLM

pytestmark = pytest.mark.torch
V = 11


@pytest.fixture(autouse=True)
def one_thread(torch):
    """Tensors of a few hundred numbers: a second intra-op thread only adds synchronisation,
    and on a busy machine (2 cores, load 9) made each backward ~500 times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tensors(torch, model):
    """Our parameters as torch leaf tensors, under our names."""
    return {name: torch.tensor(p, requires_grad=True) for name, p, _ in model.parameters()}


def perturb(model, rng):
    """Gains and biases away from 1 and 0 (GPT-2 starts them there), as after training."""
    for name, param, _ in model.parameters():
        key = name.rsplit(".", 1)[-1]
        if not key.startswith("W"):  # γ, β and every bias
            param += 0.1 * rng.standard_normal(param.shape)
    return model


# -- the GPT in torch's own functions -----------------------------------------------------------
def torch_gpt(torch, P, ids, model):
    """The same GPT with ``torch.nn.functional``: layer_norm / rms_norm, linear, the fused
    causal ``scaled_dot_product_attention``, gelu(tanh) / relu; ``P`` holds the weights."""
    F = torch.nn.functional
    N, T = ids.shape
    C, H = model.embed_dim, model.num_heads

    def norm(X, key):
        if model.norm == "layernorm":
            return F.layer_norm(X, (C,), P[f"{key}.gamma"], P.get(f"{key}.beta"), eps=1e-5)
        return F.rms_norm(X, (C,), P[f"{key}.gamma"])  # eps None: finfo(float64).eps, as ours

    def linear(X, key, W="W", b="b"):
        return F.linear(X, P[f"{key}.{W}"], P.get(f"{key}.{b}"))

    def heads(Z):
        return Z.reshape(N, T, H, C // H).transpose(1, 2)

    X = P["tok_emb.W"][ids] + P["pos_emb.W"][:T]
    for i in range(model.num_layers):
        block = f"blocks.{i}"
        h = norm(X, f"{block}.norm1")
        q, k, v = (heads(linear(h, f"{block}.attn", f"W{c}", f"b{c}")) for c in "qkv")
        A = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        X = X + linear(A.transpose(1, 2).reshape(N, T, C), f"{block}.attn", "Wo", "bo")
        h = linear(norm(X, f"{block}.norm2"), f"{block}.fc")
        h = F.gelu(h, approximate="tanh") if model.mlp_activation == "gelu" else F.relu(h)
        X = X + linear(h, f"{block}.proj")
    return linear(norm(X, "norm_f"), "head")


GPTS = {
    "layernorm-bias-gelu": {"num_layers": 2},
    "rmsnorm-no-bias-relu": {
        "num_layers": 1,
        "norm": "rmsnorm",
        "bias": False,
        "mlp_activation": "relu",
    },
}


@pytest.mark.parametrize("config", list(GPTS))
def test_gpt_adam_trajectory_matches_torch(config, torch, rng):
    r"""20 Adam steps (lr 1e-2) of our GPT and its torch twin from the same weights on the
    same batches: the loss at every step, the gradients at step 1, Adam's moments and the
    final weights.

    Tolerances, and why. At step 1 the weights are identical, so the gradients differ only
    by rounding: measured ≤ 7.6e-17 (the largest gradient entry is 0.21); checked to
    1e-12. The loss then differs by ≤ 3.7e-16 relative at every step; checked to 1e-12.

    The weights need a bound that follows Adam's conditioning. A step is
    ``Δp = η m̂/(√v̂ + ε)``; a difference ``δg`` between the two gradients changes it by up
    to about ``η δg/(√v̂ + ε)``: little for a parameter with large gradients, but up to
    ``η δg/ε`` (a gain of 1e6 here) for one whose gradient is nearly 0. The attention key
    bias is such a parameter, exactly: it shifts every score of a softmax row by the same
    ``q_i · bk``, so its gradient is 0 and both implementations see rounding noise
    (√v̂ ≈ 2e-21); entries of the second block's ``Wk`` have √v̂ down to 1.3e-7. So each
    entry is checked against its own bound, summed over the steps with our optimizer's
    √v̂ at that step::

        |p_ours - p_torch| ≤ Σ_t η δg/(√v̂_t + ε)  +  8 t u (|p| + η)

    ``δg = 1e-13`` bounds the gradient difference along the run (1,000 times the step-1
    difference: the weights' own differences feed back into the gradients); the second
    term is the rounding of the ``t`` updates themselves (``u`` = 2⁻⁵² ≈ 2.2e-16). For
    ``bk`` the bound is ``20 η δg/ε`` = 2e-6, still far below what a wrong gradient does: one
    off by more than ~1e-13 moves ``bk`` by more than that. Measured with this test's seed,
    on OpenBLAS's SkylakeX and Haswell kernels: the key biases differ by ≤ 1.1e-13, every
    other entry by ≤ 2.6e-14 (that ``Wk``), and no entry uses more than 1/2,800 of its
    bound. Nothing is excluded, and the model is not built without biases to avoid them.
    """
    steps, lr, T = 20, 1e-2, 8
    kwargs = {"block_size": T, "embed_dim": 16, "num_heads": 4, **GPTS[config]}
    model = perturb(GPT(V, **kwargs, rng=rng, dtype=np.float64), rng)
    P = tensors(torch, model)
    batches = [(rng.integers(0, V, (4, T)), rng.integers(0, V, (4, T))) for _ in range(steps)]
    loss, ours = losses.SoftmaxCrossEntropy(), optimizers.Adam(lr=lr)
    theirs = torch.optim.Adam(list(P.values()), lr=lr)
    gain = {name: np.zeros_like(p) for name, p, _ in model.parameters()}  # Σ_t η/(√v̂_t + ε)
    for t, (X, Y) in enumerate(batches, start=1):
        value, _ = train_step(model, loss, ours, X, Y)
        theirs.zero_grad()
        logits = torch_gpt(torch, P, torch.as_tensor(X), model)
        twin_value = torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), torch.as_tensor(Y).reshape(-1)
        )
        twin_value.backward()
        if t == 1:
            for name, _, grad in model.parameters():
                np.testing.assert_allclose(grad, P[name].grad.numpy(), rtol=0, atol=1e-12,
                                           err_msg=f"GPT {config}: d{name} at step 1")  # fmt: skip
        theirs.step()
        assert value == pytest.approx(twin_value.item(), rel=1e-12), f"GPT {config}: step {t}"
        correction = 1 - ours.beta2**ours.t
        for name, g in gain.items():
            g += lr / (np.sqrt(ours.state[name]["v"] / correction) + ours.eps)
    u = np.finfo(np.float64).eps
    for name, p, _ in model.parameters():
        twin = P[name].detach().numpy()
        state = theirs.state[P[name]]
        np.testing.assert_allclose(ours.state[name]["m"], state["exp_avg"].numpy(), rtol=1e-9,
                                   atol=1e-15, err_msg=f"GPT {config}: Adam m of {name}")  # fmt: skip
        np.testing.assert_allclose(ours.state[name]["v"], state["exp_avg_sq"].numpy(),
                                   rtol=1e-9, atol=1e-20, err_msg=f"GPT {config}: Adam v of {name}")  # fmt: skip
        bound = 1e-13 * gain[name] + 8 * steps * u * (np.abs(p) + lr)
        excess = np.abs(p - twin) / bound
        worst = np.unravel_index(excess.argmax(), p.shape)
        assert excess.max() <= 1, (
            f"GPT {config}: {name}{list(worst)} differs by {abs(p - twin)[worst]:.2e}, "
            f"bound {bound[worst]:.2e}"
        )
    assert model.bias == any(name.endswith("attn.bk") for name in P)  # checked, not dropped


# -- the smaller models: logits and gradients of one batch --------------------------------------
def torch_twin(torch, model, P, ids):
    """The same logits from nn.functional / nn.RNN / nn.LSTM with our weights."""
    F = torch.nn.functional
    if isinstance(model, BigramLM):
        return P["table.W"][ids]
    if isinstance(model, MLPLM):
        X = P["embed.W"][ids].reshape(ids.shape[0], -1)
        return F.linear(torch.tanh(F.linear(X, P["fc.W"], P["fc.b"])), P["head.W"], P["head.b"])
    cell = "rnn" if isinstance(model, RNNLM) else "lstm"
    H = model.hidden_size
    layer = (torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)(model.embed_dim, H, batch_first=True)
    weights = {f"{cell}.{k}": getattr(layer, f"{t}_l0") for k, t in
               {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}.items()}  # fmt: skip
    with torch.no_grad():
        for key, twin in weights.items():
            twin.copy_(P[key])
    Hs, _ = layer(P["embed.W"][ids])
    return F.linear(Hs, P["head.W"], P["head.b"]), weights


SMALL = {
    "BigramLM": lambda rng: BigramLM(V, rng=rng, dtype=np.float64),
    "MLPLM": lambda rng: MLPLM(V, 3, 4, 10, rng=rng, dtype=np.float64),
    "RNNLM": lambda rng: RNNLM(V, 4, 6, rng=rng, dtype=np.float64),
    "LSTMLM": lambda rng: LSTMLM(V, 4, 6, rng=rng, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_small_models_match_torch(name, torch, rng):
    model = SMALL[name](rng)
    if isinstance(model, MLPLM):
        ids, targets = rng.integers(0, V, (6, 3)), rng.integers(0, V, 6)
    else:
        ids, targets = rng.integers(0, V, (3, 7)), rng.integers(0, V, (3, 7))
    loss = losses.SoftmaxCrossEntropy()
    logits = model.forward(ids)
    value, dZ = loss(logits, targets)
    model.backward(dZ)
    P = tensors(torch, model)
    out = torch_twin(torch, model, P, torch.as_tensor(ids))
    twin_logits, weights = out if isinstance(out, tuple) else (out, {})
    twin_value = torch.nn.functional.cross_entropy(
        twin_logits.reshape(-1, V), torch.as_tensor(targets).reshape(-1)
    )
    twin_value.backward()
    np.testing.assert_allclose(logits, twin_logits.detach().numpy(), rtol=0, atol=1e-12)
    assert value == pytest.approx(twin_value.item(), rel=1e-13)
    for key, _, grad in model.parameters():
        twin = weights[key].grad if key in weights else P[key].grad
        np.testing.assert_allclose(
            grad, twin.numpy(), rtol=0, atol=1e-13, err_msg=f"{name}: d{key}"
        )
