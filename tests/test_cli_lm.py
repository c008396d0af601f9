"""The language models on the command line: ``train --dataset names``, ``sample``, ``evaluate --input``.

Every run trains a tiny model for a few steps on a small names file written here (not the
real 32,033 names), through ``scratchnn.cli.main`` as a user types it.
"""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scratchnn as snn
from scratchnn import cli, experiments
from scratchnn.datasets import CharTokenizer, load_names, split_names
from scratchnn.io import read_npz
from scratchnn.models.lm import GPT
from scratchnn.models.lm.sampling import next_token_logits
from scratchnn.schedules import WarmupCosineLR
from scratchnn.training import CHECKPOINT_FILE, load_checkpoint

TIMING = {"train_seconds", "seconds_per_step"}
QUIET = ["--verbose", "0", "--no-plots"]
#: Tiny versions of each model, a few steps each.
TINY = {
    "gpt": ["--embed-dim", "8", "--num-heads", "2", "--num-layers", "1", "--block-size", "8",
            "--steps-per-epoch", "3", "--epochs", "2", "--batch-size", "8", "--warmup-steps", "2"],
    "rnn": ["--embed-dim", "4", "--hidden", "8", "--block-size", "8", "--steps-per-epoch", "3",
            "--epochs", "2", "--batch-size", "8", "--warmup-steps", "2"],
    "lstm": ["--embed-dim", "4", "--hidden", "8", "--block-size", "8", "--steps-per-epoch", "3",
             "--epochs", "2", "--batch-size", "8", "--warmup-steps", "2"],
    "mlp": ["--embed-dim", "4", "--hidden", "8", "--block-size", "3", "--epochs", "2",
            "--batch-size", "512", "--warmup-steps", "1"],
    "bigram": ["--epochs", "2", "--batch-size", "512", "--warmup-steps", "1"],
}  # fmt: skip


def main(*args) -> int:
    return cli.main([str(a) for a in args])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scratchnn: error: "), err
    return err[0]


@pytest.fixture(scope="module")
def names_file(tmp_path_factory) -> Path:
    """400 made-up names of 2 to 12 letters (some longer than the tiny GPT's context)."""
    rng = np.random.default_rng(0)
    syllables = ["an", "el", "ma", "ri", "to", "sa", "li", "no", "ka", "be", "da", "vi"]
    names = {"".join(rng.choice(syllables, size=rng.integers(1, 7))) for _ in range(600)}
    path = tmp_path_factory.mktemp("names") / "names.txt"
    path.write_text("\n".join(sorted(names)[:400]) + "\n", encoding="utf-8")
    return path


def train(names_file: Path, out: Path, model: str, *extra) -> int:
    return main("train", "--dataset", "names", "--data-dir", names_file, "--model", model,
                *TINY[model], "--out", out, *extra)  # fmt: skip


@pytest.fixture(scope="module")
def gpt_run(names_file, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "gpt"
    assert train(names_file, run, "gpt", "--verbose", "0") == 0
    return run


# -- training every model -----------------------------------------------------------------
@pytest.mark.parametrize("model", ["gpt", "rnn", "lstm", "mlp", "bigram"])
def test_train_each_language_model_writes_the_run_folder(names_file, tmp_path, model):
    run = tmp_path / model
    plots = [] if model in ("gpt", "bigram") else ["--no-plots"]
    assert train(names_file, run, model, "--verbose", "0", *plots) == 0
    files = {p.name for p in run.iterdir()}
    expected = {"config.json", "history.csv", "metrics.json", "model.npz", CHECKPOINT_FILE}
    expected.add("samples.txt")
    if not plots:
        expected |= {"curves.png"} | ({"attention.png"} if model == "gpt" else set())
    assert files == expected
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert metrics["status"] == "complete" and metrics["model"] == config["model"] == model
    assert metrics["loss_unit"] == "nats per character"
    assert config["dataset"] == "names" and config["split_seed"] == 0
    # the two losses, one unit: whole names of the split, recomputed from the saved model
    loaded = snn.load(run / "model.npz")
    tokenizer = CharTokenizer.from_config(loaded.metadata["tokenizer"])
    _, val, test = split_names(load_names(names_file), seed=0, fractions=(0.8, 0.1, 0.1))
    assert metrics["val_loss"] == experiments.name_loss(loaded, val, tokenizer)[0]
    assert metrics["test_loss"] == experiments.name_loss(loaded, test, tokenizer)[0]
    assert metrics["test_characters"] == sum(len(n) + 1 for n in test)
    assert 0 < metrics["test_loss"] < 2 * metrics["uniform_loss"]
    assert metrics["uniform_loss"] == pytest.approx(math.log(tokenizer.vocab_size))
    history = pd.read_csv(run / "history.csv")
    assert len(history) == 2 and history["val_loss"].iloc[-1] == metrics["val_loss"]
    assert metrics["steps"] == 2 * metrics["steps_per_epoch"]
    # 20 names sampled into samples.txt, each made of the training characters
    samples = (run / "samples.txt").read_text().splitlines()
    assert len(samples) == 20 and all(set(s) <= set(tokenizer.itos[1:]) for s in samples)
    if not plots:
        for png in run.glob("*.png"):
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_the_gpt_learning_rate_moves_every_step(gpt_run):
    """warmup_cosine per step: the History's lr is the rate of each epoch's last step."""
    config = json.loads((gpt_run / "config.json").read_text())
    history = pd.read_csv(gpt_run / "history.csv")
    schedule = WarmupCosineLR(config["warmup_steps"], 6, config["min_lr_ratio"])
    assert history["lr"].tolist() == [schedule.lr_at(s, config["lr"]) for s in (2, 5)]


def test_the_reference_gpt_is_the_default_configuration():
    config = experiments.resolve_config({"dataset": "names"})
    assert config["model"] == "gpt"
    assert {k: config[k] for k in ("embed_dim", "num_heads", "num_layers", "block_size")} == {
        "embed_dim": 64,
        "num_heads": 4,
        "num_layers": 2,
        "block_size": 16,
    }
    assert (config["batch_size"], config["lr"], config["dtype"]) == (32, 3e-3, "float32")
    assert (config["lr_schedule"], config["warmup_steps"], config["min_lr_ratio"]) == (
        "warmup_cosine",
        100,
        0.1,
    )
    assert config["epochs"] * config["steps_per_epoch"] == 3000


def test_the_bigram_loss_is_nats_per_character_of_whole_names(names_file, tmp_path):
    """The unit, checked by hand: -ln p(b | a) over every pair of ".name.", averaged."""
    run = tmp_path / "bigram"
    assert train(names_file, run, "bigram", *QUIET) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    model = snn.load(run / "model.npz")
    tokenizer = CharTokenizer.from_config(model.metadata["tokenizer"])
    W = model.table.params["W"].astype(np.float64)
    log_p = W - np.log(np.exp(W).sum(axis=1, keepdims=True))
    _, _, test = split_names(load_names(names_file), seed=0,
                             fractions=(0.8, 0.1, 0.1))  # fmt: skip
    nll = [
        -log_p[a, b]
        for name in test
        for a, b in zip([0, *tokenizer.encode(name)], [*tokenizer.encode(name), 0])
    ]
    assert metrics["test_loss"] == pytest.approx(np.mean(nll), rel=1e-12)


def test_name_loss_reads_names_longer_than_the_context_as_sampling_does():
    """A GPT with a context of 4 scores an 8-letter name from the last 4 tokens each time."""
    names = ["abcabcab", "ab", "cabbacab", "a"]
    tokenizer = CharTokenizer.fit(names)
    model = GPT(tokenizer.vocab_size, 4, 8, 2, 1, rng=0, dtype=np.float64)
    loss, count = experiments.name_loss(model, names, tokenizer)
    nll = []
    for name in names:
        ids = [0, *tokenizer.encode(name), 0]
        for t in range(1, len(ids)):
            logits, _ = next_token_logits(model, np.array([ids[:t]]))
            z = logits[0] - logits[0].max()
            nll.append(np.log(np.exp(z).sum()) - z[ids[t]])
    assert count == len(nll) == sum(len(n) + 1 for n in names)
    assert loss == pytest.approx(np.mean(nll), rel=1e-12)


# -- sample -------------------------------------------------------------------------------
def test_sample_is_deterministic_and_repeats_samples_txt(gpt_run, capsys):
    assert main("sample", gpt_run) == 0
    assert capsys.readouterr().out == (gpt_run / "samples.txt").read_text()
    outputs = []
    for seed in (3, 3, 4):
        assert main("sample", gpt_run, "-n", 8, "--seed", seed, "--temperature", 0.7) == 0
        outputs.append(capsys.readouterr().out.splitlines())
    assert outputs[0] == outputs[1] != outputs[2] and len(outputs[0]) == 8
    assert main("sample", gpt_run / "model.npz", "-n", 3, "--top-k", 1) == 0
    greedy = capsys.readouterr().out.splitlines()
    assert len(set(greedy)) == 1  # top-1: the likeliest name, every time


@pytest.mark.parametrize("temperature", ["0", "-1", "nan", "inf"])
def test_a_bad_temperature_is_a_one_line_error(gpt_run, capsys, temperature):
    assert main("sample", gpt_run, "--temperature", temperature) == 2
    assert "--temperature must be a positive number" in one_error_line(capsys)


# -- evaluate --input ---------------------------------------------------------------------
def test_evaluate_scores_a_file_of_names_and_unknown_characters(gpt_run, tmp_path, capsys):
    names = tmp_path / "some.txt"
    names.write_text("anel\nmari\n\nzoë\ntosa\n", encoding="utf-8")
    assert main("evaluate", "--model", gpt_run, "--input", names) == 2
    line = one_error_line(capsys)
    assert "name 'zoë' (number 3) has the character 'z'" in line and "--skip-unknown" in line
    output = tmp_path / "scores.json"
    assert main("evaluate", "--model", gpt_run, "--input", names, "--skip-unknown",
                "--output", output) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(output.read_text())
    model = snn.load(gpt_run / "model.npz")
    tokenizer = CharTokenizer.from_config(model.metadata["tokenizer"])
    loss, count = experiments.name_loss(model, ["anel", "mari", "tosa"], tokenizer)
    assert (report["names"], report["skipped"], report["characters"]) == (3, 1, count)
    assert report["loss"] == loss and report["loss_unit"] == "nats per character"
    assert report["bits_per_character"] == pytest.approx(loss / math.log(2))


# -- one-line errors ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def circle_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "circle"
    assert main("train", "--dataset", "circle", "--n", 200, "--epochs", 1, "--out", run,
                *QUIET) == 0  # fmt: skip
    return run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--dataset", "names", "--data-dir", "{tmp}/nowhere"], "nowhere"),
        (["train", "--dataset", "names", "--data-dir", "{tmp}"], "no names.txt here"),
        (["train", "--dataset", "circle", "--model", "gpt"],
         "--model gpt is a language model, for text (--dataset names); for circle choose"),
        (["train", "--dataset", "names", "--model", "cnn"], "--model cnn is not a language model"),
        (["train", "--dataset", "names", "--model", "gpt", "--hidden", "8"],
         "--hidden does not apply to --model gpt"),
        (["train", "--dataset", "circle", "--num-heads", "2"],
         "--num-heads is an option of the language models"),
        (["sample", "{circle}"], "not a language model (a Sequential trained on circle)"),
        (["evaluate", "--model", "{circle}", "--input", "{names}"], "not a language model"),
        (["evaluate", "--model", "{gpt}", "--dataset", "circle"], "pass --input FILE"),
        (["predict", "--model", "{gpt}", "--input", "{names}"], "draw names with 'scratchnn sample"),
        (["compare", "--dataset", "names"], "names is text, for the language models"),
        (["sample", "{tmp}"], "a directory without model.npz or checkpoint.npz"),
        (["train", "--resume", "{gpt}", "--epochs", "3"], "cosine decay planned for 2 epochs"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_errors(
    args, message, tmp_path, capsys, gpt_run, circle_run, names_file
):
    paths = {"tmp": tmp_path, "circle": circle_run, "gpt": gpt_run, "names": names_file}
    assert main(*[a.format(**paths) for a in args]) == 2
    assert message in one_error_line(capsys)


# -- exact resume -------------------------------------------------------------------------
class SignalAt(snn.Callback):
    """Send SIGINT to this process after ``step`` training steps, as Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def on_batch_end(self, batch, logs):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def assert_same_runs(a: Path, b: Path) -> None:
    """Bit-identical weights, History (but seconds), metrics (but timings), samples, config."""
    _, arrays_a = read_npz(a / "model.npz")
    _, arrays_b = read_npz(b / "model.npz")
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key, strict=True)
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "history.csv").drop(columns="seconds"),
        pd.read_csv(b / "history.csv").drop(columns="seconds"),
        check_exact=True,
    )
    metrics_a, metrics_b = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    assert {k: v for k, v in metrics_a.items() if k not in TIMING} == {
        k: v for k, v in metrics_b.items() if k not in TIMING
    }
    for name in ("samples.txt", "config.json"):
        assert (a / name).read_text() == (b / name).read_text(), name


def test_an_interrupted_gpt_run_resumes_exactly(names_file, tmp_path, monkeypatch, capsys):
    """Ctrl-C after step 4 (in epoch 2 of 3-step epochs), then --resume: the straight run."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert train(names_file, straight, "gpt", *QUIET) == 0
    real = experiments.run_training
    with monkeypatch.context() as patch:
        patch.setattr(
            experiments,
            "run_training",
            lambda config, out, **kw: real(config, out, callbacks=[SignalAt(4)], **kw),
        )
        assert train(names_file, stopped, "gpt", *QUIET) == 130
    err = capsys.readouterr().err
    assert f"training stopped by SIGINT at epoch 2, batch 1; the checkpoint and the results so far are in {stopped}" in err  # fmt: skip
    metrics = json.loads((stopped / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["steps"] == 4
    assert load_checkpoint(stopped).in_epoch == 2
    assert main("train", "--resume", stopped, "--verbose", "2", "--no-plots") == 0
    out = capsys.readouterr().out
    assert f"resuming {stopped / CHECKPOINT_FILE} at epoch 2 of 2, step 2 of 3" in out
    assert "epoch 2/2: loss" in out and "val_loss" in out and "epoch 1/2" not in out
    assert_same_runs(straight, stopped)
