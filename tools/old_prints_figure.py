"""The README's old-print figure: each print in greyscale, then through checkpoints at chosen vividness settings.

    python tools/old_prints_figure.py PRINTS_DIR -o docs/old_photos.jpg \
        --column "default, vividness 0=default@0" --column "default (0.75)=default" --column "vividness 1=default@1" \
        --column "long run=training/long_run/model.safetensors"

A column is ``TITLE=WEIGHTS[@VIVIDNESS]``: WEIGHTS is a manifest name, ``default`` or a .safetensors file. Prints are
shown at most ``--height`` px tall, in file-name order; colourfulness per cell is printed as a table (what the figure
shows in one number per print). The prints are public domain; their sources are listed in docs/VIVID.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from colornet.images import load_image
from colornet.pipeline import Colorizer
from training.metrics import colorfulness

SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def parse_column(text: str) -> tuple[str, str | None, float | None]:
    """``TITLE=WEIGHTS[@VIVIDNESS]`` -> (title, weights or None for the default, vividness or None)."""
    title, sep, spec = text.partition("=")
    if not sep or not title:
        raise argparse.ArgumentTypeError(f"a column is TITLE=WEIGHTS[@VIVIDNESS], got {text!r}")
    weights, _, vivid = spec.partition("@")
    return title, (None if weights in ("", "default") else weights), (float(vivid) if vivid else None)


def grey_of(rgb: torch.Tensor) -> torch.Tensor:
    """What the network sees, shown as a picture: the print's L as grey."""
    from colornet.lab import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(rgb)
    lab[:, 1:] = 0
    return lab_to_rgb(lab).clamp(0, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prints", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--column", type=parse_column, action="append", required=True)
    parser.add_argument("--height", type=int, default=200)
    args = parser.parse_args(argv)

    files = sorted(p for p in args.prints.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        print(f"{args.prints}: no images", file=sys.stderr)
        return 1
    colorizers: dict[str | None, Colorizer] = {}
    for _, weights, _ in args.column:
        if weights not in colorizers:
            colorizers[weights] = Colorizer.from_pretrained(weights)
    titles = ["greyscale input"] + [title for title, _, _ in args.column]
    rows, table = [], []
    for path in files:
        rgb = torch.from_numpy(load_image(path).rgb.copy()).permute(2, 0, 1)[None]  # float32 in [0, 1]
        scale = args.height / rgb.shape[-2]
        rgb = torch.nn.functional.interpolate(rgb, scale_factor=scale, mode="area") if scale < 1 else rgb
        cells = [grey_of(rgb)]
        cfs = []
        for _, weights, vivid in args.column:
            out = colorizers[weights].colorize_rgb(rgb, vividness=vivid)
            cells.append(out)
            cfs.append(float(colorfulness(out)[0]))
        table.append((path.stem, cfs))
        rows.append([(c[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8) for c in cells])
    cell_w = max(r[0].shape[1] for r in rows)
    cell_h = max(r[0].shape[0] for r in rows)
    pad, header = 6, 18
    sheet = Image.new("RGB", (len(titles) * (cell_w + pad) + pad, header + len(rows) * (cell_h + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for j, title in enumerate(titles):
        draw.text((pad + j * (cell_w + pad), 3), title, fill="black")
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            x = pad + j * (cell_w + pad) + (cell_w - cell.shape[1]) // 2
            y = header + pad + i * (cell_h + pad) + (cell_h - cell.shape[0]) // 2
            sheet.paste(Image.fromarray(cell), (x, y))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True, **({"quality": 90} if args.out.suffix.lower() in (".jpg", ".jpeg") else {}))
    print("| print | " + " | ".join(titles[1:]) + " |")
    print("|---|" + "---:|" * (len(titles) - 1))
    for stem, cfs in table:
        print(f"| {stem} | " + " | ".join(f"{v:.1f}" for v in cfs) + " |")
    means = np.mean([cfs for _, cfs in table], axis=0)
    print("| **mean colourfulness** | " + " | ".join(f"**{v:.1f}**" for v in means) + " |")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
