"""A large colour picture brought down to a small size as a*b*, strip by strip: bounded memory at any input size.

Hint layers and chroma-transfer colour images may be far larger than the size they are used at (a 40 MP hint PNG for
a 512 px working size). Converting the whole picture to float and Lab first cost ~140 bytes a pixel (5.75 GB for
40 MP); here a strip of rows at a time is converted and pooled along the width at once, so only the narrow
intermediate (``H x width``) and one strip exist (a few bytes a source pixel in all, held as the caller's uint8).

Pooling is separable: the area average (and the maximum) over a target pixel's rectangle is the average over its
rows of the average over its columns, which is exactly ``adaptive_avg_pool2d`` (``adaptive_max_pool2d``) of the whole
picture. A side shorter than its target is repeated (``nearest-exact``), as the callers did before.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .lab import rgb_to_lab

STRIP_PIXELS = 1 << 20  # source pixels converted at once (~50 MB of float temporaries)


def _as_unit_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 0..1; any float -> float32 (unchanged values)."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def _resize_axis(x: torch.Tensor, size: int, axis: int, mode: str) -> torch.Tensor:
    """``x`` ``[B,C,H,W]`` to ``size`` along ``axis`` (-2 rows, -1 columns): area mean/max down, repeat up."""
    if x.shape[axis] == size:
        return x
    target = list(x.shape[-2:])
    target[axis] = size
    if x.shape[axis] < size:
        return F.interpolate(x, size=tuple(target), mode="nearest-exact")
    pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
    return pool(x, tuple(target))


def reduce_ab(
    rgb: torch.Tensor, alpha: torch.Tensor | None, height: int, width: int, *, strip_pixels: int = STRIP_PIXELS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RGB ``[B,3,H,W]`` (uint8, or float in [0, 1]) weighted by ``alpha`` ``[B,1,H,W]`` (None: all 1) -> at
    ``height x width``: (the alpha-weighted mean a*b* ``[B,2,h,w]``, 0 where no weight; the mean alpha
    ``[B,1,h,w]``; the largest alpha ``[B,1,h,w]``), all float32."""
    batch, _, rows, cols = rgb.shape
    device = rgb.device
    weighted = torch.empty((batch, 2, rows, width), dtype=torch.float32, device=device)
    mean_a = torch.empty((batch, 1, rows, width), dtype=torch.float32, device=device)
    max_a = torch.empty((batch, 1, rows, width), dtype=torch.float32, device=device)
    step = max(1, strip_pixels // max(1, cols * batch))
    for top in range(0, rows, step):
        band = slice(top, min(rows, top + step))
        colour = _as_unit_float(rgb[:, :, band]).clamp_(0.0, 1.0)
        a = (torch.ones_like(colour[:, :1]) if alpha is None else _as_unit_float(alpha[:, :, band]).clamp(0.0, 1.0))
        ab = rgb_to_lab(colour)[:, 1:].mul_(a)
        weighted[:, :, band] = _resize_axis(ab, width, -1, "avg")
        mean_a[:, :, band] = _resize_axis(a, width, -1, "avg")
        max_a[:, :, band] = _resize_axis(a, width, -1, "max")
    weighted = _resize_axis(weighted, height, -2, "avg")
    mean_a = _resize_axis(mean_a, height, -2, "avg")
    max_a = _resize_axis(max_a, height, -2, "max")
    ab_mean = weighted.div_(mean_a.clamp_min(1e-12)).mul_(max_a > 0)
    return ab_mean, mean_a, max_a
