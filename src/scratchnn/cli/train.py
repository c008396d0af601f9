"""``scratchnn train``: one experiment, everything kept in one run folder.

    scratchnn train --dataset circle
    scratchnn train --dataset mnist --hidden 524,124 --epochs 10 --batch-size 250 --lr 1e-3 \\
        --out runs/mnist      # MNIST from $SCRATCHNN_DATA/mnist or the download cache
    scratchnn train --resume runs/mnist --epochs 20     # continue that run, exactly
    scratchnn train --dataset names --model gpt --out runs/gpt   # a character-level GPT

writes ``config.json``, ``checkpoint.npz``, ``history.csv``, ``metrics.json``, ``model.npz``
and the plots into ``--out`` (see :mod:`scratchnn.experiments`), shows a progress bar per
epoch and ends with a summary table. Options left out take the dataset's defaults, listed by
``scratchnn datasets``.

The checkpoint is replaced atomically after every epoch (``--checkpoint-every``), so a run
stopped by Ctrl-C (exit code 130), SIGTERM (143), a crash or a full disk continues with
``--resume DIR``, bit-identical to a run that was never stopped. Ctrl-C and SIGTERM finish
the current step and save the checkpoint and the results so far (``metrics.json`` then says
``"status": "interrupted"`` and where). A diverging run (NaN or infinite loss or gradient)
stops with exit code 2, naming the epoch and batch; ``--clip-norm`` or a smaller ``--lr``
helps.

``--dataset names`` trains a language model (``--model gpt``, the default, ``lstm``,
``rnn``, ``mlp`` or ``bigram``; :mod:`scratchnn.experiments.language`): the run folder adds
``samples.txt`` (20 sampled names) and, for the GPT, ``attention.png``; ``val_loss`` and
``test_loss`` are in nats per character over whole names. ``scratchnn sample RUN`` draws
more names, ``scratchnn evaluate --model RUN --input FILE`` scores a file of names.
"""

from __future__ import annotations

import argparse
import re
import signal
from pathlib import Path
from typing import Any

import numpy as np

from .. import experiments
from ..errors import DivergenceError, InputError, OutputError, TrainingInterrupted
from ..experiments.run_dir import read_config_json
from ..training.checkpoint import CHECKPOINT_FILE
from ._common import (
    add_data_arguments,
    add_model_arguments,
    add_output_arguments,
    add_training_arguments,
    apply_threads,
    config_from_args,
    interrupted,
    non_negative_int,
    option_keys,
    positive_float,
    resume_command,
)

#: What may be given with ``--resume``: the rest of the configuration is the run's own
#: (``--dataset``/``--data-dir`` for data that moved; the data are fingerprinted).
_WITH_RESUME = ("epochs", "dataset", "data_dir", "checkpoint_every")


def _resume_command(run_dir: Path) -> str:
    return resume_command("train", run_dir)


def _check_not_vae(run_dir: Path) -> None:
    """``train --resume`` on a ``vae`` run folder: name the command that continues it."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        return  # open_run reports a missing file or folder, or a FIFO, naming it
    saved = read_config_json(config_path)  # a damaged file is a one-line error
    if isinstance(saved, dict) and saved.get("command") == "vae":
        raise InputError(
            f"{run_dir}: a vae run; continue it with '{resume_command('vae', run_dir)}'"
        )


def _options_given(args: argparse.Namespace) -> list[str]:
    keys = [*option_keys(), "clip_norm", "out"]
    given = [k for k in keys if k not in _WITH_RESUME and getattr(args, k, None) is not None]
    if args.overwrite:
        given.append("overwrite")
    return ["--" + k.replace("_", "-") for k in given]


def _train(args: argparse.Namespace) -> int:
    log = print if args.verbose else (lambda line: None)
    apply_threads(args, log)
    options: dict[str, Any] = {"verbose": args.verbose, "plots": not args.no_plots, "log": log}
    try:
        if args.resume is not None:
            _check_not_vae(Path(args.resume))
            given = _options_given(args)
            if given:
                raise InputError(
                    f"--resume continues {args.resume} with the configuration it was started "
                    f"with (its config.json), so {', '.join(given)} cannot be changed; drop "
                    f"{'it' if len(given) == 1 else 'them'}, or start a new run with another --out"
                )
            if args.checkpoint_every == 0:
                raise InputError(
                    "--resume continues from the run's checkpoint and keeps replacing it; drop "
                    "--checkpoint-every 0"
                )
            # the loop reports a NaN or an overflow itself (DivergenceError), in one line
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                experiments.resume_training(
                    args.resume,
                    epochs=args.epochs,
                    data_dir=args.data_dir,
                    dataset=args.dataset,
                    checkpoint_every=args.checkpoint_every,
                    **options,
                )
            return 0
        config = config_from_args(args)
        if args.clip_norm is not None:
            config["clip_norm"] = args.clip_norm
        every = 1 if args.checkpoint_every is None else args.checkpoint_every
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            experiments.run_training(
                config, args.out, overwrite=args.overwrite, checkpoint_every=every, **options
            )
        return 0
    except TrainingInterrupted as exc:
        raise interrupted(exc, "train", checkpointing=args.checkpoint_every != 0) from None
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM after training, writing the results
        run_dir = getattr(exc, "run_dir", None)
        signum = getattr(exc, "signum", signal.SIGINT)
        if run_dir is None:
            raise
        by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
        if not (run_dir / CHECKPOINT_FILE).is_file():
            raise TrainingInterrupted(
                f"interrupted{by} while writing the results, which may be incomplete in "
                f"{run_dir}; without a checkpoint (--checkpoint-every 0) train again with "
                "--overwrite",
                signum,
            ) from None
        raise TrainingInterrupted(
            f"interrupted{by} while writing the results; the trained model is safe in "
            f"{run_dir / CHECKPOINT_FILE}, and '{_resume_command(run_dir)}' writes them again",
            signum,
        ) from None
    except DivergenceError as exc:
        raise _diverged(exc) from None
    except OutputError as exc:
        raise _unwritable(exc) from None


_LIBRARY_ADVICE = re.compile(r"lower the learning rate \(now ([^)]*)\) or set clip_norm")


def _diverged(exc: DivergenceError) -> DivergenceError:
    """The library's message in command-line terms: --lr and --clip-norm, and the history."""
    text, count = _LIBRARY_ADVICE.subn(r"try a smaller --lr (now \1) or --clip-norm 1", str(exc))
    if not count:
        text += "; try a smaller --lr or --clip-norm 1"
    run_dir = getattr(exc, "run_dir", None)
    if run_dir is not None and (run_dir / "history.csv").is_file():
        text += f"; the history so far is in {run_dir / 'history.csv'}"
    error = DivergenceError(text)
    error.history, error.checkpoint = exc.history, exc.checkpoint
    return error


def _unwritable(exc: OutputError) -> OutputError:
    """A full disk or unwritable folder: say that the checkpoint is safe and how to continue."""
    run_dir = getattr(exc, "run_dir", None)
    if run_dir is None:
        return exc
    text = str(exc)
    if not (run_dir / CHECKPOINT_FILE).is_file():  # nothing to resume: the same command again
        if text.endswith(", then start the run again"):
            text += " (the same command with --overwrite)"
        error = OutputError(text)
        error.reason, error.history = exc.reason, exc.history
        return error
    if text.endswith(", then resume"):
        text = text[: -len(", then resume")] + f", then continue with: {_resume_command(run_dir)}"
    else:
        text += (
            f"; the trained state is safe in {run_dir / CHECKPOINT_FILE}: free disk space, then "
            f"'{_resume_command(run_dir)}' writes the results again"
        )
    error = OutputError(text)
    error.reason, error.history = exc.reason, exc.history
    return error


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="train a model and write config, history, metrics, model and plots",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    add_data_arguments(parser, dataset_required=False)
    add_model_arguments(parser)
    add_training_arguments(parser)
    group = parser.add_argument_group("reliability")
    group.add_argument(
        "--clip-norm",
        type=positive_float,
        metavar="C",
        help="clip the gradients' global norm to C before every step (helps against divergence)",
    )
    group.add_argument(
        "--checkpoint-every",
        type=non_negative_int,
        metavar="K",
        help="replace checkpoint.npz in the run folder every K epochs (default 1; 0: never, "
        "and the run cannot be resumed)",
    )
    group.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR with its saved configuration, until --epochs in total "
        "(default: the run's own); --dataset/--data-dir only for data that moved",
    )
    add_output_arguments(parser)
    parser.set_defaults(func=_train)
