"""Chroma transfer (``colornet.transfer_chroma``) against plain bilinear a*b* upsampling, per source of photos.

    python benchmarks/bench_transfer.py                       # the larger photos of shared/data/train + samples
    python benchmarks/bench_transfer.py --factor 8 --eps 0.01 0.05 0.2

The use it stands for: a small colour render of a picture is put onto the full-resolution picture. Simulated with
real photos: each photo is reduced ``--factor`` times (area average), and its a*b* brought back onto the photo's
own full-resolution L, by the guided upsampler (at each ``--eps``) and by bilinear interpolation. PSNR (sRGB, [0,1])
against the original photo; the table prints the mean per source and the guided-minus-bilinear difference with the
share of photos where guided is better. Photos: every file of shared/data/train whose shorter side is at least
``--min-side`` px, grouped by their source prefix (urban100, sunhays, wall, ...; see shared/data/SOURCES.md), and
the bundled samples (colornet/samples). No model is involved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colornet.images import load_image  # noqa: E402
from colornet.transfer import transfer_chroma_rgb  # noqa: E402
from colornet.upsample import ABUpsampler  # noqa: E402
from colornet.fastlab import Workspace, compose_into, image_strips, luminance  # noqa: E402
from colornet.lab import rgb_to_lab  # noqa: E402

DATA = Path("/work/shared/data/train")


def photos(min_side: int, min_long: int) -> dict[str, list[Path]]:
    from PIL import Image

    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(DATA.glob("*/*")):
        try:
            with Image.open(path) as img:
                w, h = img.size
        except OSError:
            continue
        if min(w, h) >= min_side and max(w, h) >= min_long:
            groups[path.name.split("_")[0]].append(path)
    groups["samples"] = sorted((ROOT / "colornet" / "samples").glob("*.jpg"))
    return groups


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / F.mse_loss(a, b)))


def with_eps(luma: torch.Tensor, small: torch.Tensor, eps: float) -> torch.Tensor:
    """transfer_chroma_rgb's computation at another regulariser (the library's is fixed)."""
    lightness = luminance(luma)
    ab = rgb_to_lab(small)[:, 1:]
    up = ABUpsampler(ab, lightness, mode="guided", eps=eps)
    out = torch.empty_like(luma)
    ws = Workspace(luma.device)
    for rows in image_strips(lightness):
        l_strip = lightness[:, :, rows]
        ab_strip = up.strip(rows.start, rows.stop, l_strip, out=ws.get("ab", (1, 2, *l_strip.shape[-2:])))
        compose_into(l_strip, ab_strip, out[:, :, rows], ws)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=4, help="how many times smaller the colour picture is")
    parser.add_argument("--min-side", type=int, default=192, help="shorter side of the photos used, at least")
    parser.add_argument("--min-long", type=int, default=380, help="longer side of the photos used, at least")
    parser.add_argument("--limit", type=int, default=60, help="photos per source at most (evenly spread)")
    parser.add_argument("--eps", type=float, nargs="*", default=[], help="also measure these regularisers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for source, paths in sorted(photos(args.min_side, args.min_long).items()):
        if not paths:
            continue
        step = max(1, len(paths) // args.limit)
        paths = paths[::step][: args.limit]
        scores: dict[str, list[float]] = defaultdict(list)
        sizes = []
        for path in paths:
            rgb = torch.from_numpy(load_image(path).rgb).permute(2, 0, 1)[None]
            h, w = rgb.shape[-2:]
            sizes.append(max(h, w))
            small = F.interpolate(rgb, size=(max(1, h // args.factor), max(1, w // args.factor)), mode="area")
            scores["bilinear"].append(psnr(transfer_chroma_rgb(rgb, small, mode="bilinear"), rgb))
            scores["guided"].append(psnr(transfer_chroma_rgb(rgb, small), rgb))
            for eps in args.eps:
                scores[f"eps {eps:g}"].append(psnr(with_eps(rgb, small, eps), rgb))
        base = np.asarray(scores["bilinear"])
        row = [source, len(paths), int(statistics.median(sizes)), f"{base.mean():.2f}"]
        for name in ("guided", *(f"eps {e:g}" for e in args.eps)):
            diff = np.asarray(scores[name]) - base
            row.append(f"{diff.mean():+.3f} ({(diff > 0).mean():.0%})")
        rows.append(row)
    head = ["source", "photos", "median long side", "bilinear dB", "guided - bilinear (share better)",
            *(f"eps {e:g} - bilinear" for e in args.eps)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")


if __name__ == "__main__":
    main()
