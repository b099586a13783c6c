"""Bring half-resolution ab up to the photo's full resolution, guided by the full-resolution L.

Chroma is smooth but its *edges* must follow the luminance edges, or colour bleeds over object borders. In every
low-resolution window the guided filter (He & Sun) fits the local slope ``A`` of ab against L; the upsampler adds
``A`` times the L detail that the low resolution lost to the bilinear ab (see ``ABUpsampler``): edges come from L at
full resolution, flat regions stay exactly bilinear, and the full-resolution cost is two multiply-adds per pixel.
Bilinear upsampling is kept as the plain alternative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .fastlab import strips

UPSAMPLE_MODES = ("guided", "bilinear")


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window, with windows cut at the border (no zero padding bias)."""
    if radius <= 0:
        return x
    # separable running sums: the same clipped-window mean as avg_pool2d(count_include_pad=False), but O(1) per
    # pixel whatever the radius (the optical flow's 11x11 windows were most of its time as a 2-D pool)
    return _box_1d(_box_1d(x, radius, -1), radius, -2)


def _box_1d(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    sums = torch.cumsum(x, dim)
    sums = torch.cat((torch.zeros_like(sums.narrow(dim, 0, 1)), sums), dim)
    i = torch.arange(n, device=x.device)
    hi, lo = (i + radius + 1).clamp(max=n), (i - radius).clamp(min=0)
    shape = [1] * x.dim()
    shape[dim] = n
    return (sums.index_select(dim, hi) - sums.index_select(dim, lo)) / (hi - lo).to(x.dtype).view(shape)


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


class ABUpsampler:
    """Low-resolution ab -> full-resolution ab, one horizontal strip at a time (bounded memory at any size).

    ``guided`` (guided *detail transfer*): ``ab = up(ab_half) + up(A) * (L - up(L_low))``. ``A`` is the guided
    filter's local slope of ab against L (He & Sun), fitted in 3x3 low-resolution windows; it is applied only to the
    detail of L that the low resolution lost. Where ab does not follow L (flat colour, texture) ``A ~ 0`` and the
    result is plain bilinear; at an object border the L edge sharpens the ab edge. (The plain fast guided filter,
    ``A * L + b`` with box-filtered ``b``, blurred ab by its two box filters and measured *below* bilinear on
    real photos: see benchmarks/README.md.) Everything is widened to the full width once (bilinear is separable,
    ``h x W`` is small), so a strip only blends two rows and does two multiply-adds.
    ``bilinear``: the same machinery on ab alone.
    """

    def __init__(
        self, ab_half: torch.Tensor, l_full: torch.Tensor, *, mode: str = "guided", radius: int = 1, eps: float = 1e-2
    ):
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"Unknown upsample mode {mode!r}; use one of {UPSAMPLE_MODES}")
        self.size = tuple(l_full.shape[-2:])
        self.channels = ab_half.shape[1]
        # same size: nothing to bring up, and the guided detail term is exactly 0 (L minus itself): skip its filters
        self.guided = mode == "guided" and tuple(ab_half.shape[-2:]) != self.size
        if self.guided:
            l_low = F.interpolate(l_full, size=ab_half.shape[-2:], mode="area")  # (B, 1, h, w), L in [0, 100]
            a, _ = guided_coefficients(l_low / 100.0, ab_half, radius=radius, eps=eps)
            low = torch.cat((a / 100.0, ab_half, l_low), 1)  # (B, 2C+1, h, w): slope per unit of L, ab, low-res L
        else:
            low = ab_half
        self.coeffs = F.interpolate(low, size=(low.shape[-2], self.size[1]), mode="bilinear", align_corners=False)
        self.y0, self.y1, self.wy = _row_taps(low.shape[-2], self.size[0], device=ab_half.device, dtype=ab_half.dtype)

    def strip(self, top: int, bottom: int, l_strip: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """ab ``[B,C,rows,W]`` for full-resolution rows ``top:bottom`` (``l_strip`` is L of those rows)."""
        rows = slice(top, bottom)
        lo = self.coeffs.index_select(2, self.y0[rows])
        hi = self.coeffs.index_select(2, self.y1[rows])
        blended = lo.lerp_(hi, self.wy[rows].view(1, 1, -1, 1))  # (B, 2C or C, rows, W)
        if not self.guided:
            return blended if out is None else out.copy_(blended)
        c = self.channels
        detail = torch.sub(l_strip, blended[:, 2 * c :])  # (B, 1, rows, W): L detail lost at low resolution
        if out is None:
            return torch.addcmul(blended[:, c : 2 * c], blended[:, :c], detail)
        return torch.addcmul(blended[:, c : 2 * c], blended[:, :c], detail, out=out)


def upsample_ab(
    ab_half: torch.Tensor,
    l_full: torch.Tensor,
    *,
    mode: str = "guided",
    radius: int = 1,
    eps: float = 1e-2,
    rows_per_strip: int | None = None,
) -> torch.Tensor:
    """ab ``[B,2,h,w]`` -> ``[B,2,H,W]`` at the size of ``l_full`` (L in [0,100], ``[B,1,H,W]``).

    ``rows_per_strip`` bounds memory on huge images: the full-resolution work is done in horizontal strips.
    (The pipeline does not call this: it fuses the strips of ``ABUpsampler`` with the Lab -> RGB conversion.)
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"Unknown upsample mode {mode!r}; use one of {UPSAMPLE_MODES}")
    size = l_full.shape[-2:]
    if ab_half.shape[-2:] == size:
        return ab_half
    up = ABUpsampler(ab_half, l_full, mode=mode, radius=radius, eps=eps)
    out = torch.empty((ab_half.shape[0], ab_half.shape[1], *size), dtype=ab_half.dtype, device=ab_half.device)
    for rows in strips(size[0], rows_per_strip or size[0]):
        up.strip(rows.start, rows.stop, l_full[:, :, rows], out=out[:, :, rows])
    return out


def _row_taps(
    src: int, dst: int, *, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows and weights of bilinear resizing ``src -> dst`` rows (PyTorch's align_corners=False rule)."""
    pos = ((torch.arange(dst, device=device, dtype=torch.float64) + 0.5) * (src / dst) - 0.5).clamp_min(0)
    y0 = pos.floor().long().clamp_max(src - 1)
    y1 = (y0 + 1).clamp_max(src - 1)
    return y0, y1, (pos - y0).to(dtype)
