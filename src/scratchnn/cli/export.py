"""``scratchnn export``: a trained model as ONNX, safetensors (PyTorch's names) or ``.npz``.

    scratchnn export runs/mnist --format onnx --out mnist.onnx
    scratchnn export runs/mnist/model.npz --out mnist.safetensors   # format from the suffix
    scratchnn export runs/vae --format onnx --out vae.onnx          # vae-encoder/-decoder.onnx

MODEL is a model file (``.npz`` or ``.safetensors``) or a run folder, as
``scratchnn evaluate --model`` takes. The ONNX graph maps ``input`` to ``logits`` (a VAE:
``x`` to ``mu``, ``logvar`` and ``z`` to ``x_logits``), on inputs already preprocessed as
the model's metadata says; the written files are printed, one per line. Needs the
optional extra: ``pip install "scratchnn[interop]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..interop import OPSET, to_onnx
from ..io import load_model, save_model
from ._common import positive_int
from .evaluate import model_path

FORMATS = {".onnx": "onnx", ".safetensors": "safetensors", ".npz": "npz"}


def _export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    kind = args.format or FORMATS.get(out.suffix.lower())
    if kind is None:
        raise InputError(
            f"{out}: cannot tell the format from the suffix {out.suffix!r}; pass --format "
            f"({', '.join(FORMATS.values())})"
        )
    path = model_path(args.model)
    model = load_model(path)
    if kind == "onnx":
        written = to_onnx(model, out, opset=args.opset)
    else:
        if out.suffix.lower() != f".{kind}":
            raise InputError(f"{out}: a {kind} file must end in .{kind}")
        save_model(model, out, **model.metadata)
        written = [out]
    for file in written:
        print(file)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="write a trained model as ONNX, safetensors (PyTorch's names) or .npz",
        description="Write a trained model as an ONNX graph (checked by onnx.checker), a "
        "safetensors file with PyTorch's names, or a scratchnn .npz file.",
    )
    parser.add_argument(
        "model", metavar="MODEL", help="a model file, or the run folder holding model.npz"
    )
    parser.add_argument(
        "--format",
        choices=sorted(set(FORMATS.values())),
        help="default: from the suffix of --out",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write")
    parser.add_argument(
        "--opset", type=positive_int, default=OPSET, help=f"ONNX opset (default {OPSET})"
    )
    parser.set_defaults(func=_export)
