"""Bring low-resolution ab up to the photo's full resolution, guided by the full-resolution L.

Chroma is smooth but its *edges* must follow the luminance edges, or colour bleeds over object borders. The fast
guided filter (He & Sun, 2015) fits, in every low-resolution window, a local linear model ``ab = A * L + b`` and
applies the upsampled ``A``, ``b`` to the full-resolution L: edges come from L at full resolution, while the cost at
full resolution is one multiply-add per pixel. Bilinear upsampling is kept as the plain alternative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

UPSAMPLE_MODES = ("guided", "bilinear")


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window, with windows cut at the border (no zero padding bias)."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False)


def guided_coefficients(
    guide_low: torch.Tensor, src_low: torch.Tensor, *, radius: int = 2, eps: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel linear model ``src ~ A * guide + b`` at low resolution. guide ``[B,1,h,w]``, src ``[B,C,h,w]``."""
    mean_i = box_filter(guide_low, radius)
    mean_p = box_filter(src_low, radius)
    cov_ip = box_filter(guide_low * src_low, radius) - mean_i * mean_p
    var_i = box_filter(guide_low * guide_low, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    # smoothing the coefficients avoids blocky artefacts where windows disagree
    return box_filter(a, radius), box_filter(b, radius)


def upsample_ab(
    ab_low: torch.Tensor,
    l_full: torch.Tensor,
    *,
    mode: str = "guided",
    radius: int = 2,
    eps: float = 1e-3,
    rows_per_strip: int | None = None,
) -> torch.Tensor:
    """ab ``[B,2,h,w]`` -> ``[B,2,H,W]`` at the size of ``l_full`` (L in [0,100], ``[B,1,H,W]``).

    ``rows_per_strip`` bounds memory on huge images: the full-resolution work is done in horizontal strips.
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"Unknown upsample mode {mode!r}; use one of {UPSAMPLE_MODES}")
    size = l_full.shape[-2:]
    if ab_low.shape[-2:] == size:
        return ab_low
    if mode == "bilinear":
        return F.interpolate(ab_low, size=size, mode="bilinear", align_corners=False)
    guide_full = l_full / 100.0
    guide_low = F.interpolate(guide_full, size=ab_low.shape[-2:], mode="area")
    a, b = guided_coefficients(guide_low, ab_low, radius=radius, eps=eps)
    # Bilinear interpolation is separable: widen the coefficients once (h x W, small), then blend rows per strip.
    coeffs = F.interpolate(torch.cat((a, b), 1), size=(a.shape[-2], size[1]), mode="bilinear", align_corners=False)
    y0, y1, wy = _row_taps(a.shape[-2], size[0], device=ab_low.device, dtype=ab_low.dtype)
    height = size[0]
    step = rows_per_strip or height
    out = torch.empty((ab_low.shape[0], ab_low.shape[1], *size), dtype=ab_low.dtype, device=ab_low.device)
    channels = ab_low.shape[1]
    for top in range(0, height, step):
        rows = slice(top, min(top + step, height))
        w = wy[rows].view(1, 1, -1, 1)
        strip = torch.lerp(coeffs[:, :, y0[rows]], coeffs[:, :, y1[rows]], w)  # (B, 2C, rows, W)
        out[:, :, rows] = torch.addcmul(strip[:, channels:], strip[:, :channels], guide_full[:, :, rows])
    return out


def _row_taps(
    src: int, dst: int, *, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows and weights of bilinear resizing ``src -> dst`` rows (PyTorch's align_corners=False rule)."""
    pos = ((torch.arange(dst, device=device, dtype=torch.float64) + 0.5) * (src / dst) - 0.5).clamp_min(0)
    y0 = pos.floor().long().clamp_max(src - 1)
    y1 = (y0 + 1).clamp_max(src - 1)
    return y0, y1, (pos - y0).to(dtype)
