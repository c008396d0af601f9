"""The ``scratchnn`` command line.

Each command lives in a module of its own in this package and registers itself through
``register(subparsers)``; :data:`COMMANDS` lists them in the order ``--help`` shows.

Exit codes: 0 success, 2 bad usage or bad input (a one-line message, no traceback),
1 an unexpected error, 130 interrupted by SIGINT (Ctrl-C), 143 stopped by SIGTERM,
141 the reader of the output went away (``scratchnn predict ... | head``; 128 + SIGPIPE,
what a program killed by SIGPIPE reports).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import ScratchnnError, ScratchnnWarning, TrainingInterrupted
from ._common import Parser

__all__ = ["COMMANDS", "build_parser", "main"]

#: Modules of :mod:`scratchnn.cli`, each with ``register(subparsers)``.
COMMANDS = [
    "demo",
    "train",
    "evaluate",
    "predict",
    "sample",
    "datasets",
    "download",
    "compare",
    "vae",
    "export",
    "runs",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="scratchnn", description="Neural networks from scratch in NumPy.")
    parser.add_argument("--version", action="version", version=f"scratchnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if args.command is None:
        if extras:
            parser.unknown_arguments(extras)
        parser.print_help()
        return 2
    if extras:  # the subcommand's usage and "did you mean", not the top-level usage
        _subparser(parser, args.command).unknown_arguments(extras)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe can still be handled, not at exit
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except ScratchnnError as exc:
        print(f"scratchnn: error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:  # SIGINT or SIGTERM: saved, then stopped cleanly
        print(f"scratchnn: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM while a run writes its results
        signum = getattr(exc, "signum", signal.SIGINT)
        print("scratchnn: interrupted", file=sys.stderr)
        return 128 + signum


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A :class:`ScratchnnWarning` as one line in command-line terms; others as Python shows them."""
    if isinstance(message, ScratchnnWarning):
        print(f"scratchnn: warning: {message.cli}", file=sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def _subparser(parser: argparse.ArgumentParser, command: str) -> Parser:
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise LookupError(command)


def _reader_went_away() -> int:
    """Stop quietly when stdout is a pipe whose reader closed it (``| head``).

    The recipe of Python's documentation (the ``signal`` module, "Note on SIGPIPE"): point
    stdout at devnull so that the interpreter's final flush of what is still buffered does
    not fail a second time and print a traceback, and exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured)
        pass
    return 128 + getattr(signal, "SIGPIPE", 13)
