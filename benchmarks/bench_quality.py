"""Quality vs speed: bounded working resolution against the full-resolution (paper) mode, guided vs bilinear.

    python benchmarks/bench_quality.py                      # bundled default checkpoint, 40 real photos
    python benchmarks/bench_quality.py --weights PATH       # any checkpoint (e.g. a training run's)
    python benchmarks/bench_quality.py --upscale 3          # the same photos enlarged 3x (Lanczos) as large inputs

Each photo's colour original is the ground truth; the colorizer sees only its L (``colorize_rgb`` keeps the input's
L and replaces ab), and PSNR is measured on sRGB in [0, 1] against the original. Two kinds of rows:

* ``model``: the network's colours at full resolution (``working_size=None``, as the paper) and at bounded working
  sizes, with guided or bilinear ab upsampling. This depends on the checkpoint.
* ``oracle``: the *ground-truth* ab reduced to the resolution the network would output at that working size, then
  brought back with the upsampler. It measures what the upsampling itself can lose, independent of any checkpoint.

Photos: ``urban100_*``, ``sunhays_*`` and ``wall_*`` from shared/data/train (the only ones larger than 256 px; they
were resized to a 256 px shorter side, so ~341x256). They are *training* photos of the bundled model: the absolute
PSNR is optimistic; the comparison between modes is what this script is for.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colornet.lab import rgb_to_lab
from colornet.fastlab import compose_rgb
from colornet.pipeline import Colorizer, working_shape
from colornet.upsample import upsample_ab

PREFIXES = ("urban100_", "sunhays_", "wall_")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(1.0 / mse)


def load_photos(data: Path, limit: int, upscale: float) -> list[tuple[str, torch.Tensor]]:
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.name.startswith(PREFIXES))
    step = max(1, len(files) // limit) if limit else 1
    photos = []
    for path in files[::step][: limit or None]:
        img = Image.open(path).convert("RGB")
        if upscale != 1:
            img = img.resize((round(img.width * upscale), round(img.height * upscale)), Image.LANCZOS)
        rgb = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        photos.append((path.name, rgb))
    return photos


def oracle(rgb: torch.Tensor, working_size: int | None, mode: str) -> torch.Tensor:
    """Ground-truth ab at the network's output resolution for this working size, upsampled back, composed with L."""
    lab = rgb_to_lab(rgb)
    lightness, ab = lab[:, :1], lab[:, 1:]
    h, w = working_shape(*rgb.shape[-2:], working_size)
    ab_half = F.interpolate(ab, size=(max(1, h // 2), max(1, w // 2)), mode="area")
    return compose_rgb(lightness, upsample_ab(ab_half, lightness, mode=mode))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/work/shared/data/train")
    parser.add_argument("--weights", default=None, help="checkpoint path or manifest name (default: bundled)")
    parser.add_argument("--limit", type=int, default=40, help="photos (spread over the sorted list); 0 = all")
    parser.add_argument("--upscale", type=float, default=1.0, help="enlarge photos by this factor first")
    parser.add_argument("--working-sizes", default="128,192,256", help="bounded working sizes to compare")
    parser.add_argument("--out", default=None, help="also write the table (markdown) to this file")
    args = parser.parse_args()

    from colornet.weights import load_model

    model, document = load_model(args.weights)
    training = document.get("training", {})
    photos = load_photos(Path(args.data), args.limit, args.upscale)
    if not photos:
        sys.exit(f"No photos named {PREFIXES} under {args.data}")
    sizes = [int(s) for s in args.working_sizes.split(",")]
    settings: list[tuple[str, int | None, str]] = [("full", None, "guided")]
    settings += [(f"bounded {s}", s, up) for s in sizes for up in ("guided", "bilinear")]
    device = torch.device("cpu")
    scores: dict[tuple[str, str, str], list[float]] = {}
    times: dict[tuple[str, str], list[float]] = {}
    colorizers = {(ws, up): Colorizer(model, device, working_size=ws, upsample=up) for _, ws, up in settings}
    for _, rgb in photos:
        for label, ws, up in settings:
            colorizer = colorizers[(ws, up)]
            start = time.perf_counter()
            out = colorizer.colorize_rgb(rgb)
            times.setdefault((label, up), []).append(time.perf_counter() - start)
            scores.setdefault(("model", label, up), []).append(psnr(out, rgb))
            if ws is not None:
                scores.setdefault(("oracle", label, up), []).append(psnr(oracle(rgb, ws, up), rgb))
    shape = photos[0][1].shape[-2:]
    full = statistics.mean(scores[("model", "full", "guided")])
    lines = [
        f"Checkpoint: {document.get('weights', {}).get('name', args.weights)} "
        f"(sha256 {str(document.get('weights', {}).get('sha256') or '-')[:12]}, {training.get('iter_num', '?')} training steps)",
        f"Photos: {len(photos)} from {args.data} ({', '.join(PREFIXES)}), e.g. {shape[1]}x{shape[0]}"
        + (f", enlarged {args.upscale:g}x (Lanczos)" if args.upscale != 1 else ""),
        "",
        "| rows | setting | upsampling | mean PSNR (dB) | vs full (dB) | median time (s) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for kind in ("model", "oracle"):
        for label, ws, up in settings:
            key = (kind, label, up)
            if key not in scores:
                continue
            mean = statistics.mean(scores[key])
            delta = f"{mean - full:+.2f}" if kind == "model" else ""
            t = f"{statistics.median(times[(label, up)]):.3f}" if kind == "model" else ""
            lines.append(f"| {kind} | {label} | {up if ws else '-'} | {mean:.2f} | {delta} | {t} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
