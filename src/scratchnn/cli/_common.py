"""Options shared by the commands that train (``train``, ``compare``, and later ``vae``).

Each ``add_*`` function adds one group of options to a subcommand's parser;
:func:`config_from_args` turns the parsed options into the resolved configuration dict of
:func:`scratchnn.experiments.resolve_config` (dataset defaults filled in). Options left out
on the command line are ``None`` here, so that a dataset's own default applies.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import experiments
from .._threads import limit_blas_threads
from ..errors import TrainingInterrupted
from ..training.checkpoint import CHECKPOINT_FILE

__all__ = [
    "COMMON_OPTIONS",
    "Parser",
    "add_data_arguments",
    "add_model_arguments",
    "add_old_spelling",
    "add_output_arguments",
    "add_training_arguments",
    "config_from_args",
    "fraction",
    "hidden_sizes",
    "interrupted",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "resume_command",
]


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """``" (did you mean 'mlp'?)"`` for the closest of ``candidates``, else ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Parser(argparse.ArgumentParser):
    """``argparse``'s parser, with "did you mean" for unknown options and choices.

    Every subcommand's parser is one (``add_subparsers(parser_class=Parser)``), so that an
    error shows the subcommand's own usage: see :func:`unknown_arguments`.
    """

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            names = [str(c) for c in choices]
            raise argparse.ArgumentError(
                action,
                f"invalid choice: {value!r}{did_you_mean(str(value), names)}; choose from "
                + ", ".join(names),
            )

    def unknown_arguments(self, extras: Sequence[str]) -> None:
        """Exit with this parser's usage and one line naming the first unknown argument."""
        known = [o for a in self._actions for o in a.option_strings if o not in _HIDDEN]
        first = extras[0]
        if first.startswith("-"):
            hint = did_you_mean(first.split("=", 1)[0], known)
            self.error(f"unknown option {first}{hint}; '{self.prog} --help' lists the options")
        self.error(f"unexpected argument {first!r}; '{self.prog} --help' lists what it takes")


#: Old spellings still accepted but not shown or suggested (``--output``, ``--dir``).
_HIDDEN: set[str] = set()


def add_old_spelling(parser: Any, old: str, dest: str, metavar: str | None = None) -> None:
    """Keep accepting ``old`` (e.g. ``--output``) for the option stored in ``dest``, unlisted.

    Every command names its output ``--out``; the spellings of earlier versions still work,
    so that no script breaks, but ``--help`` does not show them.
    """
    parser.add_argument(old, dest=dest, metavar=metavar, help=argparse.SUPPRESS)
    _HIDDEN.add(old)


#: Config keys set by the options of the language models (``--dataset names``).
LANGUAGE_OPTIONS = (
    "block_size",
    "embed_dim",
    "num_heads",
    "num_layers",
    "steps_per_epoch",
    "warmup_steps",
)

#: Config keys set by the options below (model-specific ones come from ``ModelSpec.options``).
COMMON_OPTIONS = (
    "dataset",
    "data_dir",
    "n",
    "target",
    "task",
    "seed",
    "val_split",
    "test_split",
    "model",
    "hidden",
    "activation",
    "dropout",
    "dtype",
    "loss",
    "optimizer",
    "lr",
    "lr_schedule",
    "weight_decay",
    "epochs",
    "batch_size",
    *LANGUAGE_OPTIONS,
)


#: What ``--hidden`` takes for "no hidden layer" (a linear model, or a VAE whose heads read x).
NO_HIDDEN = "none"

_HIDDEN_FORM = "comma-separated positive whole numbers such as 16,16, or 'none' for no hidden layer"


def hidden_sizes(text: str) -> list[int]:
    """``"524,124"`` -> ``[524, 124]``; ``"none"`` -> ``[]`` (no hidden layer).

    The one parser of ``--hidden`` (and ``--channels``) for every command, strict: each
    comma-separated part must be a positive whole number, without spaces, empty parts or
    signs, so that ``"10 5"`` is not read as 105, nor ``10,,5`` as ``10,5``; ``0`` is refused
    rather than taken to mean "no hidden layer", which is spelled ``none``.

    >>> hidden_sizes("256,128"), hidden_sizes("none")
    ([256, 128], [])
    """
    if text.strip().lower() == NO_HIDDEN:
        return []
    if not text.strip():
        raise argparse.ArgumentTypeError(f"empty; expected {_HIDDEN_FORM}")
    sizes = []
    for part in text.split(","):
        where = repr(part) if part == text else f"{part!r} in {text!r}"
        if part == "":
            raise argparse.ArgumentTypeError(
                f"an empty part in {text!r} is not a size; expected {_HIDDEN_FORM}"
            )
        if not part.isascii() or not part.isdigit():
            raise argparse.ArgumentTypeError(f"{where} is not a size; expected {_HIDDEN_FORM}")
        if int(part) == 0:
            raise argparse.ArgumentTypeError(
                f"{where}: a layer needs at least one unit; expected {_HIDDEN_FORM}"
            )
        sizes.append(int(part))
    return sizes


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_cnn_arguments(group: Any) -> None:
    """The options of ``--model cnn``."""
    group.add_argument(
        "--channels",
        type=hidden_sizes,
        metavar="SIZES",
        help="cnn: filters of each convolution block, e.g. 16,32 (each block: conv, ReLU, 2x2 max-pool)",
    )
    group.add_argument(
        "--kernel-size", type=positive_int, metavar="K", help="cnn: square kernel size (5)"
    )
    group.add_argument(
        "--batchnorm",
        action="store_true",
        default=None,
        help="cnn: BatchNorm before every hidden ReLU",
    )


#: The options of the built-in models (a model registered by a user brings its own).
BUILT_IN_MODEL_ARGUMENTS = {"cnn": add_cnn_arguments}


def add_data_arguments(
    parser: argparse.ArgumentParser, splits: bool = True, dataset_required: bool = True
) -> None:
    """``--dataset``, ``--data-dir``, ``--n``, ``--target``, ``--task``, ``--seed`` and the splits.

    ``dataset_required=False`` for a command that can take the dataset from elsewhere
    (``train --resume`` reads it from the run's ``config.json``).
    """
    group = parser.add_argument_group("data")
    names = ", ".join(experiments.DATASETS)
    group.add_argument(
        "--dataset",
        required=dataset_required,
        metavar="NAME|PATH.csv",
        help=f"one of {names}, or a CSV file"
        + ("" if dataset_required else " (required unless --resume)"),
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory with the MNIST-format IDX files, or names.txt for --dataset names "
        "(else $SCRATCHNN_DATA/NAME, then the cache)",
    )
    group.add_argument(
        "--n", type=positive_int, metavar="N", help="points to generate (synthetic datasets)"
    )
    group.add_argument(
        "--target", metavar="COLUMN", help="label column of a CSV file (default 'label')"
    )
    group.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        help="what the CSV target is (default auto: whole numbers and names are classes)",
    )
    group.add_argument(
        "--seed", type=non_negative_int, help="one seed for data, split, weights and order (0)"
    )
    if splits:
        group.add_argument(
            "--val-split", type=fraction, metavar="F", help="validation fraction (default 0.1)"
        )
        group.add_argument(
            "--test-split",
            type=fraction,
            metavar="F",
            help="test fraction (default 0.2; MNIST uses its own test set)",
        )


def add_model_file_argument(parser: argparse.ArgumentParser) -> None:
    """``--model PATH`` of ``evaluate`` and ``predict``: a saved model or its run folder."""
    parser.add_argument(
        "--model",
        required=True,
        metavar="PATH",
        help="model.npz, or the run folder holding it (its checkpoint.npz if it did not finish)",
    )


def add_model_arguments(parser: argparse.ArgumentParser, choose_model: bool = True) -> None:
    """``--model`` (from the registry), ``--hidden``, ``--activation``, ``--dropout``, ``--dtype``.

    Every registered :class:`~scratchnn.experiments.ModelSpec` with ``add_arguments`` adds
    its own options to this group.
    """
    group = parser.add_argument_group("model")
    if choose_model:
        group.add_argument(
            "--model",
            choices=sorted({*experiments.MODELS, *experiments.LANGUAGE_MODELS}),
            help="architecture (default mlp; gpt for --dataset names): "
            + "; ".join(f"{s.name}: {s.description}" for s in experiments.MODELS.values())
            + "; for --dataset names (language models): "
            + "; ".join(f"{s.name}: {s.description}" for s in experiments.LANGUAGE_MODELS.values()),
        )
    group.add_argument(
        "--hidden",
        type=hidden_sizes,
        metavar="SIZES",
        help="hidden layer sizes, e.g. 16,16 (default per dataset; 'none' for no hidden layer); "
        "one size for a language model (mlp 200, rnn and lstm 128)",
    )
    group.add_argument(
        "--activation",
        choices=("relu", "leaky_relu", "tanh", "sigmoid"),
        help="hidden activation (default relu; tanh for the language model mlp)",
    )
    group.add_argument(
        "--dropout", type=fraction, metavar="P", help="dropout after each hidden layer (0)"
    )
    group.add_argument(
        "--dtype", choices=("float32", "float64"), help="parameter and data type (float32)"
    )
    for spec in experiments.MODELS.values():
        adder = spec.add_arguments or BUILT_IN_MODEL_ARGUMENTS.get(spec.name)
        if adder is not None:
            adder(group)
    add_language_model_arguments(parser)


def add_language_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the language models (``--dataset names --model gpt|lstm|rnn|mlp|bigram``)."""
    group = parser.add_argument_group(
        "language models (--dataset names)",
        "gpt, rnn and lstm train on random windows of --block-size characters of the "
        "training names joined by '.': an epoch is --steps-per-epoch steps over a fixed set "
        "of steps-per-epoch × batch-size windows, drawn once from --seed and visited in a new "
        "order each epoch (defaults: 6 epochs of 500 steps of 32 windows of 16 characters, "
        "3,000 steps). mlp trains on every (--block-size characters -> next) pair and bigram "
        "on every pair of consecutive characters: an epoch is every pair once. The losses "
        "(val_loss, test_loss) are over whole names, in nats per character.",
    )
    group.add_argument(
        "--block-size",
        type=positive_int,
        metavar="T",
        help="characters of context: gpt's context and the windows of gpt, rnn and lstm (16), "
        "the mlp's window (3)",
    )
    group.add_argument(
        "--embed-dim",
        type=positive_int,
        metavar="D",
        help="embedding width (gpt 64, rnn/lstm 32, mlp 10)",
    )
    group.add_argument(
        "--num-heads", type=positive_int, metavar="H", help="gpt: attention heads (4)"
    )
    group.add_argument("--num-layers", type=positive_int, metavar="L", help="gpt: blocks (2)")
    group.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        metavar="K",
        help="gpt, rnn, lstm: steps per epoch, over steps-per-epoch × batch-size windows (500)",
    )
    group.add_argument(
        "--warmup-steps",
        type=non_negative_int,
        metavar="W",
        help="steps of linear warm-up of --lr-schedule warmup_cosine (100)",
    )


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """``--loss``, ``--optimizer``, ``--lr``, ``--lr-schedule``, ``--weight-decay``, ``--epochs``, ``--batch-size``."""
    group = parser.add_argument_group("training")
    group.add_argument(
        "--loss", choices=("ce", "bce", "mse"), help="ce (classes) or mse (regression) by default"
    )
    group.add_argument(
        "--optimizer", choices=("adam", "adamw", "sgd", "rmsprop"), help="default adam"
    )
    group.add_argument("--lr", type=positive_float, help="learning rate (default per dataset)")
    group.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine", "warmup_cosine"),
        help="learning rate per epoch: constant, or cosine decay from --lr to 0 over --epochs "
        "(default per dataset: cosine for MNIST); for a language model per step, and "
        "warmup_cosine (its default): linear over --warmup-steps, then cosine to 10 %% of --lr",
    )
    group.add_argument(
        "--weight-decay", type=non_negative_float, metavar="λ", help="L2 weight decay (0)"
    )
    group.add_argument(
        "--epochs",
        type=positive_int,
        help="passes over the training set (gpt, rnn, lstm: epochs of --steps-per-epoch steps)",
    )
    group.add_argument("--batch-size", type=positive_int, help="examples per step")
    add_threads_argument(group)


def add_threads_argument(parser: Any) -> None:
    """``--threads N``: BLAS threads for the matrix products (needs threadpoolctl)."""
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="BLAS threads for the matrix products (default: the library's own; on a busy "
        "2-core machine 1 can be faster); needs threadpoolctl",
    )


def apply_threads(args: argparse.Namespace, log: Any = print) -> None:
    """Apply ``--threads`` if given, and say what was done."""
    if getattr(args, "threads", None) is not None:
        log(limit_blas_threads(args.threads))


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out``, ``--overwrite``, ``--no-plots``, ``--verbose``."""
    group = parser.add_argument_group("output")
    group.add_argument(
        "--out", metavar="DIR", help="run folder (default runs/<dataset>-<model>-<date>-<time>)"
    )
    group.add_argument(
        "--overwrite", action="store_true", help="replace the results of a run already in --out"
    )
    group.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    group.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 a progress bar per epoch (default), 2 a line per epoch",
    )


def option_keys() -> list[str]:
    """The config keys of every option: the common ones, then every model's own."""
    keys = list(COMMON_OPTIONS)
    for spec in [*experiments.MODELS.values(), *experiments.LANGUAGE_MODELS.values()]:
        keys += [k for k in spec.options if k not in keys]
    return keys


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The resolved configuration for the parsed options (dataset defaults filled in)."""
    return experiments.resolve_config(namespace_options(args, option_keys()))


def namespace_options(args: argparse.Namespace, keys: Any) -> dict[str, Any]:
    """The given ``keys`` of parsed command-line options, as a dict (``None`` = not given)."""
    return {key: getattr(args, key, None) for key in keys}


def resume_command(command: str, run_dir: Path) -> str:
    """The command line that continues the run in ``run_dir``: ``scratchnn train --resume DIR``."""
    return f"scratchnn {command} --resume {shlex.quote(str(run_dir))}"


def interrupted(
    exc: TrainingInterrupted, command: str, checkpointing: bool = True
) -> TrainingInterrupted:
    """The one line to print on SIGINT/SIGTERM: where it stopped and how to continue.

    ``command`` is the subcommand whose ``--resume`` continues the run (``train``, ``vae``);
    the hint is always a command line, never the Python API. ``checkpointing`` says whether
    the run kept a checkpoint at all (not ``--checkpoint-every 0``): without one yet, the
    reason is that none was due.
    """
    run_dir = getattr(exc, "run_dir", None)
    if run_dir is None:
        return exc
    resumable = (run_dir / CHECKPOINT_FILE).is_file()
    if exc.epoch is None:
        text = f"training stopped at once by a second {exc.signal_name}; "
        text += "the checkpoint saved before it is " if resumable else "nothing more was saved "
        text += f"in {run_dir}"
    else:
        where = f"after epoch {exc.epoch}"
        if exc.batch is not None:
            where = f"at epoch {exc.epoch}, batch {exc.batch}"
        text = f"training stopped by {exc.signal_name} {where}; "
        text += "the checkpoint and " if resumable else ""
        text += f"the results so far are in {run_dir}"
    if resumable:
        text += f"; continue with: {resume_command(command, run_dir)}"
    elif checkpointing:  # stopped before the first checkpoint was due
        text += " (no checkpoint had been saved yet, so it cannot be resumed; start it again "
        text += "with --overwrite)"
    else:
        text += " (no checkpoint: --checkpoint-every 0, so it cannot be resumed)"
    error = TrainingInterrupted(text, exc.signum, history=exc.history, checkpoint=exc.checkpoint)
    error.epoch, error.batch = exc.epoch, exc.batch
    return error
