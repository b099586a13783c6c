"""Ageing augmentation: make a clean photo's lightness look like an old print's before the network sees it.

Old photographs are not greyscale conversions of sharp digital photos: they are faded or crushed, grainy, soft,
dusty and scratched, and often went through JPEG on their way to the user. Sepia toning changes the print's hue but
barely its lightness, and the network only ever sees L, so toning is covered by the tone curves below. Only the
*input* L is degraded; the target ab stays the clean photo's, so the network learns to colour through the damage.

``sample_degradation(rng)`` draws one set of parameters per photo; ``apply_degradation`` applies it to any number of
L views of that photo (the local crop and the global path's copy see the same ageing).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass(frozen=True)
class Degradation:
    """One photo's ageing; each part is off at its neutral value."""

    gamma: float = 1.0  # tone curve on L/100 (faded prints: > 1 darkens mids; < 1 washes out)
    contrast: float = 1.0  # < 1 fades towards mid-grey
    black: float = 0.0  # raised black point (L units): faded shadows
    white: float = 100.0  # lowered white point: yellowed, dull highlights
    crush: float = 0.0  # > 0 steepens the midtones and clips (over-contrasty copies)
    blur: float = 0.0  # Gaussian sigma in pixels of a 112 px crop (scaled with the view's size)
    grain: float = 0.0  # noise std in L units
    grain_size: float = 0.0  # grain clump size (blur sigma of the noise, px)
    jpeg: int = 0  # JPEG quality, 0 = no JPEG
    specks: int = 0  # dust specks and short scratches per 112 x 112 px
    seed: int = 0  # for the noise and dust placement


def sample_degradation(rng: np.random.Generator) -> Degradation:
    """A random mix of ageing effects (each present with its own probability), mild to strong."""

    def maybe(p: float) -> bool:
        return bool(rng.random() < p)

    return Degradation(
        gamma=float(np.exp(rng.uniform(-0.35, 0.35))) if maybe(0.5) else 1.0,
        contrast=float(rng.uniform(0.55, 0.95)) if maybe(0.5) else 1.0,
        black=float(rng.uniform(0.0, 18.0)) if maybe(0.4) else 0.0,
        white=float(rng.uniform(80.0, 100.0)) if maybe(0.4) else 100.0,
        crush=float(rng.uniform(0.1, 0.5)) if maybe(0.2) else 0.0,
        blur=float(rng.uniform(0.3, 1.6)) if maybe(0.5) else 0.0,
        grain=float(rng.uniform(1.0, 7.0)) if maybe(0.6) else 0.0,
        grain_size=float(rng.uniform(0.0, 1.0)),
        jpeg=int(rng.integers(25, 90)) if maybe(0.4) else 0,
        specks=int(rng.integers(1, 12)) if maybe(0.3) else 0,
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[1, H, W]``; reflect padding keeps the borders."""
    if sigma < 0.2:
        return x
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma * sigma))
    k = k / k.sum()
    y = x[None]  # (1, 1, H, W)
    pad_h, pad_w = min(radius, y.shape[-2] - 1), min(radius, y.shape[-1] - 1)
    y = F.pad(y, (pad_w, pad_w, 0, 0), mode="reflect") if pad_w else y
    y = F.conv2d(y, k[radius - pad_w : radius + pad_w + 1].view(1, 1, 1, -1))
    y = F.pad(y, (0, 0, pad_h, pad_h), mode="reflect") if pad_h else y
    y = F.conv2d(y, k[radius - pad_h : radius + pad_h + 1].view(1, 1, -1, 1))
    return y[0]


def apply_degradation(lightness: torch.Tensor, d: Degradation) -> torch.Tensor:
    """Age one L view ``[1, H, W]`` in [0, 100]; returns a new tensor in [0, 100]."""
    x = lightness.float().clone()
    scale = min(x.shape[-2:]) / 112.0  # effects are sized for a 112 px crop; the global view scales them
    gen = torch.Generator().manual_seed(d.seed)
    if (d.crush, d.gamma, d.contrast, d.black, d.white) != (0.0, 1.0, 1.0, 0.0, 100.0):
        # tone: crush (a steep S-curve), gamma, fade, then black/white points
        t = (x / 100.0).clamp(0, 1)
        if d.crush:
            t = (0.5 + (t - 0.5) * (1.0 + 2.0 * d.crush)).clamp(0, 1)
        t = t.pow(d.gamma)
        t = 0.5 + (t - 0.5) * d.contrast
        x = d.black + t * (d.white - d.black)
    x = _gaussian_blur(x, d.blur * scale)
    if d.grain:
        noise = torch.randn(x.shape, generator=gen)
        if d.grain_size > 0.2:
            noise = _gaussian_blur(noise, d.grain_size * scale)
            noise = noise / noise.std().clamp_min(1e-6)
        x = x + d.grain * noise
    if d.specks:
        h, w = x.shape[-2:]
        n = max(1, int(round(d.specks * (h * w) / (112 * 112))))
        ys = torch.randint(0, h, (n,), generator=gen)
        xs = torch.randint(0, w, (n,), generator=gen)
        values = torch.where(torch.rand(n, generator=gen) < 0.5, 8.0, 95.0)
        lengths = torch.randint(1, max(2, int(6 * scale) + 1), (n,), generator=gen)
        for y0, x0, v, length in zip(ys.tolist(), xs.tolist(), values.tolist(), lengths.tolist()):
            x[0, y0 : y0 + 1 + (length if length > 3 else 1), x0 : x0 + 2] = v  # a speck or a short scratch
    x = x.clamp(0.0, 100.0)
    if d.jpeg:
        grey = Image.fromarray((x[0] * 2.55 + 0.5).clamp(0, 255).to(torch.uint8).numpy(), "L")
        buffer = io.BytesIO()
        grey.save(buffer, "JPEG", quality=d.jpeg)
        buffer.seek(0)
        decoded = np.asarray(Image.open(buffer).convert("L"), dtype=np.float32)
        x = torch.from_numpy(decoded.copy())[None] / 2.55
    return x
