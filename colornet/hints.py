"""Colour hints: a few painted points of colour, propagated along the photo's own lightness.

A hint layer is an RGBA picture of any size (scaled to the photo): where alpha > 0 the pixel asks for its colour's
a*b* (the photo keeps its own L) with confidence alpha. The network's ab stays the answer away from hints; a hint
*corrects* it, and the correction spreads through regions of similar lightness and stops at L edges.

The correction ``d`` (per ab channel, at the working size) minimises, in the spirit of Levin, Lischinski & Weiss,
"Colorization using Optimization" (SIGGRAPH 2004), but with the network's prediction as the data term::

    sum_p  lam * d_p^2  +  W * c_p * (d_p - (hint_p - pred_p))^2  +  sum_{p~q} w_pq * (d_p - d_q)^2

``w_pq = exp(-(L_p - L_q)^2 / 2 sigma^2)`` over 4-neighbours (edge-aware smoothness), ``c_p`` the hint confidence,
``lam`` a small pull back to the prediction that sets how far a hint reaches (``reach``, a fraction of the longer
side, so behaviour does not depend on the working size). Solving for the correction rather than for ab itself leaves
the prediction untouched (not smoothed) wherever no hint reaches. The system is symmetric positive definite and
solved matrix-free (a 5-point stencil) by Jacobi-preconditioned conjugate gradients, coarse to fine: each level
starts from the coarser level's solution, so the long-range spread costs few iterations at full working size
(benchmarks/bench_hints.py measures the time).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import ColorNetError
from .lab import rgb_to_lab
from .upsample import upsample_ab

DEFAULT_SIGMA = 4.0  # L units: neighbours this far apart in lightness are ~0.6 coupled, 3 sigma ~0.01
DEFAULT_REACH = 0.15  # a hint's correction decays by 1/e over this fraction of the longer side (in flat regions)
DEFAULT_HINT_WEIGHT = 50.0  # a confidence-1 hint pixel is held ~50x harder than its smoothness to one neighbour
COARSEST_SIDE = 24  # the coarse-to-fine cascade starts at about this many pixels on the longer side


class HintError(ColorNetError, ValueError):
    """A hint layer or mask that cannot be used (wrong shape, no alpha, different aspect ratio)."""


@dataclass
class HintLayer:
    """Hint colours ``rgb`` ``[B,3,H,W]`` in [0, 1] with confidence ``alpha`` ``[B,1,H,W]`` in [0, 1] (0 = no hint).

    Any size: ``at_size`` scales it to the photo's working size. Batch 1 applies to every image of a batch.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor

    def __post_init__(self) -> None:
        if self.rgb.dim() != 4 or self.rgb.shape[1] != 3:
            raise HintError(f"hint colours must be shaped [B, 3, H, W], got {tuple(self.rgb.shape)}")
        if self.alpha.dim() != 4 or self.alpha.shape[1] != 1:
            raise HintError(f"hint confidence must be shaped [B, 1, H, W], got {tuple(self.alpha.shape)}")
        if self.alpha.shape[0] != self.rgb.shape[0] or self.alpha.shape[-2:] != self.rgb.shape[-2:]:
            raise HintError(
                f"hint colours {tuple(self.rgb.shape)} and confidence {tuple(self.alpha.shape)} differ in batch or "
                "size: give the confidence (alpha / hints_mask) of the same picture"
            )
        if not (torch.isfinite(self.rgb).all() and torch.isfinite(self.alpha).all()):
            raise HintError("hint layer contains NaN or infinite values")

    @property
    def batch(self) -> int:
        return self.rgb.shape[0]

    def select(self, i: int) -> "HintLayer":
        """The hints of image ``i`` of a batch (a batch-1 layer applies to every image)."""
        j = 0 if self.batch == 1 else i
        return HintLayer(self.rgb[j : j + 1], self.alpha[j : j + 1])

    def at_size(self, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(hint ab ``[B,2,h,w]``, confidence ``[B,1,h,w]``) at ``height x width``.

        Downscaling keeps small hints: confidence is the *largest* alpha under each target pixel (a 3x3 hint on a 4K
        photo still counts fully at 512 px) and the colour is the alpha-weighted mean of the hints there. Upscaling
        (a hint layer smaller than the working size) repeats pixels.
        """
        check_aspect(self.rgb.shape[-2:], (height, width), "hint layer")
        rgb = self.rgb.float().clamp(0.0, 1.0)
        alpha = self.alpha.float().clamp(0.0, 1.0)
        ab = rgb_to_lab(rgb)[:, 1:]
        h0, w0 = rgb.shape[-2:]
        if h0 < height or w0 < width:  # repeat pixels up to at least the target, then pool down
            up = (max(h0, height), max(w0, width))
            ab = F.interpolate(ab, size=up, mode="nearest-exact")
            alpha = F.interpolate(alpha, size=up, mode="nearest-exact")
        if ab.shape[-2:] == (height, width):
            return ab * (alpha > 0), alpha
        weight_sum = F.adaptive_avg_pool2d(alpha, (height, width))
        ab_mean = F.adaptive_avg_pool2d(ab * alpha, (height, width)) / weight_sum.clamp_min(1e-12)
        confidence = F.adaptive_max_pool2d(alpha, (height, width))
        return ab_mean * (confidence > 0), confidence


def check_aspect(source: tuple[int, int] | torch.Size, target: tuple[int, int] | torch.Size, what: str) -> None:
    """A layer drawn on the photo scales to it; one of another shape was drawn on something else (say so)."""
    sh, sw = int(source[0]), int(source[1])
    th, tw = int(target[0]), int(target[1])
    # one pixel of rounding either way is the same picture at another size
    if abs(sh * tw - sw * th) > max(sh, sw, th, tw) + 1 and abs(sh / sw - th / tw) > 0.02 * (th / tw):
        raise HintError(
            f"{what} is {sw}x{sh} but the photo is {tw}x{th} (another aspect ratio): draw it on the same picture "
            "(any size of it)"
        )


def edge_weights(lightness: torch.Tensor, sigma: float = DEFAULT_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """Coupling of horizontal ``[B,1,h,w-1]`` and vertical ``[B,1,h-1,w]`` neighbours from L ``[B,1,h,w]``."""
    scale = -0.5 / (sigma * sigma)
    wx = torch.exp((lightness[..., :, 1:] - lightness[..., :, :-1]).square_().mul_(scale))
    wy = torch.exp((lightness[..., 1:, :] - lightness[..., :-1, :]).square_().mul_(scale))
    return wx, wy


class _System:
    """``A d = b`` of the module docstring at one resolution, applied matrix-free (5-point stencil)."""

    def __init__(self, lightness: torch.Tensor, hint_weight: torch.Tensor, lam: float, sigma: float) -> None:
        self.wx, self.wy = edge_weights(lightness, sigma)
        diag = hint_weight + lam
        diag = diag.clone()
        diag[..., :, 1:] += self.wx
        diag[..., :, :-1] += self.wx
        diag[..., 1:, :] += self.wy
        diag[..., :-1, :] += self.wy
        self.diag = diag
        self.inv_diag = diag.reciprocal()

    def apply(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out = A x``: diagonal minus the neighbours' couplings."""
        torch.mul(self.diag, x, out=out)
        fx = self.wx * (x[..., :, 1:])
        out[..., :, :-1] -= fx
        out[..., :, 1:] -= self.wx * x[..., :, :-1]
        out[..., :-1, :] -= self.wy * x[..., 1:, :]
        out[..., 1:, :] -= self.wy * x[..., :-1, :]
        return out


def _conjugate_gradients(system: _System, rhs: torch.Tensor, x: torch.Tensor, iters: int, tol: float) -> torch.Tensor:
    """Jacobi-preconditioned CG from ``x``; per image and channel, stops early once ``|r| < tol |b|``."""
    dims = (-2, -1)
    r = rhs - system.apply(x, torch.empty_like(x))
    z = r * system.inv_diag
    p = z.clone()
    rz = (r * z).sum(dims, keepdim=True)
    stop = (tol * rhs.square().sum(dims, keepdim=True).sqrt()).clamp_min(1e-6)
    ap = torch.empty_like(x)
    for _ in range(iters):
        if bool((r.square().sum(dims, keepdim=True).sqrt() <= stop).all()):
            break
        system.apply(p, ap)
        alpha = rz / (p * ap).sum(dims, keepdim=True).clamp_min(1e-30)
        x.addcmul_(alpha, p)
        r.addcmul_(alpha, ap, value=-1.0)
        torch.mul(r, system.inv_diag, out=z)
        rz_new = (r * z).sum(dims, keepdim=True)
        p.mul_(rz_new / rz.clamp_min(1e-30)).add_(z)
        rz = rz_new
    return x


def solve_correction(
    lightness: torch.Tensor,
    target: torch.Tensor,
    confidence: torch.Tensor,
    *,
    sigma: float = DEFAULT_SIGMA,
    reach: float = DEFAULT_REACH,
    hint_weight: float = DEFAULT_HINT_WEIGHT,
    iters: int = 40,
    tol: float = 1e-3,
) -> torch.Tensor:
    """Edge-aware spread of ``target`` (``hint - prediction`` where ``confidence > 0``) over L ``[B,1,h,w]``.

    Returns the correction ``d`` ``[B,C,h,w]``: ~``target`` at confident hints, decaying to 0 away from them and
    across L edges. Coarse to fine: the cascade halves down to ~``COARSEST_SIDE`` px; the coarse level is solved
    thoroughly, each finer level refines the upsampled solution with at most ``iters`` iterations.
    """
    h, w = lightness.shape[-2:]
    sizes = [(h, w)]
    while max(sizes[-1]) > 2 * COARSEST_SIDE:
        sh, sw = sizes[-1]
        sizes.append((max(1, (sh + 1) // 2), max(1, (sw + 1) // 2)))
    x: torch.Tensor | None = None
    for level, (sh, sw) in reversed(list(enumerate(sizes))):
        if (sh, sw) == (h, w):
            l_lvl, t_lvl, c_lvl = lightness, target, confidence
        else:
            l_lvl = F.adaptive_avg_pool2d(lightness, (sh, sw))
            c_lvl = F.adaptive_max_pool2d(confidence, (sh, sw))
            c_sum = F.adaptive_avg_pool2d(confidence, (sh, sw))
            t_lvl = F.adaptive_avg_pool2d(target * confidence, (sh, sw)) / c_sum.clamp_min(1e-12) * (c_lvl > 0)
        # lam sets the decay length in pixels: reach * longer side at this level
        lam = 1.0 / (reach * max(sh, sw)) ** 2
        weight = hint_weight * c_lvl
        system = _System(l_lvl, weight, lam, sigma)
        rhs = weight * t_lvl
        start = torch.zeros_like(rhs) if x is None else F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False)
        coarsest = level == len(sizes) - 1
        x = _conjugate_gradients(system, rhs, start, iters=max(iters, 4 * max(sh, sw)) if coarsest else iters, tol=tol)
    assert x is not None
    return x


def apply_hints(
    ab_low: torch.Tensor,
    l_work: torch.Tensor,
    hints: HintLayer,
    *,
    sigma: float = DEFAULT_SIGMA,
    reach: float = DEFAULT_REACH,
    hint_weight: float = DEFAULT_HINT_WEIGHT,
) -> torch.Tensor:
    """The network's ab ``[B,2,h',w']`` (any size) -> ab at the working size of ``l_work`` with the hints applied.

    The prediction is first brought to the working size with the library's upsampler (guided by ``l_work``), then
    corrected by ``solve_correction``; the caller upsamples the result to full resolution as usual.
    """
    height, width = l_work.shape[-2:]
    ab = upsample_ab(ab_low.float(), l_work, mode="guided")
    if hints.batch not in (1, ab.shape[0]):
        raise HintError(f"{hints.batch} hint layers for {ab.shape[0]} images: give one for all, or one per image")
    hint_ab, confidence = hints.at_size(height, width)
    hint_ab, confidence = hint_ab.to(ab), confidence.to(ab)
    if not bool((confidence > 0).any()):
        return ab
    target = (hint_ab - ab) * (confidence > 0)
    correction = solve_correction(l_work, target, confidence.expand(ab.shape[0], 1, height, width),
                                  sigma=sigma, reach=reach, hint_weight=hint_weight)
    return ab + correction


def hint_layer_from_image(image: object) -> HintLayer:
    """An RGBA image (path, PIL, array, tensor ``[H,W,4]``, ``RGBImage``) -> ``HintLayer``; alpha is the confidence.

    An image without alpha is refused: every pixel would be a hint, which is a recolouring, not hints.
    """
    from .images import to_rgb_image  # the one image loader

    if isinstance(image, HintLayer):
        return image
    src = to_rgb_image(image)
    if src.alpha is None:
        raise HintError(
            f"hints {src.source}: the hint image has no alpha channel; save the hints as a PNG with transparency "
            "(transparent = no hint, opaque = hint colour)"
        )
    rgb = torch.from_numpy(src.rgb).permute(2, 0, 1)[None]
    alpha = torch.from_numpy(src.alpha)[None, None]
    return HintLayer(rgb, alpha)
