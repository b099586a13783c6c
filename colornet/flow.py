"""Dense optical flow between two small lightness images, and warping by it.

Temporal smoothing (``colornet.temporal``) has to compare a pixel with *the same point of the scene* in the previous
frame, not with the same pixel position: under a camera pan the two differ everywhere. This module finds that point
with pyramidal Lucas-Kanade (local least squares on image gradients, coarse to fine): pure torch, no extra
dependency, and cheap because it runs on the network's low-resolution grid (a few hundred pixels wide), never on the
full-size frame. Where it fails (occlusions, very fast motion) the smoother sees a large L mismatch after warping and
does not blend, so a wrong vector costs smoothing, not colour.

Convention: ``flow[:, :, y, x] = (dx, dy)`` says that pixel ``(x, y)`` of ``current`` shows what pixel
``(x + dx, y + dy)`` of ``previous`` showed, so ``warp(previous, flow)`` lines ``previous`` up with ``current``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .upsample import box_filter


def _base_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    ys = torch.arange(height, dtype=like.dtype, device=like.device)
    xs = torch.arange(width, dtype=like.dtype, device=like.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy))[None]  # (1, 2, H, W) pixel coordinates (x, y)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` ``[B,C,H,W]`` at ``pixel + flow`` (bilinear; positions outside repeat the border)."""
    h, w = image.shape[-2:]
    pos = _base_grid(h, w, flow) + flow
    grid = torch.stack((pos[:, 0] * (2.0 / max(w - 1, 1)) - 1.0, pos[:, 1] * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def inside(flow: torch.Tensor) -> torch.Tensor:
    """``[B,1,H,W]`` bool: where ``pixel + flow`` falls inside the previous frame (elsewhere there is nothing to
    compare with: content that entered the picture)."""
    h, w = flow.shape[-2:]
    pos = _base_grid(h, w, flow) + flow
    ok = (pos[:, 0] >= -0.5) & (pos[:, 0] <= w - 0.5) & (pos[:, 1] >= -0.5) & (pos[:, 1] <= h - 0.5)
    return ok[:, None]


def _gradients(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences with replicated borders, ``[B,1,H,W]`` each."""
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate")
    gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) * 0.5
    gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) * 0.5
    return gx, gy


def _lk_step(
    previous: torch.Tensor, current: torch.Tensor, flow: torch.Tensor, radius: int, eps: float
) -> torch.Tensor:
    """One Gauss-Newton update of the flow at one pyramid level (windowed least squares, Tikhonov-damped)."""
    moved = warp(previous, flow)
    gx1, gy1 = _gradients(moved)
    gx2, gy2 = _gradients(current)
    gx, gy = (gx1 + gx2) * 0.5, (gy1 + gy2) * 0.5  # symmetric gradient: steadier than either image's alone
    diff = moved - current
    sums = box_filter(torch.cat((gx * gx, gy * gy, gx * gy, gx * diff, gy * diff), 1), radius)  # one pass, 5 maps
    sxx, syy, sxy, bx, by = sums.split(1, dim=1)
    sxx, syy = sxx + eps, syy + eps
    det = sxx * syy - sxy * sxy
    # moving previous by +d changes moved by grad * d: solve (G) d = -b
    dx = -(syy * bx - sxy * by) / det
    dy = -(sxx * by - sxy * bx) / det
    return flow + torch.cat((dx, dy), 1)


def _resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Flow at another resolution: resampled, and its vectors scaled to the new pixel size."""
    scale = torch.tensor([size[1] / flow.shape[-1], size[0] / flow.shape[-2]], dtype=flow.dtype, device=flow.device)
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False) * scale.view(1, 2, 1, 1)


def estimate_flow(
    previous: torch.Tensor,
    current: torch.Tensor,
    *,
    levels: int = 4,
    iterations: int = 3,
    radius: int = 5,
    eps: float = 1e-3,
    max_side: int | None = None,
) -> torch.Tensor:
    """Flow ``[B,2,H,W]`` (pixels) that maps ``current`` onto ``previous``; inputs are L ``[B,1,H,W]`` in [0, 100].

    ``levels`` halvings (fewer when the image is small) let it follow motions of ~2^levels pixels per frame;
    ``eps`` damps flat areas, where gradients say nothing, towards the coarser level's estimate. ``max_side``:
    estimate on copies area-averaged to at most that many pixels and scale the (smooth) flow back up.
    """
    if previous.shape != current.shape or previous.dim() != 4 or previous.shape[1] != 1:
        raise ValueError(f"estimate_flow needs two [B,1,H,W] images of one shape, got {tuple(previous.shape)} "
                         f"and {tuple(current.shape)}")
    h, w = previous.shape[-2:]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        small = estimate_flow(F.interpolate(previous.float(), size=size, mode="area"),
                              F.interpolate(current.float(), size=size, mode="area"),
                              levels=levels, iterations=iterations, radius=radius, eps=eps)
        return _resize_flow(small, (h, w))
    prev_pyr, cur_pyr = [previous.float() / 100.0], [current.float() / 100.0]
    while len(prev_pyr) < levels and min(prev_pyr[-1].shape[-2:]) >= 16:
        prev_pyr.append(F.avg_pool2d(prev_pyr[-1], 2, ceil_mode=True))
        cur_pyr.append(F.avg_pool2d(cur_pyr[-1], 2, ceil_mode=True))
    flow = torch.zeros((previous.shape[0], 2, *prev_pyr[-1].shape[-2:]), dtype=torch.float32, device=previous.device)
    for level in range(len(prev_pyr) - 1, -1, -1):
        prev, cur = prev_pyr[level], cur_pyr[level]
        if flow.shape[-2:] != cur.shape[-2:]:
            flow = _resize_flow(flow, tuple(cur.shape[-2:]))
        for _ in range(iterations):
            flow = _lk_step(prev, cur, flow, radius, eps)
        flow = box_filter(flow, 1)  # one 3x3 mean: removes isolated outliers before the next, finer level
    return flow
