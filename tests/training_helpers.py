"""Tiny photo folders and run arguments for the training tests (seconds, not minutes, on a CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# A network small enough that a step takes milliseconds: 32 px crops, a 32 px global path, width 1/8.
TINY_ARGS = [
    "--crop_size=32", "--store_side=48", "--width=0.125", "--global_size=32", "--batch_size=4",
    "--val_fraction=0.2", "--progress=False", "--cache_data=False", "--threads=1", "--log_interval=1",
    "--crop_min_scale=0.7", "--export=False",
]

HUES = {"red": (0.9, 0.3, 0.2), "green": (0.2, 0.8, 0.3), "blue": (0.2, 0.4, 0.9)}


def colour_photo(rng: np.random.Generator, tint, size=(40, 52)) -> np.ndarray:
    """A smooth, clearly coloured uint8 photo: a tinted gradient plus a random blob."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.3 + 0.6 * (0.5 * yy + 0.5 * xx)[..., None] * np.asarray(tint)[None, None]
    cy, cx = rng.uniform(0.2, 0.8, 2)
    blob = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03))[..., None] * rng.uniform(0, 1, 3)
    return (np.clip(base + 0.4 * blob, 0, 1) * 255).astype(np.uint8)


def make_photo_folder(root: Path, *, per_class: int = 8, classes=("red", "green", "blue"), flat: bool = False,
                      seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in classes:
        folder = root if flat else root / name
        folder.mkdir(exist_ok=True)
        for i in range(per_class):
            h, w = int(rng.integers(36, 64)), int(rng.integers(36, 64))
            Image.fromarray(colour_photo(rng, HUES[name], (h, w))).save(folder / f"{name}_{i:03d}.jpg", quality=92)
    return root
