"""Training throughput of each loss variant, on one fixed batch (what the colour head costs to train).

    python benchmarks/bench_train_step.py [--steps 20] [--threads 2]

Rows: the compact network with the paper's regression head (MSE), regression + chroma weight, the colour-distribution
head (soft-encoded cross-entropy with rarity rebalancing); the distribution head at half width (capacity, issue 17's
efficiency question) and on 64 px crops (a low-resolution stage); plus the per-photo cost of building a training item with
and without the ageing augmentation (``training/degrade.py``). Images/s = batch size / median step time (after
warm-up), so the numbers compare the variants; a real run adds data loading and validation.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from colornet.colorbins import ABQuantizer
from colornet.lab import rgb_to_lab
from colornet.model import ColorNet, compact_config
from training.objective import ColourLoss, Objective
from training.train import TrainingForward


def step_time(head: str, chroma_weight: float, steps: int, batch: int = 32, crop: int = 112,
              width: float = 0.25) -> float:
    torch.manual_seed(0)
    config = compact_config([f"c{i}" for i in range(104)])
    config.head, config.width = head, width
    model = ColorNet(config).train()
    forward = TrainingForward(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    colour = ColourLoss(head, chroma_weight)
    if head == "distribution":
        colour.quantizer = ABQuantizer(model.colorization.ab_centres, config.ab_grid)
        colour.bin_weight = torch.rand(config.ab_bins) + 0.5
    objective = Objective(colour, alpha=0.3)
    lab = rgb_to_lab(torch.rand(batch, 3, crop, crop))
    lightness, ab = lab[:, :1], lab[:, 1:]
    global_l = torch.rand(batch, 1, config.global_size, config.global_size) * 100
    labels = torch.randint(0, 104, (batch,))
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        out, logits = forward(lightness, global_l)
        parts = objective(out, logits, ab, labels)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def item_time(degrade: float, n: int = 200) -> float:
    from training.data import ColorizationDataset, PhotoSet, ScanSummary

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (144, 192, 3), dtype=np.uint8) for _ in range(16)]
    photos = PhotoSet(images, np.zeros(16, np.int64), [f"{i}.jpg" for i in range(16)], ["train"] * 16,
                      ScanSummary("-", True, ["c"]))
    data = ColorizationDataset(photos, list(range(16)), crop=112, global_size=128, train=True, degrade=degrade)
    t0 = time.perf_counter()
    for i in range(n):
        data[(i % 16, i)]
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch 32, 112 px crops, 128 px global path\n")
    print("| variant | step (s) | network images/s |\n|---|---:|---:|")
    rows = (("regression (MSE)", "regression", 0.0, {}), ("regression + chroma weight", "regression", 1.0, {}),
            ("distribution (soft CE, rebalanced)", "distribution", 0.0, {}),
            ("distribution, half width (0.5)", "distribution", 0.0, {"width": 0.5}),
            ("distribution, 64 px crops", "distribution", 0.0, {"crop": 64}))
    for name, head, chroma, options in rows:
        t = step_time(head, chroma, args.steps, **options)
        print(f"| {name} | {t:.3f} | {32 / t:.0f} |")
    print("\n| training item (one photo) | ms |\n|---|---:|")
    for name, p in (("clean", 0.0), ("aged (p = 1)", 1.0)):
        print(f"| {name} | {1000 * item_time(p):.2f} |")


if __name__ == "__main__":
    main()
