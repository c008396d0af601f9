"""Race scratchnn against PyTorch on the original project's MNIST network, in one run.

Both train 784-524-124-10 (ReLU) from the same initial weights, on the same batches in the
same order, with Adam (lr 1e-3, batch 250) — ``scratchnn compare`` under the hood — so the
seconds per epoch are measured on the same machine at the same time.

    python benchmarks/compare_mlp_mnist.py --epochs 3   # MNIST from --data-dir or $SCRATCHNN_DATA
    python benchmarks/compare_mlp_mnist.py --smoke     # a tiny run (circle), to check it works

With ``--json`` the last line is a JSON object with ``scratchnn_s_per_epoch``,
``torch_s_per_epoch``, ``ratio`` (scratchnn / PyTorch: below 1 means scratchnn is faster),
the two test accuracies and the largest difference of the loss curves.
"""

from __future__ import annotations

import argparse
import json
import tempfile

from scratchnn.compare import compare_with_torch
from scratchnn.experiments import resolve_config


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="directory with the MNIST files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    parser.add_argument("--smoke", action="store_true", help="a tiny run on circle regions")
    args = parser.parse_args(argv)
    if args.smoke:
        options = {"dataset": "circle", "n": 1000, "hidden": [16], "epochs": 2}
    else:
        options = {
            "dataset": "mnist",
            "data_dir": args.data_dir,
            "epochs": args.epochs,
            "hidden": [524, 124],
            "batch_size": 250,
            "lr": 1e-3,
            "lr_schedule": "constant",
        }
    config = resolve_config({**options, "dtype": args.dtype, "seed": args.seed})
    with tempfile.TemporaryDirectory() as out:
        summary = compare_with_torch(config, out, verbose=0, plots=False)
    result = {
        "scratchnn_s_per_epoch": summary["scratchnn"]["seconds_per_epoch"],
        "torch_s_per_epoch": summary["torch"]["seconds_per_epoch"],
        "ratio": summary["seconds_per_epoch_ratio"],
        "scratchnn_test_accuracy": summary["scratchnn"]["test_accuracy"],
        "torch_test_accuracy": summary["torch"]["test_accuracy"],
        "max_abs_loss_difference": summary["max_abs_loss_difference"],
        "epochs": summary["epochs"],
        "dtype": summary["dtype"],
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
