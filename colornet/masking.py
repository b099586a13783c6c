"""Mask-limited colorization: colour only where the mask says, leave every other pixel exactly as it was.

A mask is 1 (white) where to colorize and 0 (black) where to keep the input. At 0 the output *is* the input pixel
(a colour photo keeps its colours, a grey one stays grey: copied, not recomputed through Lab, so it is exact to the
bit); at 1 it is the colorized pixel; in between the two are blended in Lab: the input's L with a*b* interpolated,
so a soft edge fades the colour without changing lightness.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .fastlab import image_strips
from .hints import HintError, check_aspect
from .images import DEFAULT_MAX_MEGAPIXELS
from .lab import lab_to_rgb, rgb_to_lab


def _as_batch(mask: torch.Tensor) -> torch.Tensor:
    """``[H,W]`` -> ``[1,1,H,W]``, ``[B,H,W]`` (ComfyUI's MASK) -> ``[B,1,H,W]``; anything else unchanged."""
    if mask.dim() == 2:
        return mask[None, None]
    if mask.dim() == 3:
        return mask[:, None]
    return mask


def mask_to_size(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A mask ``[H,W]``, ``[B,H,W]`` or ``[B,1,H,W]`` of any size (same aspect) -> ``[B,1,height,width]`` in [0, 1].

    Resized bilinearly (a soft edge stays soft); values are clamped to [0, 1], so exact 0 and 1 survive.
    """
    mask = _as_batch(mask)
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] == 0 or 0 in mask.shape[-2:]:
        raise HintError(f"a mask must be shaped [H, W], [B, H, W] or [B, 1, H, W], got {tuple(mask.shape)}")
    mask = mask.float()
    if not bool(torch.isfinite(mask).all()):
        raise HintError("the mask contains NaN or infinite values")
    if mask.shape[-2:] != (height, width):
        check_aspect(mask.shape[-2:], (height, width), "mask")
        mask = F.interpolate(mask, size=(height, width), mode="bilinear", align_corners=False)
    return mask.clamp(0.0, 1.0)


def blend_masked(original: torch.Tensor, colorized: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``colorized`` where ``mask`` is 1, ``original`` (bit for bit) where it is 0, Lab blend (input L) between.

    ``original`` and ``colorized`` are RGB ``[B,3,H,W]`` in [0, 1]; ``mask`` any form ``mask_to_size`` takes, with
    batch 1 or B. Works strip by strip and writes into ``colorized``, which is returned.
    """
    batch, _, height, width = original.shape
    mask = mask_to_size(mask, height, width).to(original.device)
    if mask.shape[0] not in (1, batch):
        raise HintError(f"{mask.shape[0]} masks for {batch} images: give one for all, or one per image")
    mask = mask.expand(batch, 1, height, width)
    for rows in image_strips(original):
        m, src, dst = mask[:, :, rows], original[:, :, rows], colorized[:, :, rows]
        soft = (m > 0) & (m < 1)
        if bool(soft.any()):
            lab_src = rgb_to_lab(src)
            ab_dst = rgb_to_lab(dst)[:, 1:]
            ab = torch.lerp(lab_src[:, 1:], ab_dst, m)
            blended = lab_to_rgb(torch.cat((lab_src[:, :1], ab), 1))
            dst.copy_(torch.where(soft, blended, dst))
        dst.copy_(torch.where(m <= 0, src, dst))
    return colorized


def check_mask_fits(mask: torch.Tensor, batch: int, photo_size: tuple[int, int] | torch.Size) -> None:
    """Before any work: a usable mask, one for all images or one per image, of the photo's aspect (``check_aspect``)."""
    mask = _as_batch(mask)
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] == 0 or 0 in mask.shape[-2:]:
        raise HintError(f"a mask must be shaped [H, W], [B, H, W] or [B, 1, H, W], got {tuple(mask.shape)}")
    if mask.shape[0] not in (1, batch):
        raise HintError(f"{mask.shape[0]} masks for {batch} images: give one for all, or one per image")
    check_aspect(mask.shape[-2:], photo_size, "mask")


def mask_from_image(image: object, *, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> torch.Tensor:
    """A mask -> ``[B,1,H,W]`` in [0, 1], white = 1 = colorize. A tensor is taken as mask values (``[H,W]``,
    ``[B,H,W]`` or ``[B,1,H,W]``); a picture (path, PIL, numpy array) counts by the mean of its R, G and B, and its
    alpha, if any, is ignored (draw the mask in black and white). A file above ``max_megapixels`` (the photos' own
    budget; None = no limit) is refused from its header; the mean is taken in strips of the uint8 pixels (4 bytes a
    pixel in all, not a float copy of the picture).
    """
    from .images import to_rgb_image  # the one image loader

    if isinstance(image, torch.Tensor):
        return _as_batch(image.detach().float())
    src = to_rgb_image(image, keep_uint8=True, max_megapixels=max_megapixels)
    scale = np.float32(1.0 / (255.0 * 3.0) if src.rgb.dtype == np.uint8 else 1.0 / 3.0)
    out = np.empty(src.rgb.shape[:2], np.float32)
    step = max(1, (1 << 20) // max(1, out.shape[1]))
    for top in range(0, out.shape[0], step):
        band = src.rgb[top : top + step]
        np.multiply(band.sum(axis=2, dtype=np.float32), scale, out=out[top : top + step])
    return torch.from_numpy(out)[None, None]
