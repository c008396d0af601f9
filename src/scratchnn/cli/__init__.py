"""The ``scratchnn`` command line.

Each command lives in a module of its own in this package and registers itself through
``register(subparsers)``; :data:`COMMANDS` lists them in the order ``--help`` shows.

Exit codes: 0 success, 2 bad usage or bad input (a one-line message, no traceback),
1 an unexpected error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ScratchnnError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Modules of :mod:`scratchnn.cli`, each with ``register(subparsers)``.
COMMANDS = ["demo", "vae"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchnn", description="Neural networks from scratch in NumPy."
    )
    parser.add_argument("--version", action="version", version=f"scratchnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ScratchnnError as exc:
        print(f"scratchnn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return 130
