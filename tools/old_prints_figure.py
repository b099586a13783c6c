"""The README's old-print figure: each print in greyscale, then through checkpoints at chosen vividness settings.

    python tools/old_prints_figure.py PRINTS_DIR -o docs/old_photos.jpg \
        --column "default, vividness 0=default@0" --column "default (0.75)=default" --column "vividness 1=default@1" \
        --column "long run=training/long_run/model.safetensors"

A column is ``TITLE=WEIGHTS[@VIVIDNESS]``: WEIGHTS is a manifest name, ``default`` or a .safetensors file. Prints are
colorized at their own size (the product pipeline, ``training.report.grid_row``), then shown at most ``--side`` px on
their longer side, in file-name order; colourfulness per cell (at that size) is printed as a table. The prints are
public domain; their sources are listed in docs/VIVID.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from colornet.images import load_image
from colornet.pipeline import Colorizer
from training.metrics import colorfulness
from training.report import grid_row, grid_sheet

SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def parse_column(text: str) -> tuple[str, str | None, float | None]:
    """``TITLE=WEIGHTS[@VIVIDNESS]`` -> (title, weights or None for the default, vividness or None)."""
    title, sep, spec = text.partition("=")
    if not sep or not title:
        raise argparse.ArgumentTypeError(f"a column is TITLE=WEIGHTS[@VIVIDNESS], got {text!r}")
    weights, _, vivid = spec.partition("@")
    return title, (None if weights in ("", "default") else weights), (float(vivid) if vivid else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prints", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--column", type=parse_column, action="append", required=True)
    parser.add_argument("--side", type=int, default=260, help="cells at most this many px on their longer side")
    args = parser.parse_args(argv)

    files = sorted(p for p in args.prints.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        print(f"{args.prints}: no images", file=sys.stderr)
        return 1
    colorizers: dict[str | None, Colorizer] = {}
    for _, weights, _ in args.column:
        if weights not in colorizers:
            colorizers[weights] = Colorizer.from_pretrained(weights)
    columns = {title: (colorizers[weights], vivid) for title, weights, vivid in args.column}
    rows, table = [], []
    for path in files:
        rgb = torch.from_numpy(np.ascontiguousarray(load_image(path).rgb)).permute(2, 0, 1)  # float32 in [0, 1]
        row = grid_row(columns, rgb, args.side, truth=False)
        rows.append(row)
        table.append((path.stem, [float(colorfulness(cell[None])[0]) for cell in row[1:]]))
    print(f"wrote {grid_sheet(rows, ['greyscale input', *columns], args.out)}", file=sys.stderr)
    print("| print | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for stem, cfs in table:
        print(f"| {stem} | " + " | ".join(f"{v:.1f}" for v in cfs) + " |")
    means = np.mean([cfs for _, cfs in table], axis=0)
    print("| **mean colourfulness** | " + " | ".join(f"**{v:.1f}**" for v in means) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
