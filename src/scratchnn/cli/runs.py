"""``scratchnn runs``: the runs in a folder, with what they trained and how they ended.

    scratchnn runs                                   # every run under runs/
    scratchnn runs runs/demo
    scratchnn runs --compare runs/a runs/b --out a-vs-b.png   # their curves, overlaid

Lists each run folder (one with a ``config.json``: ``train``, ``vae``, ``compare``, ``demo``)
with its dataset, model, epochs done of those planned, final test numbers and status:
finished, interrupted (Ctrl-C or SIGTERM; ``--resume`` continues it), running (another
process holds the folder's lock) or failed (no results after its last start: a crash, a
divergence, a kill). See
:mod:`scratchnn.experiments.runs`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..experiments.runs import RunSummary, find_runs, read_history, read_run


def _result_text(run: RunSummary) -> str:
    parts = []
    for label, value in run.results:
        if "acc" in label and 0 <= value <= 1:
            parts.append(f"{label} {100 * value:.2f} %")
        elif "Δ" in label:
            parts.append(f"{label} {value:.2g}")
        else:
            parts.append(f"{label} {value:.4f}")
    return ", ".join(parts) or "–"


def _status_text(run: RunSummary) -> str:
    return f"{run.status} ({run.note})" if run.note else run.status


def _list(directory: str) -> int:
    runs = find_runs(directory)
    if not runs:
        print(
            f"no runs in {directory} (a run folder holds a config.json); train one with "
            "'scratchnn train --dataset circle'"
        )
        return 0
    root = Path(directory)
    header = ("run", "dataset", "model", "epochs", "results", "status")
    rows = []
    for run in runs:
        name = str(run.path.relative_to(root)) if run.path != root else str(run.path)
        epochs = f"{run.epochs}/{run.planned}" if run.planned is not None else str(run.epochs)
        rows.append((name, run.dataset, run.model, epochs, _result_text(run), _status_text(run)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _compare(folders: list[str], out: str) -> int:
    # matplotlib is heavy: imported only when a figure is drawn
    from ..plotting.runs import overlay_curves

    histories = {}
    for folder in folders:
        run = read_run(folder)  # a one-line error for a folder that is not a run
        label = f"{folder} ({run.dataset}, {run.model})"
        histories[label] = read_history(folder)
    overlay_curves(histories, path=out)
    print(f"wrote {out}: {', '.join(folders)} overlaid (training solid, validation dashed)")
    return 0


def _runs(args: argparse.Namespace) -> int:
    if args.compare is not None:
        if args.directory is not None:
            raise InputError(
                f"pass either a folder to list ({args.directory}) or --compare RUN RUN ..., "
                "not both"
            )
        if len(args.compare) < 2:
            raise InputError("--compare needs two run folders or more: --compare RUN_A RUN_B")
        return _compare(args.compare, args.out)
    return _list(args.directory or "runs")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "runs",
        help="list the runs in a folder (dataset, model, epochs, results, status), or overlay "
        "their curves",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    parser.add_argument(
        "directory", nargs="?", metavar="DIR", help="where the run folders are (default runs)"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="overlay the training curves of these run folders into one PNG (--out)",
    )
    parser.add_argument(
        "--out",
        default="runs-compare.png",
        metavar="FILE.png",
        help="where --compare writes the figure (default runs-compare.png)",
    )
    parser.set_defaults(func=_runs)
