"""``scratchnn datasets``: the datasets and where each is found; export a generated one as CSV.

scratchnn datasets                                   # the list, with defaults and locations
scratchnn datasets circle --n 1000 --out circle.csv  # columns x, y, label
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import experiments
from ..datasets import REMOTE_DATASETS, cache_dir, find_mnist, find_names, save_csv
from ..errors import InputError
from ._common import did_you_mean, non_negative_int, positive_int


def _where(name: str, data_dir: str | None) -> str:
    """Where ``--dataset NAME`` finds its files without ``--data-dir`` (or in ``data_dir/NAME``)."""
    if data_dir is not None:
        for candidate in (Path(data_dir) / name, Path(data_dir)):
            if candidate.name == name and candidate.is_dir():
                try:
                    return str(find_mnist(candidate, name=name))
                except InputError:
                    pass
    try:
        return str(find_mnist(None, name=name))
    except InputError:
        hint = f"scratchnn download {name}" if name in REMOTE_DATASETS else "pass --data-dir"
        env = os.environ.get("SCRATCHNN_DATA")
        places = [f"{data_dir}/{name}"] if data_dir else []
        places += [f"{env}/{name}"] if env else []
        places.append(str(cache_dir(name)))
        return f"not found (looked in {', '.join(places)}; {hint})"


def _where_text(data_dir: str | None) -> str:
    """Where ``--dataset names`` finds names.txt, or where it looked."""
    try:
        return str(find_names(data_dir))
    except InputError as exc:
        return f"not found ({str(exc).split(';')[0]})"


def _text_row(info: experiments.DatasetInfo, data_dir: str | None) -> tuple[str, ...]:
    config = experiments.resolve_config({"dataset": info.name})
    epochs = f"{config['epochs']} epochs of {config['steps_per_epoch']} steps"
    train = (
        f"{config['model']}, lr {config['lr']:g} {config['lr_schedule']}, {epochs} of "
        f"{config['batch_size']}"
    )
    return (info.name, "text", f"{info.n:,}", train, info.description, _where_text(data_dir))


def _list(args: argparse.Namespace) -> int:
    rows = []
    for info in experiments.DATASETS.values():
        if info.kind == "text":
            rows.append(_text_row(info, args.data_dir))
            continue
        defaults = {**experiments.DEFAULTS, **info.defaults}
        hidden = ",".join(map(str, defaults["hidden"]))
        if info.kind == "synthetic":
            size, where = f"{info.n:,}", "generated"
        else:
            size, where = "70,000", _where(info.name, args.data_dir)
        classes = str(info.num_classes) if info.num_classes else "regression"
        schedule = " cosine" if defaults.get("lr_schedule") == "cosine" else ""
        train = (
            f"{hidden} {defaults['activation']}, lr {defaults['lr']:g}{schedule}, "
            f"{defaults['epochs']} epochs of {defaults['batch_size']}"
        )
        rows.append((info.name, classes, size, train, info.description, where))
    header = ("name", "classes", "size", "default training", "what", "where")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + "  " + row[5])
    print("\nAny CSV file works too: --dataset PATH.csv --target COLUMN (default 'label').")
    print(
        "names trains a language model: --model gpt (default), lstm, rnn, mlp or bigram; "
        "'scratchnn train --help' lists their options."
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    info = experiments.DATASETS.get(args.name.lower())
    if info is None or info.kind != "synthetic":
        generated = [d.name for d in experiments.DATASETS.values() if d.kind == "synthetic"]
        hint = "" if info is not None else did_you_mean(args.name.lower(), generated)
        raise InputError(
            f"cannot export {args.name!r}{hint}: only generated datasets can "
            f"({', '.join(generated)})"
        )
    if not args.out:
        raise InputError("where should the CSV go? pass --out FILE.csv")
    n = args.n or info.n
    X, y = info.make(n, rng=experiments.rng_for(args.seed, "data"))
    path = save_csv(Path(args.out), X, y)
    print(f"wrote {n:,} {info.name} points to {path} (columns {', '.join(_columns(path))})")
    if args.plot:
        # matplotlib is heavy: imported only when --plot asks for a picture
        from ..plotting.classification import dataset_scatter

        if X.shape[1] == 2:
            dataset_scatter(X, y, path=args.plot, title=f"{info.name}: {n:,} points")
            print(f"wrote {args.plot}")
    return 0


def _columns(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return fh.readline().strip().split(",")


def _datasets(args: argparse.Namespace) -> int:
    return _export(args) if args.name else _list(args)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "datasets",
        help="list the datasets and where each is found, or export a generated one as CSV",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    parser.add_argument(
        "name", nargs="?", help="a generated dataset to export (circle, square, ...)"
    )
    parser.add_argument("--out", metavar="FILE.csv", help="where to write the exported CSV")
    parser.add_argument("--n", type=positive_int, help="points to generate")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (0)")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the points")
    parser.add_argument(
        "--data-dir", metavar="DIR", help="also look in DIR/NAME (or DIR itself if named NAME)"
    )
    parser.set_defaults(func=_datasets)
