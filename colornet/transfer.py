"""Chroma transfer: the full-resolution lightness of one picture with the colours of another (of any size).

The typical use: a diffusion model renders a small colour version of a scan; its colours, brought up to the scan's
full resolution *guided by the scan's own L* (``colornet.upsample``, the same upsampler the colorizer uses), give a
full-resolution colour picture whose detail is entirely the scan's. Colours are taken as a*b* (CIE Lab), so the
render's own lightness, which never matches the scan exactly, is ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .errors import InputError
from .fastlab import Workspace, compose_into, image_strips, luminance
from .hints import check_aspect
from .images import DEFAULT_MAX_MEGAPIXELS, RGBImage, to_pil, to_rgb_image
from .lab import rgb_to_lab
from .reduce import reduce_ab
from .upsample import ABUpsampler

# The guided upsampler's regulariser for colour brought up from a much smaller picture: its local slope of ab against
# L is fitted in 3x3 windows of the *small* image, noisier at 4x than at the colorizer's 2x, so it is regularised
# more than the colorizer's 1e-2 (benchmarks/bench_transfer.py measures eps per source of photos).
TRANSFER_EPS = 0.05


def transfer_chroma_rgb(luma: torch.Tensor, color: torch.Tensor, *, mode: str = "guided") -> torch.Tensor:
    """RGB ``[B,3,H,W]`` (its L is kept) + RGB ``[B or 1,3,h,w]`` (its ab is used) -> RGB ``[B,3,H,W]`` in [0, 1].

    ``color`` may be smaller (upsampled guided by ``luma``'s L; ``mode="bilinear"`` for the plain alternative) or
    larger (area-averaged down first) than ``luma``, but must show the same picture (same aspect ratio).
    """
    if luma.dim() != 4 or luma.shape[1] != 3 or color.dim() != 4 or color.shape[1] != 3:
        raise InputError(f"transfer_chroma_rgb expects RGB [B,3,H,W] tensors, got {tuple(luma.shape)} and {tuple(color.shape)}")
    if color.shape[0] not in (1, luma.shape[0]):
        raise InputError(f"{color.shape[0]} colour images for {luma.shape[0]} luma images: give one, or one per image")
    check_aspect(color.shape[-2:], luma.shape[-2:], "the colour image")
    for name, image in (("luma", luma), ("color", color)):  # one NaN would spread over a whole guided window
        if image.is_floating_point() and not bool(torch.isfinite(image).all()):
            raise InputError(f"the {name} image contains NaN or infinite pixels; fix or re-export it")
    luma = luma.float() if luma.dtype != torch.uint8 else luma.float().div_(255.0)
    height, width = luma.shape[-2:]
    lightness = luminance(luma)
    h, w = color.shape[-2:]
    color = color.to(luma.device)
    if h > height or w > width:  # larger colour image: average it down in strips (never sample it: aliasing)
        ab = reduce_ab(color, None, min(h, height), min(w, width))[0]
    else:
        ab = rgb_to_lab(color.float().div_(255.0) if color.dtype == torch.uint8 else color.float())[:, 1:]
    ab = ab.expand(luma.shape[0], -1, -1, -1)
    up = ABUpsampler(ab, lightness, mode=mode, eps=TRANSFER_EPS)
    out = torch.empty((luma.shape[0], 3, height, width), dtype=torch.float32, device=luma.device)
    ws = Workspace(luma.device)
    for rows in image_strips(lightness):
        l_strip = lightness[:, :, rows]
        ab_strip = up.strip(rows.start, rows.stop, l_strip, out=ws.get("ab", (luma.shape[0], 2, *l_strip.shape[-2:])))
        compose_into(l_strip, ab_strip, out[:, :, rows], ws)
    return out


def transfer_chroma(luma: Any, color: Any, *, mode: str = "guided",
                    max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> Any:
    """``luma``'s full-resolution L + ``color``'s a*b* -> the colour picture, returned as the kind ``luma`` was.

    Paths, PIL images, numpy arrays (``[H,W,3|4]``, uint8/uint16/float) and tensors (``[H,W,C]``) are accepted;
    ``luma``'s alpha is passed through. A path returns a PIL image. Files above ``max_megapixels`` (None: no limit)
    are refused from their header; an 8-bit colour image stays uint8 until it is reduced in strips.
    """
    src = to_rgb_image(luma, max_megapixels=max_megapixels)
    col = to_rgb_image(color, keep_uint8=True, max_megapixels=max_megapixels)
    rgb = transfer_chroma_rgb(_batch(src), _batch(col), mode=mode)[0].permute(1, 2, 0).numpy()
    if isinstance(luma, (torch.Tensor, np.ndarray)):
        arr = rgb if src.alpha is None else np.dstack((rgb, src.alpha))
        return torch.from_numpy(arr) if isinstance(luma, torch.Tensor) else arr
    if isinstance(luma, RGBImage):
        return RGBImage(rgb, src.alpha, src.bit_depth, src.source, src.metadata)
    return to_pil(rgb, src.alpha)


def _batch(image: RGBImage) -> torch.Tensor:
    return torch.from_numpy(image.rgb).permute(2, 0, 1)[None]
