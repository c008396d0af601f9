"""``scratchnn download``: fetch MNIST (or Fashion-MNIST) into the per-user cache, verified.

    scratchnn download mnist
    scratchnn download fashion-mnist --out ~/data/fashion-mnist

Each file is checked against its known checksum before it is written (atomically); mirrors
are tried in order. ``--timeout`` bounds each wait for a server, ``--deadline`` a whole file
from one mirror (a mirror sending a byte every few seconds never trips the timeout). See
:mod:`scratchnn.datasets.download`.
"""

from __future__ import annotations

import argparse
import sys

from ..datasets import REMOTE_DATASETS, download
from ..datasets.download import DEFAULT_DEADLINE
from ._common import add_old_spelling, positive_float


def _download(args: argparse.Namespace) -> int:
    directory = download(
        args.name,
        args.out,
        mirrors=args.mirror,
        timeout=args.timeout,
        deadline=args.deadline,
        progress=sys.stderr.isatty(),
        log=print,
    )
    print(f"{args.name} is ready in {directory}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "download",
        help="download MNIST or Fashion-MNIST into the cache, verified by checksum",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    parser.add_argument("name", choices=sorted(REMOTE_DATASETS), help="dataset to download")
    parser.add_argument(
        "--out", metavar="DIR", help="where to put the files (default: the per-user cache)"
    )
    add_old_spelling(parser, "--dir", "out", "DIR")
    parser.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="base URL serving the .gz files (repeatable; replaces the built-in mirrors)",
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=60.0, help="seconds per server (60)"
    )
    parser.add_argument(
        "--deadline",
        type=positive_float,
        default=DEFAULT_DEADLINE,
        metavar="SECONDS",
        help=f"seconds one file may take from one mirror, in all ({DEFAULT_DEADLINE:g}); "
        "then the next mirror is tried",
    )
    parser.set_defaults(func=_download)
