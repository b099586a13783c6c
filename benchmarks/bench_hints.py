"""Colour hints: PSNR against the number of ground-truth hints (Zhang et al. 2017's curve), and what hints cost.

    python benchmarks/bench_hints.py                         # 40 validation photos, 1/5/10/50 hints, 512² timing
    python benchmarks/bench_hints.py --sigma 6 --reach 0.2   # try other solver settings (colornet.hints)

Photos: the validation split of shared/data/train as the training code draws it (``training.data.split_of`` on the
relative path, ``val_fraction`` 0.05 as in training/configs/compact_cpu.py): the bundled model never trained on them.
``--limit`` photos are taken evenly from the sorted list starting at ``--offset`` (the solver's defaults were tuned
on ``--offset 1``, the reported table uses ``--offset 0``: different photos).

Hints are simulated as in Zhang et al.: ``n`` squares of 3x3 px at random positions, coloured with the ground truth
there (so every hint is in gamut), alpha 1. The colorizer sees only the photo's L plus the hints; PSNR is on sRGB
[0, 1] against the original, averaged over ``--trials`` random draws per photo.

Timing: a real photo (colornet/samples/forest_path.jpg) resized to 512x512, ``colorize_rgb`` without hints and with
10 and 50 hints, median of ``--runs`` (interleaved) after a warm-up.
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
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # training.data.split_of: the training code's own split rule

from colornet.hints import HintLayer  # noqa: E402
from colornet.pipeline import Colorizer  # noqa: E402
from training.data import split_of  # noqa: E402

HINT_COUNTS = (0, 1, 5, 10, 50)
VAL_FRACTION = 0.05  # training/configs/compact_cpu.py, the bundled checkpoint's recipe


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(1.0 / mse)


def validation_paths(data: Path, limit: int, offset: int = 0) -> list[Path]:
    """Photos the bundled model never saw: the training code's validation split, evenly spaced, sorted."""
    rel = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.jpg"))
    val = [r for r in rel if split_of(r, VAL_FRACTION) == "val"]
    step = max(1, len(val) // max(1, limit)) if limit else 1
    picked = val[offset::step][: limit or None]
    return [data / r for r in picked]


def load_rgb(path: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    img = Image.open(path).convert("RGB")
    if size is not None:
        img = img.resize(size, Image.LANCZOS)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


def random_hints(rgb: torch.Tensor, count: int, generator: torch.Generator, side: int = 3, **settings: float) -> HintLayer:
    """``count`` side x side squares of the ground truth at random positions (alpha 1), the rest transparent."""
    _, _, height, width = rgb.shape
    alpha = torch.zeros(1, 1, height, width)
    ys = torch.randint(0, height - side + 1, (count,), generator=generator)
    xs = torch.randint(0, width - side + 1, (count,), generator=generator)
    for y, x in zip(ys.tolist(), xs.tolist()):
        alpha[..., y : y + side, x : x + side] = 1.0
    return HintLayer(rgb, alpha, **settings)


def hint_curve(colorizer: Colorizer, photos: list[torch.Tensor], counts: tuple[int, ...], trials: int,
               settings: dict[str, float] | None = None) -> dict[int, list[float]]:
    """Mean PSNR per photo for each hint count (0 = the automatic result)."""
    scores: dict[int, list[float]] = {n: [] for n in counts}
    for index, rgb in enumerate(photos):
        base = colorizer.colorize_rgb(rgb)
        for n in counts:
            if n == 0:
                scores[n].append(psnr(base, rgb))
                continue
            gen = torch.Generator().manual_seed(1000 * index + n)
            runs = [psnr(colorizer.colorize_rgb(rgb, hints=random_hints(rgb, n, gen, **(settings or {}))), rgb)
                    for _ in range(trials)]
            scores[n].append(statistics.mean(runs))
    return scores


def timing(colorizer: Colorizer, rgb: torch.Tensor, runs: int, settings: dict[str, float] | None = None) -> dict[int, float]:
    """Median seconds per hint count; the counts take turns within each run, so a busy moment on a shared machine
    slows all of them rather than one row."""
    hints = {n: random_hints(rgb, n, torch.Generator().manual_seed(n), **(settings or {})) if n else None
             for n in (0, 10, 50)}
    samples: dict[int, list[float]] = {n: [] for n in hints}
    for n, layer in hints.items():
        colorizer.colorize_rgb(rgb, hints=layer)  # warm-up
    for _ in range(runs):
        for n, layer in hints.items():
            start = time.perf_counter()
            colorizer.colorize_rgb(rgb, hints=layer)
            samples[n].append(time.perf_counter() - start)
    return {n: statistics.median(t) for n, t in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/work/shared/data/train")
    parser.add_argument("--weights", default=None, help="checkpoint path or manifest name (default: bundled)")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--trials", type=int, default=3, help="random hint draws per photo and count")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per timing row")
    parser.add_argument("--sigma", type=float, default=None)
    parser.add_argument("--reach", type=float, default=None)
    parser.add_argument("--hint-weight", type=float, default=None)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--out", default=None, help="also write the tables (markdown) to this file")
    args = parser.parse_args()

    settings = {k: v for k, v in (("sigma", args.sigma), ("reach", args.reach), ("hint_weight", args.hint_weight))
                if v is not None}
    probe = HintLayer(torch.zeros(1, 3, 1, 1), torch.zeros(1, 1, 1, 1), **settings)  # validated, with defaults

    colorizer = Colorizer.from_pretrained(args.weights, device="cpu")
    paths = validation_paths(Path(args.data), args.limit, args.offset)
    if not paths:
        sys.exit(f"No validation photos under {args.data}")
    photos = [load_rgb(p) for p in paths]
    scores = hint_curve(colorizer, photos, HINT_COUNTS, args.trials, settings)
    base = statistics.mean(scores[0])
    described = f"sigma {probe.sigma:g}, reach {probe.reach:g}, hint weight {probe.hint_weight:g}"
    lines = [
        f"Photos: {len(photos)} validation photos of {args.data} (offset {args.offset}), e.g. "
        f"{photos[0].shape[-1]}x{photos[0].shape[-2]}; {args.trials} random draws of 3x3 ground-truth hints each; "
        f"solver: {described}",
        "",
        "| hints | mean PSNR (dB) | gain over no hints (dB) | photos improved |",
        "|---:|---:|---:|---:|",
    ]
    for n in HINT_COUNTS:
        mean = statistics.mean(scores[n])
        better = sum(s > b for s, b in zip(scores[n], scores[0]))
        lines.append(f"| {n} | {mean:.2f} | {mean - base:+.2f} | {better}/{len(photos)} |" if n else
                     f"| 0 (automatic) | {mean:.2f} | - | - |")
    if not args.no_timing:
        rgb = load_rgb(ROOT / "colornet" / "samples" / "forest_path.jpg", (512, 512))
        times = timing(colorizer, rgb, args.runs, settings)
        lines += [
            "",
            f"Time, 512x512 real photo, torch threads {torch.get_num_threads()} (median of {args.runs}):",
            "",
            "| hints | time (s) | extra over no hints (s) |",
            "|---:|---:|---:|",
        ]
        for n, t in times.items():
            lines.append(f"| {n} | {t:.3f} | {'-' if n == 0 else f'{t - times[0]:+.3f}'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
