"""The language models: whole-model gradient checks, training, round trips, sampling, causality."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import gradcheck, losses
from scratchnn.errors import InputError, ShapeError
from scratchnn.loop import epoch_order, num_batches, take_batch, train_step
from scratchnn.models import lm
from scratchnn.models.lm import GPT, LSTMLM, MLPLM, RNNLM, BigramLM, Block, LastAxisDense

V = 7  # vocabulary of the small models below

# name: a small float64 model (windows of 3 for the MLP, sequences for the others)
MODELS = {
    "BigramLM": lambda: BigramLM(V, rng=0, dtype=np.float64),
    "MLPLM": lambda: MLPLM(V, block_size=3, embed_dim=2, hidden=6, rng=0, dtype=np.float64),
    "MLPLM-gelu": lambda: MLPLM(V, 3, 2, 6, activation="gelu", rng=0, dtype=np.float64),
    "RNNLM": lambda: RNNLM(V, embed_dim=3, hidden_size=4, rng=0, dtype=np.float64),
    "LSTMLM": lambda: LSTMLM(V, embed_dim=3, hidden_size=4, rng=0, dtype=np.float64),
    "GPT": lambda: GPT(V, 5, embed_dim=4, num_heads=2, num_layers=2, rng=0, dtype=np.float64),
    "GPT-rmsnorm-relu-no-bias": lambda: GPT(
        V, 5, 4, 2, 2, norm="rmsnorm", bias=False, mlp_activation="relu", rng=0, dtype=np.float64
    ),
}
SEQUENCE_MODELS = [name for name in MODELS if not name.startswith("MLPLM")]


def batch_for(model, rng, n=3, T=5):
    """Ids and next-token targets of the shape the model reads."""
    if isinstance(model, MLPLM):
        return rng.integers(0, V, (n, model.block_size)), rng.integers(0, V, n)
    return rng.integers(0, V, (n, T)), rng.integers(0, V, (n, T))


def randomise(model, rng):
    """Every parameter away from its initial value (gains ≠ 1, biases ≠ 0), so that a
    backward that forgets γ or a bias cannot pass by luck."""
    for name, param, _ in model.parameters():
        key = name.rsplit(".", 1)[-1]
        if key == "gamma":
            param[...] = 1 + 0.3 * rng.standard_normal(param.shape)
        elif key.startswith("W"):
            param[...] = 0.3 * rng.standard_normal(param.shape)
        else:
            param[...] = 0.3 * rng.standard_normal(param.shape)
    return model


# -- finite differences of each whole model ---------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_whole_model_gradients_match_finite_differences(name, rng):
    """∂L/∂(every parameter) of the cross-entropy of the whole model, against centred
    differences in float64 (relative error < 1e-7). Ids are integers, not differentiable:
    the parameters are what is checked.

    ``h = 1e-5`` rather than 1e-6: the loss is a mean of size ~2 while single parameter
    gradients are ~1e-3, so the rounding error of a difference, ``ε_mach |L| / h``, reaches
    a few 1e-7 of the gradient at ``h = 1e-6``. At 1e-5 the largest errors measured are
    2.3e-8 (the LSTM) and 9e-9 (a GPT); at 5e-6 they are twice as large, so rounding, not
    the ``O(h²)`` truncation, still dominates.

    A key bias ``bk`` adds ``q_i · bk`` to every score of row ``i``, a shift the softmax
    ignores: its exact gradient is 0, both estimates are rounding noise and their relative
    error means nothing, so it is checked to vanish instead.
    """
    model = randomise(MODELS[name](), rng)
    ids, targets = batch_for(model, rng)
    loss = losses.SoftmaxCrossEntropy()
    _, dlogits = loss(model.forward(ids), targets)
    assert model.backward(dlogits) is None  # ids get no gradient
    analytic = {key: grad.copy() for key, _, grad in model.parameters()}
    params = {key: param for key, param, _ in model.parameters()}
    report = gradcheck.check_gradients(
        lambda: loss(model.forward(ids), targets)[0], params, analytic, h=1e-5, tol=1e-7
    )
    checked = {k: v for k, v in report.errors.items() if not k.endswith("attn.bk")}
    assert max(checked.values()) < 1e-7, f"{name}: gradient check failed\n{report}"
    assert len(checked) + sum(k.endswith("attn.bk") for k in report.errors) == len(params)
    scale = max(np.abs(g).max() for g in analytic.values())
    for key in set(report.errors) - set(checked):
        assert np.abs(analytic[key]).max() < 1e-12 * scale, f"{name}: d{key} is not ~0"


def test_a_block_backward_adds_both_residual_paths(rng):
    """The Block alone, with an input gradient: ``dX = dY + ...`` for each branch."""
    block = randomise(Block(4, 2, bias=False, rng=0), rng)
    report = gradcheck.check_layer(block, rng.standard_normal((2, 5, 4)), rng=rng, tol=1e-7)
    assert report.passed, f"Block:\n{report}"


def test_last_axis_dense_is_dense_on_every_position(rng):
    layer = LastAxisDense(4, 3, rng=0, dtype=np.float64)
    X = rng.standard_normal((2, 5, 4))
    dY = rng.standard_normal((2, 5, 3))
    Y = layer.forward(X)
    dX = layer.backward(dY)
    dense = snn.Dense(4, 3, rng=0, dtype=np.float64)
    np.testing.assert_allclose(Y.reshape(10, 3), dense.forward(X.reshape(10, 4)), rtol=1e-14)
    np.testing.assert_allclose(dX.reshape(10, 4), dense.backward(dY.reshape(10, 3)), rtol=1e-14)
    np.testing.assert_allclose(layer.grads["W"], dense.grads["W"], rtol=1e-14)
    assert gradcheck.check_layer(layer, X, rng=rng).passed


# -- training -----------------------------------------------------------------------------
def memorisable_data(model, rng):
    """Random targets that the model can still learn exactly: every context occurs once.

    The bigram sees one token, so it gets each token once with a random successor; the MLP
    distinct windows; the sequence models 7 sequences whose first tokens differ, so that
    every prefix, the context of each target, is different.
    """
    if isinstance(model, BigramLM):
        return np.arange(V)[:, None], rng.integers(0, V, (V, 1))
    if isinstance(model, MLPLM):
        windows = np.unique(rng.integers(0, V, (12, model.block_size)), axis=0)
        return windows, rng.integers(0, V, len(windows))
    X = rng.integers(0, V, (V, 5))
    X[:, 0] = rng.permutation(V)
    return X, rng.integers(0, V, (V, 5))


# wider than MODELS: room to memorise 35 random targets (float32, the default dtype)
LEARNERS = {
    "BigramLM": lambda: BigramLM(V, rng=0),
    "MLPLM": lambda: MLPLM(V, block_size=3, embed_dim=4, hidden=32, rng=0),
    "RNNLM": lambda: RNNLM(V, embed_dim=8, hidden_size=32, rng=0),
    "LSTMLM": lambda: LSTMLM(V, embed_dim=8, hidden_size=32, rng=0),
    "GPT": lambda: GPT(V, 5, embed_dim=16, num_heads=2, num_layers=1, rng=0),
    "microgpt": lambda: lm.microgpt(V, rng=0),
}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_each_model_overfits_a_tiny_dataset_with_fit(name, rng):
    """``model.fit(ids, targets, loss="ce")``: the loss falls from about ln V to far below it.

    The bound, a tenth of ln 7 ≈ 0.19 nats, is reached with a wide margin (the final losses
    are below 0.03 after 150 full-batch Adam steps), so no rounding decides the test.
    """
    model = LEARNERS[name]()
    X, Y = memorisable_data(model, rng)
    start = model.evaluate(X, Y).loss
    history = model.fit(X, Y, loss="ce", optimizer=snn.Adam(lr=0.05), epochs=150,
                        batch_size=len(X), seed=0, verbose=0)  # fmt: skip
    end = model.evaluate(X, Y)
    assert start > 0.5 * math.log(V), f"{name} starts too well ({start:.3f})"
    assert end.loss < 0.1 * math.log(V), f"{name} did not overfit: loss {end.loss:.3f}"
    assert end.accuracy == 1.0
    assert history.records[-1]["loss"] < history.records[0]["loss"]


def test_the_explicit_loop_is_what_fit_runs(rng):
    """The four lines over epochs of a permutation give bit-identical weights to ``fit``."""
    X, Y = rng.integers(0, V, (10, 5)), rng.integers(0, V, (10, 5))
    by_fit, by_hand = MODELS["GPT"](), MODELS["GPT"]()
    by_fit.fit(X, Y, loss="ce", optimizer=snn.Adam(lr=0.01), epochs=3, batch_size=4, seed=7,
               verbose=0)  # fmt: skip
    loss, optimizer = snn.SoftmaxCrossEntropy(), snn.Adam(lr=0.01)
    order_rng = np.random.default_rng(7)  # what fit(seed=7) shuffles with
    for _ in range(3):
        order = epoch_order(len(X), shuffle=True, rng=order_rng)
        for b in range(num_batches(len(X), 4)):
            train_step(by_hand, loss, optimizer, *take_batch(X, Y, order, b, 4))
    for (key, ours, _), (_, theirs, _) in zip(by_fit.parameters(), by_hand.parameters()):
        np.testing.assert_array_equal(ours, theirs, err_msg=key)


def test_bigram_counts_are_the_maximum_likelihood_solution(rng):
    """Counting and gradient descent give the same model: the counts table is where the
    gradient of the training loss vanishes, and Adam's loss approaches its loss from above.

    Every pair of the 5 tokens occurs (2,000 draws from a fixed chain), so the minimum is
    finite and the tiny smoothing (1e-9 pseudo-counts) moves it by ~1e-11.
    """
    chain = rng.dirichlet(np.ones(5), size=5)
    tokens = [0]
    for _ in range(2000):
        tokens.append(rng.choice(5, p=chain[tokens[-1]]))
    X, Y = np.array(tokens[:-1]), np.array(tokens[1:])
    loss = snn.SoftmaxCrossEntropy()
    counted = BigramLM.from_counts(X, Y, smoothing=1e-9, dtype=np.float64)
    best, dZ = loss(counted.forward(X), Y)
    counted.backward(dZ)
    assert np.abs(counted.table.grads["W"]).max() < 1e-9  # the gradient vanishes there
    trained = BigramLM(5, rng=0, dtype=np.float64)
    optimizer = snn.Adam(lr=0.1)
    first = train_step(trained, loss, optimizer, X, Y)[0]
    for _ in range(300):
        last = train_step(trained, loss, optimizer, X, Y)[0]
    assert first - best > 0.5  # a long way to go at the start
    assert best - 1e-9 < last < best + 2e-3, f"trained {last:.6f}, counts {best:.6f}"


def test_bigram_counts_by_hand():
    model = BigramLM.from_counts([[0, 1, 1]], [[1, 1, 0]], smoothing=1.0, vocab_size=3)
    P = np.exp(model.table.params["W"].astype(np.float64))
    # row 0: one 0→1 pair, plus 1 everywhere: (1, 2, 1)/4; row 1: 1→1, 1→0: (2, 2, 1)/5
    np.testing.assert_allclose(P, [[1 / 4, 2 / 4, 1 / 4], [2 / 5, 2 / 5, 1 / 5], [1 / 3] * 3],
                               rtol=1e-6)  # fmt: skip
    assert BigramLM.from_counts([2, 0], [1, 1]).vocab_size == 3  # one more than the largest id
    with pytest.raises(InputError, match="smoothing must be a positive number"):
        BigramLM.from_counts([0], [1], smoothing=0)
    with pytest.raises(ShapeError, match="one target per id"):
        BigramLM.from_counts([0, 1], [1])


# -- inputs, outputs, round trips ---------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_check_input_takes_integer_ids_and_returns_intp(name):
    model = MODELS[name]()
    width = model.block_size if isinstance(model, MLPLM) else 3
    ids = model.check_input(np.full((2, width), 3, dtype=np.int8))
    assert ids.dtype == np.intp and ids.shape == (2, width)
    assert model.check_input(np.full((2, width), 3.0)).dtype == np.intp  # whole floats: fine
    for bad, message in [
        (np.full((2, width), 1.5), "X has non-integer values; pass integer token ids in"),
        (np.full((2, width), np.nan), "X has non-integer values"),
        (np.full((2, width), V), f"X has token id {V}; ids must be in \\[0, {V}\\)"),
        (np.full((2, width), -1), "X has token id -1"),
        (np.full((2, width), "a"), "X has dtype <U1; pass integer token ids"),
        (np.ones((2, width), dtype=bool), "X has dtype bool"),
    ]:
        with pytest.raises(InputError, match=f"^{message}"):
            model.check_input(bad)
    with pytest.raises(ShapeError):
        model.check_input(np.zeros((2, width, 1), dtype=int))


def test_context_lengths_are_checked():
    with pytest.raises(ShapeError, match="sequences of 6 tokens but block_size is 5"):
        MODELS["GPT"]().check_input(np.zeros((1, 6), dtype=int))
    with pytest.raises(ShapeError, match="windows of block_size = 3 token ids"):
        MODELS["MLPLM"]().check_input(np.zeros((1, 4), dtype=int))
    assert MODELS["BigramLM"]().check_input([1, 2, 3]).shape == (3,)  # pairs (N,) are fine
    with pytest.raises(InputError, match="norm must be one of layernorm, rmsnorm"):
        GPT(5, 4, 4, 2, 1, norm="batchnorm")
    with pytest.raises(InputError, match="mlp_activation must be one of gelu, relu"):
        GPT(5, 4, 4, 2, 1, mlp_activation="tanh")
    with pytest.raises(InputError, match="unknown activation 'swish'"):
        MLPLM(5, 2, 2, 2, activation="swish")


@pytest.mark.parametrize("name", list(MODELS))
def test_predict_and_predict_classes_give_one_answer_per_position(name, rng):
    model = MODELS[name]()
    ids, _ = batch_for(model, rng, n=5)
    logits = model.predict(ids, batch_size=2)  # three batches, joined on the first axis
    np.testing.assert_allclose(logits, model.forward(ids), rtol=1e-13)
    expected = (5, V) if isinstance(model, MLPLM) else (5, 5, V)
    assert logits.shape == expected
    np.testing.assert_array_equal(model.predict_classes(ids), logits.argmax(axis=-1))


@pytest.mark.parametrize("name", list(MODELS))
def test_save_and_load_round_trip_gives_identical_logits(name, tmp_path, rng):
    model = randomise(MODELS[name](), rng)
    model.metadata = {"tokenizer": {"chars": ".abcdef"}}
    ids, _ = batch_for(model, rng)
    model.save(tmp_path / "lm.npz")
    clone = snn.load(tmp_path / "lm.npz")
    assert type(clone) is type(model) and clone.get_config() == model.get_config()
    assert json.loads(json.dumps(model.get_config())) == model.get_config()
    np.testing.assert_array_equal(clone.forward(ids), model.forward(ids))
    assert clone.metadata == model.metadata


def test_float32_models_compute_in_float32(rng):
    for model in (GPT(V, 5, 4, 2, 1, rng=0), LSTMLM(V, 3, 4, rng=0), MLPLM(V, 3, 2, 4, rng=0)):
        ids, targets = batch_for(model, rng)
        logits = model.forward(ids)
        assert logits.dtype == np.float32, type(model).__name__
        model.backward(losses.SoftmaxCrossEntropy()(logits, targets)[1])
        assert all(g.dtype == np.float32 for _, _, g in model.parameters())


NAMES = {
    "BigramLM": ["table.W"],
    "MLPLM": ["embed.W", "fc.W", "fc.b", "head.W", "head.b"],
    "RNNLM": ["embed.W", "rnn.W_ih", "rnn.W_hh", "rnn.b_ih", "rnn.b_hh", "head.W", "head.b"],
    "LSTMLM": ["embed.W", "lstm.W_ih", "lstm.W_hh", "lstm.b_ih", "lstm.b_hh", "head.W", "head.b"],
}
BLOCK = ["norm1.gamma", "norm1.beta", "attn.Wq", "attn.Wk", "attn.Wv", "attn.Wo", "attn.bq",
         "attn.bk", "attn.bv", "attn.bo", "norm2.gamma", "norm2.beta", "fc.W", "fc.b",
         "proj.W", "proj.b"]  # fmt: skip


def test_parameter_names_say_where_each_array_lives():
    for name, expected in NAMES.items():
        assert [key for key, _, _ in MODELS[name]().parameters()] == expected, name
    blocks = [f"blocks.{i}.{key}" for i in range(2) for key in BLOCK]
    top = ["tok_emb.W", "pos_emb.W", *blocks, "norm_f.gamma", "norm_f.beta"]
    expected = [*top, "head.W", "head.b"]
    assert [key for key, _, _ in MODELS["GPT"]().parameters()] == expected
    bare = [key for key, _, _ in MODELS["GPT-rmsnorm-relu-no-bias"]().parameters()]
    assert "blocks.1.attn.Wq" in bare and not any(k.split(".")[-1].startswith("b") for k in bare)


def test_summary_lists_every_parameter_and_the_total():
    model = lm.microgpt(rng=0)
    text = model.summary()
    assert text.splitlines()[0].startswith("GPT(vocab_size=27, block_size=16, embed_dim=16")
    assert "blocks.0.attn.Wq" in text and "(16, 16)" in text and "tok_emb.W" in text
    assert text.splitlines()[-1] == "total parameters: 4,240 (float32)"


def test_microgpt_parameter_count():
    """The microgpt preset with V = 27 has 4,240 parameters, counted by hand:

    ==================  ====================  =====
    tok_emb.W           27 × 16                 432
    pos_emb.W           16 × 16                 256
    norm1.gamma         16                       16
    attn.Wq, Wk, Wv, Wo 4 × 16 × 16           1,024   (no biases)
    norm2.gamma         16                       16
    fc.W                64 × 16               1,024   (MLP width 4 · 16)
    proj.W              16 × 64               1,024
    norm_f.gamma        16                       16
    head.W              27 × 16                 432
    total                                     4,240
    ==================  ====================  =====

    (microgpt's own script has 4,192: its RMSNorms have no gain, 3 × 16 fewer.)
    """
    model = lm.microgpt(rng=0)
    assert model.num_parameters == 432 + 256 + 16 + 1024 + 16 + 1024 + 1024 + 16 + 432 == 4240
    config = model.get_config()
    assert (config["num_layers"], config["embed_dim"], config["num_heads"]) == (1, 16, 4)
    assert (config["block_size"], config["norm"], config["bias"]) == (16, "rmsnorm", False)
    assert config["mlp_activation"] == "relu"
    names = lm.gpt_names(rng=0).get_config()
    assert (names["embed_dim"], names["num_heads"], names["num_layers"], names["block_size"]) == (
        64, 4, 2, 16)  # fmt: skip


def test_gpt_starts_near_ln_v(rng):
    """GPT-2's initialisation (std 0.02) makes the initial logits nearly 0: loss ≈ ln V."""
    model = GPT(27, 16, 16, 4, 2, rng=0, dtype=np.float64)
    ids = rng.integers(0, 27, (8, 16))
    value, _ = losses.SoftmaxCrossEntropy()(model.forward(ids), rng.integers(0, 27, (8, 16)))
    assert abs(value - math.log(27)) < 0.02


# -- causality ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_changing_a_later_token_leaves_earlier_logits_unchanged(name, rng):
    """Position t is a function of x_0 .. x_t only (exactly: masked scores are -∞, their
    probabilities exactly 0, and the recurrence has not read the later tokens yet)."""
    model = randomise(MODELS[name](), rng)
    ids = rng.integers(0, V, (3, 5))
    changed = ids.copy()
    changed[:, 3] = (changed[:, 3] + 1) % V
    before, after = model.forward(ids), model.forward(changed)
    np.testing.assert_array_equal(after[:, :3], before[:, :3])
    assert np.abs(after[:, 3:] - before[:, 3:]).max() > 1e-3  # and the later ones do change


# -- sampling -----------------------------------------------------------------------------
SAMPLERS = {
    "BigramLM": lambda: BigramLM(V, rng=1),
    "MLPLM": lambda: MLPLM(V, 3, 4, 16, rng=1),
    "RNNLM": lambda: RNNLM(V, 4, 8, rng=1),
    "LSTMLM": lambda: LSTMLM(V, 4, 8, rng=1),
    "GPT": lambda: lm.GPT(V, 4, 8, 2, 1, rng=1),
}


def greedy(model, n_steps, boundary=0):
    """Greedy decoding written out with full contexts: the reference for the sampler."""
    seq = [boundary]
    for _ in range(n_steps):
        if isinstance(model, MLPLM):
            context = ([boundary] * model.block_size + seq)[-model.block_size :]
            logits = model.forward(np.array([context]))[0]
        else:
            context = seq[-model.block_size :] if model.block_size else seq
            logits = model.forward(np.array([context]))[0, -1]
        seq.append(int(logits.argmax()))
        if seq[-1] == boundary:
            break
    return seq


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_samples_start_and_stop_at_the_boundary_and_repeat_with_the_seed(name):
    model = SAMPLERS[name]()
    samples = lm.sample(model, 20, rng=0, boundary_id=2, max_len=12)
    assert samples == lm.sample(model, 20, rng=np.random.default_rng(0), boundary_id=2, max_len=12)
    assert samples != lm.sample(model, 20, rng=1, boundary_id=2, max_len=12)
    for seq in samples:
        assert seq[0] == 2 and 2 not in seq[1:-1]
        assert seq[-1] == 2 or len(seq) == 13  # ended, or max_len tokens drawn after the start
        assert all(isinstance(t, int) and 0 <= t < V for t in seq)
    assert any(seq[-1] == 2 for seq in samples) and any(len(seq) > 2 for seq in samples)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_top_k_1_and_temperature_to_0_are_greedy_decoding(name):
    model = SAMPLERS[name]()
    reference = greedy(model, 12)
    assert lm.sample(model, 3, rng=0, top_k=1, max_len=12) == [reference] * 3
    assert lm.sample(model, 3, rng=5, temperature=1e-6, max_len=12) == [reference] * 3


def test_temperature_sharpens_the_distribution_towards_the_argmax(rng):
    logits = rng.standard_normal((4, V))
    top = logits.argmax(axis=1)
    p_top = [lm.probabilities(logits, t)[np.arange(4), top] for t in (2.0, 1.0, 0.5, 0.1, 0.01)]
    assert all((a < b).all() for a, b in zip(p_top[:-1], p_top[1:]))
    softmax = snn.layers.activations.softmax
    np.testing.assert_allclose(lm.probabilities(logits, 1.0), softmax(logits))
    np.testing.assert_array_equal(lm.probabilities(logits, 1e-12), np.eye(V)[top])


def test_probabilities_are_stable_and_top_k_keeps_the_k_largest():
    huge = np.array([[1e4, -1e4, 9.9e3, 0.0], [-5e3, -5e3, -5e3, -5e3]])
    for temperature in (1e-8, 1.0, 1e8):
        P = lm.probabilities(huge, temperature)
        assert np.isfinite(P).all() and np.allclose(P.sum(axis=1), 1)
    P = lm.probabilities(np.array([[0.0, 3.0, 1.0, 2.0]]), top_k=2)
    assert (P[0, [0, 2]] == 0).all() and P[0, 1] > P[0, 3] > 0
    assert (lm.probabilities(np.zeros((1, 4)), top_k=2) > 0).sum() == 2  # ties: lower ids
    assert (lm.probabilities(np.zeros((1, 4)), top_k=9) == 0.25).all()  # k ≥ V keeps all


def test_zero_probability_tokens_are_never_drawn():
    model = SAMPLERS["BigramLM"]()
    model.table.params["W"][:, 3:] = -np.inf  # only tokens 0, 1, 2 are possible
    for seq in lm.sample(model, 200, rng=0, top_k=2, max_len=5):
        assert max(seq) <= 2


def test_the_recurrent_sampler_carries_the_state_exactly(rng):
    """One token at a time with the carried state gives the logits of re-reading the prefix."""
    for model in (SAMPLERS["RNNLM"](), SAMPLERS["LSTMLM"]()):
        model.astype(np.float64)
        ids = rng.integers(0, V, (3, 6))
        full = model.forward(ids)[:, -1]
        logits, state = lm.next_token_logits(model, ids[:, :1])
        for t in range(2, 7):
            logits, state = lm.next_token_logits(model, ids[:, :t], state=state)
        np.testing.assert_allclose(logits, full, rtol=1e-12, atol=1e-14)


def test_gpt_samples_beyond_its_block_size_with_a_cropped_context():
    model = SAMPLERS["GPT"]()  # block_size 4
    model.head.params["b"][0] = -1e3  # never end, so every sample is max_len long
    samples = lm.sample(model, 2, rng=0, max_len=10)
    assert [len(s) for s in samples] == [11, 11]


def test_sampling_arguments_are_checked():
    model = SAMPLERS["GPT"]()
    for kwargs, message in [
        ({"temperature": 0}, "temperature must be a positive number, got 0"),
        ({"temperature": -1.0}, "temperature must be a positive number"),
        ({"temperature": float("nan")}, "temperature must be a positive number"),
        ({"top_k": 0}, "top_k must be a positive integer, got 0"),
        ({"top_k": 2.5}, "top_k must be a positive integer"),
        ({"boundary_id": V}, f"boundary_id {V} is not a token id; ids are in \\[0, {V}\\)"),
        ({"max_len": 0}, "max_len must be a positive integer"),
    ]:
        with pytest.raises(InputError, match=f"^{message}"):
            lm.sample(model, 2, rng=0, **kwargs)
