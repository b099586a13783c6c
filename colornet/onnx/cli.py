"""``colornet export-onnx``: the parser and the command (hooked into ``colornet.cli`` in one line)."""

from __future__ import annotations

import argparse


def add_export_parser(sub) -> None:
    exp = sub.add_parser(
        "export-onnx", help="write the network as ONNX (global.onnx, local.onnx, model.json) for other runtimes",
        description="Export a checkpoint to ONNX (opset 18, fp32, any height/width): global.onnx (L at the global "
                    "size -> fusion vector), local.onnx (L at the working size + fusion vector [+ vividness] -> a*b* "
                    "at half size) and model.json (sizes, defaults, classes, ab bins, checkpoint sha256). Needs "
                    "pip install \"colornet[onnx]\".",
    )
    exp.add_argument("weights", nargs="?", default=None,
                     help="manifest name or path to a .safetensors file (default: the default checkpoint)")
    exp.add_argument("-o", "--output", required=True, help="output folder (created; its three files are replaced)")
    exp.set_defaults(func=cmd_export_onnx)


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .export import export_checkpoint

    path = export_checkpoint(args.weights, args.output)
    print(f"wrote {path.parent / 'global.onnx'}, {path.parent / 'local.onnx'} and {path}")
    return 0
