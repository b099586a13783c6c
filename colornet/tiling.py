"""Full-resolution (paper) mode in overlapping tiles: the same ab as one pass, in bounded memory at any size.

Only the *local* path is tiled. The global prior is computed once from the whole photo (the caller passes it in),
exactly as in an untiled pass, so every tile is coloured with the same scene prior.

Why tiles can be exact: the local path (low-level + mid-level + fusion + colorization) is a stack of 3x3 convs with
strides 2,1,2,1,2,1 then 1,1 at 1/8, nearest 2x upsamplings and 3x3 convs at 1/4 and 1/2. Its receptive field is
lopsided (the stride-2 grids and the nearest upsamplings shift it by up to a few pixels, depending on where the output
pixel falls on them): an output pixel depends on input pixels at most ``RECEPTIVE_RADIUS`` = 63 px away (measured from
the gradients in tests/test_tiling.py). A tile whose input extends ``halo`` >= 63 px past the region it is trusted
for computes that region exactly as the whole-image
pass does -- provided tile origins sit on multiples of 8 px, so the stride-2 grids and the nearest upsamplings line up
with the whole image's. Tiles are then blended over ``ramp`` output pixels with linear weights that sum to one: where
the halo covers the receptive field the blend is of equal values (no seam at all); with a smaller user-chosen halo it
hides what would otherwise be a visible seam.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .model import ColorNet
from .prior import GlobalPrior

RECEPTIVE_RADIUS = 63  # input pixels, on the longer side of the lopsided field; see the module docstring
ALIGN = 8  # the local path downsamples by 8: tile origins must be multiples of it
DEFAULT_HALO = 64  # >= RECEPTIVE_RADIUS, rounded up to ALIGN
DEFAULT_RAMP = 8  # half-resolution output pixels over which neighbouring tiles cross-fade (16 input px)


def half_size(n: int) -> int:
    """Rows/cols of ``predict_ab_half``'s output for an input of ``n``: 3 stride-2 convs (ceil), 2 nearest 2x ups."""
    return 4 * math.ceil(n / 8)


def _spans(n: int, tile: int, margin: int) -> list[tuple[int, int]]:
    """Split ``[0, n)`` into cores (multiples of ALIGN) such that core + margin on each side is at most ``tile``."""
    if n <= tile:
        return [(0, n)]
    core_max = tile - 2 * margin
    if core_max < ALIGN:
        raise ValueError(f"tile={tile} is too small for a halo+ramp margin of {margin} px on each side")
    count = math.ceil(n / core_max)
    core = math.ceil(n / count / ALIGN) * ALIGN
    edges = [min(i * core, n) for i in range(count + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def _ramp(length: int, start: int, lo: int | None, hi: int | None, ramp: int, like: torch.Tensor) -> torch.Tensor:
    """1-D weights over output positions ``start .. start+length`` of a tile whose core is ``[lo, hi)`` (half res).

    Rising from 0 to 1 over ``[lo - ramp, lo + ramp)`` when a neighbour precedes it (``lo`` not None), falling over
    ``[hi - ramp, hi + ramp)`` when one follows; neighbours' ramps mirror each other, so the weights sum to one.
    """
    pos = torch.arange(length, device=like.device, dtype=torch.float32) + (start + 0.5)  # pixel centres
    w = torch.ones(length, device=like.device, dtype=torch.float32)
    if ramp > 0 and lo is not None:
        w = torch.minimum(w, ((pos - (lo - ramp)) / (2 * ramp)).clamp(0, 1))
    if ramp > 0 and hi is not None:
        w = torch.minimum(w, (((hi + ramp) - pos) / (2 * ramp)).clamp(0, 1))
    return w


def tile_count(height: int, width: int, tile: int | None, halo: int = DEFAULT_HALO, ramp: int = DEFAULT_RAMP) -> int:
    """How many network passes ``predict_ab_half_tiled`` makes for an input of ``height x width`` (1 untiled)."""
    if tile is None:
        return 1
    margin = halo + 2 * ramp
    return len(_spans(height, tile, margin)) * len(_spans(width, tile, margin))


def predict_ab_half_tiled(
    model: ColorNet,
    lightness: torch.Tensor,
    prior: GlobalPrior,
    *,
    tile: int = 1024,
    halo: int = DEFAULT_HALO,
    ramp: int = DEFAULT_RAMP,
    vividness: float | None = None,
    on_tile: Callable[[], None] | None = None,
) -> torch.Tensor:
    """``model.predict_ab_half(lightness, prior)`` computed in tiles of at most ``tile`` x ``tile`` input pixels.

    ``lightness``: full-resolution L ``[B,1,H,W]``; ``prior``: from the whole photo. ``halo`` (input px, a multiple of
    8) is the context each tile sees past its blended region; ``ramp`` (half-resolution px) the cross-fade width.
    ``on_tile`` is called after each network pass (``tile_count`` of them): progress, and a place to cancel.
    """
    if halo % ALIGN:
        raise ValueError(f"halo must be a multiple of {ALIGN} input pixels, got {halo}")
    b, _, height, width = lightness.shape
    margin = halo + 2 * ramp  # input px past the core: context + the part of the cross-fade outside the core
    rows, cols = _spans(height, tile, margin), _spans(width, tile, margin)
    if len(rows) == 1 and len(cols) == 1:
        ab = model.predict_ab_half(lightness, prior, vividness)
        if on_tile is not None:
            on_tile()
        return ab
    out_h, out_w = half_size(height), half_size(width)
    out = None
    weight_sum = torch.zeros(out_h, out_w, device=lightness.device, dtype=torch.float32)
    for r0, r1 in rows:
        for c0, c1 in cols:
            # input window: the core plus the margin, clipped to the photo (r0 - margin stays a multiple of 8)
            y0, y1 = max(0, r0 - margin), min(height, r1 + margin)
            x0, x1 = max(0, c0 - margin), min(width, c1 + margin)
            ab = model.predict_ab_half(lightness[:, :, y0:y1, x0:x1], prior, vividness)  # (B, 2, ~(y1-y0)/2, ~(x1-x0)/2)
            # keep the core plus the ramp (half-resolution coordinates), never the halo
            oy0 = max(y0 // 2, r0 // 2 - ramp) if r0 > 0 else 0
            oy1 = min(r1 // 2 + ramp, y0 // 2 + ab.shape[-2]) if r1 < height else out_h
            ox0 = max(x0 // 2, c0 // 2 - ramp) if c0 > 0 else 0
            ox1 = min(c1 // 2 + ramp, x0 // 2 + ab.shape[-1]) if c1 < width else out_w
            part = ab[:, :, oy0 - y0 // 2 : oy1 - y0 // 2, ox0 - x0 // 2 : ox1 - x0 // 2]
            wy = _ramp(oy1 - oy0, oy0, r0 // 2 if r0 > 0 else None, r1 // 2 if r1 < height else None, ramp, part)
            wx = _ramp(ox1 - ox0, ox0, c0 // 2 if c0 > 0 else None, c1 // 2 if c1 < width else None, ramp, part)
            w = wy[:, None] * wx[None, :]
            if out is None:
                out = torch.zeros((b, ab.shape[1], out_h, out_w), device=ab.device, dtype=ab.dtype)
            out[:, :, oy0:oy1, ox0:ox1].addcmul_(part, w.to(part.dtype))
            weight_sum[oy0:oy1, ox0:ox1] += w
            if on_tile is not None:
                on_tile()
    assert out is not None
    return out.div_(weight_sum.clamp_min(1e-12).to(out.dtype))
