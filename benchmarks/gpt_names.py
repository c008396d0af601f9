"""Race the scratchnn GPT against its PyTorch twin on the names, in one process (issue 14).

The reference configuration is what ``scratchnn train --dataset names --model gpt`` runs:
a GPT of 64-wide embeddings, 4 heads, 2 blocks and a context of 16 (104,603 parameters),
float32, trained 6 epochs × 500 steps of 32 random 16-character windows of the training
names joined by ``.``, with Adam (lr 3e-3, betas 0.9/0.999, eps 1e-8) warmed up linearly
over 100 steps, then decayed by half a cosine to 10 % of the rate. Both libraries

- start from the *same initial weights* (scratchnn's, copied into the twin),
- see the *same batches in the same order*: the command's own training windows and the
  permutations of its ``"shuffle"`` stream, one per epoch, as ``fit`` draws them
  (:func:`scratchnn.experiments.prepare_language_experiment`),
- take each step with the *same learning rate* (:class:`scratchnn.schedules.WarmupCosineLR`).

They take turns every ``--chunk`` steps (50), in ABBA order, so that a busy shared machine
slows both alike; a few warm-up steps on throw-away copies come first and are not timed.
What is timed is each library's training steps: the batch gather, forward, loss, backward
and the Adam step (scratchnn's :func:`scratchnn.loop.train_step`, PyTorch's usual loop with
``F.cross_entropy``, ``zero_grad``, ``backward`` and ``step``). Reported: seconds per step of
each, their ``ratio`` (scratchnn / PyTorch; below 1 scratchnn is faster), and both
validation losses over whole names in nats per character
(:func:`scratchnn.experiments.name_loss`; the twin's with ``F.cross_entropy``), the unit of
``scratchnn train``'s ``val_loss``. The quality bar of the issue: scratchnn's validation
loss at most 2.12 and within 0.02 of its twin's.

    python benchmarks/gpt_names.py                      # the reference run, a few minutes
    python benchmarks/gpt_names.py --json               # last line: one JSON object
    python benchmarks/gpt_names.py --models all --markdown-file docs/benchmarks.md  # every model: the table
    python benchmarks/gpt_names.py --smoke --json       # tiny, for the tests

``--models all`` races every language model of ``scratchnn train --dataset names`` (bigram,
mlp, rnn, lstm, gpt), each with its own defaults, against a twin trained the same way
(``nn.Embedding``, ``nn.Linear``, ``nn.RNN``, ``nn.LSTM`` with the same weights), and
reports each one's test loss and training time.

Threads (``--threads``, 1 by default: these tensors hold a few thousand numbers, where a
second thread mostly adds synchronisation, and on a busy 2-core machine much more) are
fixed before NumPy or PyTorch is imported (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``), then enforced with threadpoolctl and ``torch.set_num_threads``. The
machine is printed: CPU, NumPy's BLAS and its kernels, PyTorch's CPU capability, threads
and the load average. Data: ``--data-dir``, else ``$SCRATCHNN_DATA/names`` or the cache.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
from typing import Any

from _machine import (
    blas_limiter,
    cpu_type,
    limit_threads,
    load_average,
    machine,
    one_line,
    replace_block,
)

MODELS = ("bigram", "mlp", "rnn", "lstm", "gpt")
#: The issue's quality bar for the reference GPT.
MAX_VAL_LOSS, MAX_DIFFERENCE = 2.12, 0.02
README_START = "<!-- benchmarks/gpt_names.py: start -->"
README_END = "<!-- benchmarks/gpt_names.py: end -->"
#: A tiny configuration per model for --smoke: every code path, no meaningful numbers.
SMOKE = {
    "gpt": {"embed_dim": 16, "num_layers": 1, "steps_per_epoch": 10, "epochs": 2},
    "rnn": {"embed_dim": 8, "hidden": [16], "steps_per_epoch": 10, "epochs": 2},
    "lstm": {"embed_dim": 8, "hidden": [16], "steps_per_epoch": 10, "epochs": 2},
    "mlp": {"embed_dim": 4, "hidden": [16], "batch_size": 4096, "epochs": 1},
    "bigram": {"batch_size": 8192, "epochs": 1},
}


# -- set-up -------------------------------------------------------------------------------


def machine_description(threads: int) -> dict[str, Any]:
    """CPU, NumPy's BLAS and kernels, PyTorch and its CPU capability (benchmarks/_machine.py)."""
    import torch  # noqa: F401  (so that machine() describes it)

    return machine(threads)


def describe_machine(m: dict[str, Any]) -> str:
    return f"{one_line(m)}; CPU type: {cpu_type(m)}"


# -- the twins ------------------------------------------------------------------------------
def torch_twin(model: Any) -> Any:
    """A ``torch.nn.Module`` computing the same logits as ``model``, from its weights."""
    import torch
    import torch.nn.functional as F

    from scratchnn.models.lm import GPT, LSTMLM, MLPLM, RNNLM, BigramLM

    def param(array: Any) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.tensor(array))

    class Twin(torch.nn.Module):
        """Our parameters under our names (``blocks.0.attn.Wq`` as ``blocks_0_attn_Wq``)."""

        def __init__(self) -> None:
            super().__init__()
            for name, p, _ in model.parameters():
                self.register_parameter(name.replace(".", "_"), param(p))

        def p(self, name: str) -> torch.Tensor:
            return getattr(self, name.replace(".", "_"))

    class GPTTwin(Twin):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            N, T = ids.shape
            C, H, p = model.embed_dim, model.num_heads, self.p

            def heads(Z: torch.Tensor) -> torch.Tensor:
                return Z.reshape(N, T, H, C // H).transpose(1, 2)

            X = p("tok_emb.W")[ids] + p("pos_emb.W")[:T]
            for i in range(model.num_layers):
                b = f"blocks.{i}"
                h = F.layer_norm(X, (C,), p(f"{b}.norm1.gamma"), p(f"{b}.norm1.beta"), eps=1e-5)
                q, k, v = (
                    heads(F.linear(h, p(f"{b}.attn.W{c}"), p(f"{b}.attn.b{c}"))) for c in "qkv"
                )
                A = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                A = A.transpose(1, 2).reshape(N, T, C)
                X = X + F.linear(A, p(f"{b}.attn.Wo"), p(f"{b}.attn.bo"))
                h = F.layer_norm(X, (C,), p(f"{b}.norm2.gamma"), p(f"{b}.norm2.beta"), eps=1e-5)
                h = F.gelu(F.linear(h, p(f"{b}.fc.W"), p(f"{b}.fc.b")), approximate="tanh")
                X = X + F.linear(h, p(f"{b}.proj.W"), p(f"{b}.proj.b"))
            X = F.layer_norm(X, (C,), p("norm_f.gamma"), p("norm_f.beta"), eps=1e-5)
            return F.linear(X, p("head.W"), p("head.b"))

    class RecurrentTwin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            state = dict(model.state_dict())
            cell = "rnn" if isinstance(model, RNNLM) else "lstm"
            layer = torch.nn.RNN if cell == "rnn" else torch.nn.LSTM
            self.embed = torch.nn.Embedding(model.vocab_size, model.embed_dim)
            self.rnn = layer(model.embed_dim, model.hidden_size, batch_first=True)
            self.head = torch.nn.Linear(model.hidden_size, model.vocab_size)
            with torch.no_grad():
                self.embed.weight.copy_(torch.tensor(state["embed.W"]))
                for ours, theirs in (("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"),
                                     ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):  # fmt: skip
                    getattr(self.rnn, theirs).copy_(torch.tensor(state[f"{cell}.{ours}"]))
                self.head.weight.copy_(torch.tensor(state["head.W"]))
                self.head.bias.copy_(torch.tensor(state["head.b"]))

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.embed(ids))[0])

    class MLPTwin(Twin):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            p = self.p
            X = p("embed.W")[ids].flatten(1)
            A = getattr(torch, model.activation)(F.linear(X, p("fc.W"), p("fc.b")))
            return F.linear(A, p("head.W"), p("head.b"))

    class BigramTwin(Twin):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.p("table.W")[ids]

    if isinstance(model, GPT):
        return GPTTwin()
    if isinstance(model, (RNNLM, LSTMLM)):
        return RecurrentTwin()
    if isinstance(model, MLPLM):
        if model.activation not in ("tanh", "relu", "sigmoid"):
            raise SystemExit(f"no twin for the MLP's {model.activation} activation")
        return MLPTwin()
    if isinstance(model, BigramLM):
        return BigramTwin()
    raise SystemExit(f"no PyTorch twin for {type(model).__name__}")


def torch_name_loss(twin: Any, model: Any, names: list[str], tokenizer: Any) -> float:
    """The twin's loss over whole names in nats per character, as ``name_loss`` computes it."""
    import torch
    import torch.nn.functional as F

    from scratchnn.datasets import encode_batch, joined_stream, windows
    from scratchnn.models.lm import MLPLM, BigramLM

    total, count = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(names), 512):
            chunk = names[first : first + 512]
            if isinstance(model, MLPLM):
                X, Y = windows(chunk, tokenizer, model.block_size)
            elif isinstance(model, BigramLM):
                stream = joined_stream(chunk, tokenizer)
                X, Y = stream[:-1], stream[1:]
            else:
                batch = encode_batch(chunk, tokenizer)
                X, Y = batch.inputs, batch.targets
                block = getattr(model, "block_size", None)
                if block is not None and X.shape[1] > block:
                    raise SystemExit(f"a name is longer than the GPT's context {block}")
            logits = twin(torch.from_numpy(X)).double()
            targets = torch.from_numpy(Y).reshape(-1)
            total += float(
                F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), targets, ignore_index=-1, reduction="sum"
                )
            )
            count += int((targets >= 0).sum())
    return total / count


# -- racing ---------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def race(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one model and its twin on the same batches, taking turns; time both, score both."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from scratchnn import experiments
    from scratchnn.loop import epoch_order, train_step
    from scratchnn.losses import SoftmaxCrossEntropy
    from scratchnn.optimizers import Adam

    options: dict[str, Any] = {"dataset": "names", "model": name, "seed": args.seed}
    if args.data_dir:
        options["data_dir"] = args.data_dir
    if args.smoke:
        options.update(SMOKE[name])
        options["warmup_steps"] = 2
    config = experiments.resolve_config(options)
    experiment = experiments.prepare_language_experiment(config)
    model, data = experiment.model, experiment.data
    X, Y = experiment.X_train, experiment.Y_train
    X_t, Y_t = torch.from_numpy(X), torch.from_numpy(Y)
    batch, epochs = int(config["batch_size"]), int(config["epochs"])
    steps_per_epoch, total = experiment.steps_per_epoch, experiment.total_steps
    schedule = experiments.make_step_schedule(config, total)
    base_lr = float(config["lr"])
    V = data.tokenizer.vocab_size
    loss = SoftmaxCrossEntropy()

    def scratchnn_steps(net: Any, optimizer: Any, batches: list[tuple[int, Any]]) -> float:
        start = time.perf_counter()
        for step, idx in batches:
            optimizer.lr = schedule.lr_at(step, base_lr)
            train_step(net, loss, optimizer, X[idx], Y[idx])
        return time.perf_counter() - start

    def torch_steps(net: Any, optimizer: Any, batches: list[tuple[int, Any]]) -> float:
        start = time.perf_counter()
        for step, idx in batches:
            for group in optimizer.param_groups:
                group["lr"] = schedule.lr_at(step, base_lr)
            index = torch.from_numpy(idx)
            logits = net(X_t.index_select(0, index))
            value = F.cross_entropy(logits.reshape(-1, V), Y_t.index_select(0, index).reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
        return time.perf_counter() - start

    def torch_adam(net: Any) -> Any:
        return torch.optim.Adam(net.parameters(), lr=base_lr, betas=(0.9, 0.999), eps=1e-8)

    # warm-up on throw-away copies: allocator, thread pools, first-call costs
    warm_order = np.random.default_rng(12345).permutation(len(X))
    warm = [(s, warm_order[s * batch : (s + 1) * batch]) for s in range(args.warmup_steps)]
    warm_model = copy.deepcopy(model)
    warm_twin = torch_twin(warm_model)
    scratchnn_steps(warm_model, Adam(lr=base_lr), warm)
    torch_steps(warm_twin, torch_adam(warm_twin), warm)

    twin = torch_twin(model)
    ours, theirs = Adam(lr=base_lr), torch_adam(twin)
    # fit's batches: one permutation per epoch from the "shuffle" stream, in batch_size slices
    rng = experiments.rng_for(int(config["seed"]), "shuffle")
    order = [epoch_order(len(X), True, rng) for _ in range(epochs)]
    schedule_of_batches = [
        (e * steps_per_epoch + b, order[e][b * batch : (b + 1) * batch])
        for e in range(epochs)
        for b in range(steps_per_epoch)
    ]
    seconds = {"scratchnn": 0.0, "torch": 0.0}
    load_start = load_average()
    for k, first in enumerate(range(0, total, args.chunk)):
        chunk = schedule_of_batches[first : first + args.chunk]
        runs = [
            ("scratchnn", lambda c=chunk: scratchnn_steps(model, ours, c)),
            ("torch", lambda c=chunk: torch_steps(twin, theirs, c)),
        ]
        if k % 2 == 1:
            runs.reverse()  # ABBA: neither library always runs right after the other
        for library, run in runs:
            seconds[library] += run()
        done = first + len(chunk)
        if done % max(args.chunk, total // 6) < args.chunk or done == total:
            log(
                f"  {name}: step {done:,}/{total:,}: scratchnn {1000 * seconds['scratchnn'] / done:.2f} "
                f"ms/step, torch {1000 * seconds['torch'] / done:.2f} ms/step"
            )
    twin.eval()
    known_val, _ = data.tokenizer.known(data.val)
    known_test, _ = data.tokenizer.known(data.test)
    result = {
        "model": name,
        "parameters": model.num_parameters,
        "steps": total,
        "batch_size": batch,
        "scratchnn_s_per_step": seconds["scratchnn"] / total,
        "torch_s_per_step": seconds["torch"] / total,
        "ratio": seconds["scratchnn"] / seconds["torch"],
        "scratchnn_train_seconds": seconds["scratchnn"],
        "torch_train_seconds": seconds["torch"],
        "scratchnn_val_loss": experiments.name_loss(model, known_val, data.tokenizer)[0],
        "torch_val_loss": torch_name_loss(twin, model, known_val, data.tokenizer),
        "scratchnn_test_loss": experiments.name_loss(model, known_test, data.tokenizer)[0],
        "torch_test_loss": torch_name_loss(twin, model, known_test, data.tokenizer),
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }
    result["val_loss_difference"] = result["scratchnn_val_loss"] - result["torch_val_loss"]
    log(
        f"  {name}: val loss scratchnn {result['scratchnn_val_loss']:.4f}, torch "
        f"{result['torch_val_loss']:.4f}; test loss {result['scratchnn_test_loss']:.4f} / "
        f"{result['torch_test_loss']:.4f}; ratio {result['ratio']:.2f}"
    )
    return result


# -- reporting ------------------------------------------------------------------------------
def verdict(gpt: dict[str, Any]) -> dict[str, Any]:
    """The issue's quality bar for the GPT, with the measured values."""
    below = gpt["scratchnn_val_loss"] <= MAX_VAL_LOSS
    close = abs(gpt["val_loss_difference"]) <= MAX_DIFFERENCE
    return {
        "max_val_loss": MAX_VAL_LOSS,
        "max_difference": MAX_DIFFERENCE,
        "val_loss_met": below,
        "difference_met": close,
        "met": below and close,
    }


def markdown(results: list[dict[str, Any]], machine: dict[str, Any], command: str) -> str:
    """The README section: command, machine, one row per model."""
    lines = [
        README_START,
        "<!-- generated by the command below; regenerate it (--markdown-file docs/benchmarks.md), do not edit -->",
        f"Command: `{command}`",
        "",
        f"Machine: {describe_machine(machine)}; {machine['threads']} thread(s) each; 1-minute "
        f"load average {results[0]['load_average_start']:.1f} at the start (other processes "
        "share the machine).",
        "",
        "Each model with the defaults of `scratchnn train --dataset names --model NAME`, "
        "against a PyTorch twin from the same initial weights on the same batches with the "
        "same learning rate at every step, the two taking turns in one process. Losses over "
        "whole test names (3,217, split by name), nats per character; time: the training "
        "steps alone. Ratio = scratchnn / PyTorch (below 1: scratchnn is faster).",
        "",
        "| model | parameters | steps × batch | test loss scratchnn | test loss PyTorch | "
        "training s scratchnn | training s PyTorch | ms/step scratchnn | ms/step PyTorch | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['parameters']:,} | {r['steps']:,} × {r['batch_size']} | "
            f"{r['scratchnn_test_loss']:.4f} | {r['torch_test_loss']:.4f} | "
            f"{r['scratchnn_train_seconds']:.1f} | {r['torch_train_seconds']:.1f} | "
            f"{1000 * r['scratchnn_s_per_step']:.2f} | {1000 * r['torch_s_per_step']:.2f} | "
            f"**{r['ratio']:.2f}** |"
        )
    gpt = next((r for r in results if r["model"] == "gpt"), None)
    if gpt is not None:
        bar = verdict(gpt)
        lines += [
            "",
            f"The GPT's validation loss: scratchnn {gpt['scratchnn_val_loss']:.4f}, PyTorch "
            f"{gpt['torch_val_loss']:.4f} nats per character (difference "
            f"{gpt['val_loss_difference']:+.4f}); the bar of issue 14, at most {MAX_VAL_LOSS} "
            f"and within {MAX_DIFFERENCE} of the twin, is {'met' if bar['met'] else 'NOT met'}.",
        ]
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(path: str, section: str) -> None:
    """Replace the generated section of ``path`` (between the two markers), atomically."""
    replace_block(path, section, README_START, README_END)


# -- command line ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="names.txt or its directory (default $SCRATCHNN_DATA)")
    parser.add_argument(
        "--models",
        default="gpt",
        help="comma-separated models to race, or 'all' (bigram,mlp,rnn,lstm,gpt); default gpt",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads for each library (1)")
    parser.add_argument("--chunk", type=int, default=50, help="steps per turn (50)")
    parser.add_argument("--warmup-steps", type=int, default=10, help="untimed steps first (10)")
    parser.add_argument("--seed", type=int, default=0, help="the run's --seed (0)")
    parser.add_argument("--json", action="store_true", help="end with a one-line JSON summary")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table section (markdown)"
    )
    parser.add_argument(
        "--markdown-file",
        "--readme",  # the old name, from when the tables lived in README.md
        dest="readme",
        metavar="PATH",
        help="also write the table section into the markdown file PATH, in place, between "
        "its marker comments (the tables live in docs/benchmarks.md)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny models and runs (no meaningful numbers)"
    )
    args = parser.parse_args(argv)
    names = list(MODELS) if args.models == "all" else args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    args.model_list = names
    for name in ("threads", "chunk"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup_steps < 0:
        parser.error("--warmup-steps must be 0 or more")
    if args.smoke:
        args.chunk, args.warmup_steps = min(args.chunk, 5), min(args.warmup_steps, 2)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit_threads(args.threads)  # before NumPy and torch load their thread pools
    try:
        import torch
    except ImportError:
        raise SystemExit("this benchmark races PyTorch: pip install torch==2.13.0") from None
    torch.set_num_threads(args.threads)
    _limiter = blas_limiter(args.threads)  # after the imports: it limits the loaded libraries
    from scratchnn.errors import ScratchnnError

    machine = machine_description(args.threads)
    command = "python benchmarks/gpt_names.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    print(f"scratchnn vs PyTorch, language models on names ({command.strip()})")
    print(f"machine: {describe_machine(machine)}; {args.threads} thread(s) each")
    try:
        results = [race(name, args) for name in args.model_list]
    except ScratchnnError as exc:  # e.g. no names.txt: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"\n{'model':<7} {'params':>8} {'steps':>6} {'ms/step ours':>12} {'ms/step torch':>13} "
        f"{'ratio':>5} {'val ours':>8} {'val torch':>9} {'test ours':>9} {'test torch':>10}"
    )
    for r in results:
        print(
            f"{r['model']:<7} {r['parameters']:>8,} {r['steps']:>6,} "
            f"{1000 * r['scratchnn_s_per_step']:>12.2f} {1000 * r['torch_s_per_step']:>13.2f} "
            f"{r['ratio']:>5.2f} {r['scratchnn_val_loss']:>8.4f} {r['torch_val_loss']:>9.4f} "
            f"{r['scratchnn_test_loss']:>9.4f} {r['torch_test_loss']:>10.4f}"
        )
    gpt = next((r for r in results if r["model"] == "gpt"), None)
    if gpt is not None:
        bar = verdict(gpt)
        print(
            f"\nGPT: validation loss {gpt['scratchnn_val_loss']:.4f} (bar {MAX_VAL_LOSS}: "
            f"{'met' if bar['val_loss_met'] else 'NOT met'}), {gpt['val_loss_difference']:+.4f} "
            f"from PyTorch's {gpt['torch_val_loss']:.4f} (bar ±{MAX_DIFFERENCE}: "
            f"{'met' if bar['difference_met'] else 'NOT met'})"
            + (" -- smoke run, numbers meaningless" if args.smoke else "")
        )
    section = markdown(results, machine, command.strip())
    if args.markdown:
        print()
        print(section)
    if args.readme:
        update_readme(args.readme, section)
        log(f"wrote the benchmark section of {args.readme}")
    if args.json:
        head = gpt if gpt is not None else results[0]
        summary = {
            **head,
            "smoke": args.smoke,
            "quality_bar": verdict(gpt) if gpt is not None else None,
            "machine": machine,
            "command": command.strip(),
            "models": results,
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
