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

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import HintError
from .images import DEFAULT_MAX_MEGAPIXELS
from .reduce import reduce_ab
from .upsample import upsample_ab

DEFAULT_SIGMA = 6.0  # L units: neighbours this far apart in lightness are ~0.6 coupled, 3 sigma ~0.01
DEFAULT_REACH = 0.3  # a hint's correction decays by 1/e over this fraction of the longer side (in flat regions)
DEFAULT_HINT_WEIGHT = 50.0  # a confidence-1 hint pixel is held ~50x harder than its smoothness to one neighbour
CUT_COUPLING = 0.05  # a block whose weaker half-to-half coupling is below this holds a strong edge (cut it off)
COARSEST_SIDE = 24  # the coarse-to-fine cascade starts at about this many pixels on the longer side
PAINT_START, PAINT_FULL = 4.0, 12.0  # a*b* distance from the photo's own tone: paint begins / is fully confident
GREY_CHROMA = 4.0  # a hint colour within this a*b* radius of neutral is grey
MOST_OF_PICTURE = 0.5  # hints (or paint) covering more than this fraction of the picture cannot be meant as hints


# The accepted ranges of the solver settings: outside them the system over- or underflows (reach 1e-30 makes the
# pull-back 1e60: an all-NaN picture) or stops meaning anything (a hint weight of 1e9 is an exact constraint CG
# cannot reach in its iterations).
SETTING_RANGES = {"sigma": (0.01, 1000.0), "reach": (0.001, 100.0), "hint_weight": (0.001, 1e6)}
_UNIT_SLACK = 0.05  # float hint colours / confidences may stray this far outside [0, 1] (filters, resampling): clamped


def check_hint_settings(sigma: float, reach: float, hint_weight: float) -> None:
    """The one rule for the solver settings (the nodes and the CLI ask this too): finite, inside ``SETTING_RANGES``."""
    for name, value in (("sigma", sigma), ("reach", reach), ("hint_weight", hint_weight)):
        low, high = SETTING_RANGES[name]
        try:
            ok = math.isfinite(float(value)) and low <= float(value) <= high
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise HintError(f"hint {name} must be a number from {low:g} to {high:g}, got {value!r}")


def _check_unit_range(x: torch.Tensor, what: str) -> None:
    """uint8 (0..255) is taken as /255; a float must be finite and in [0, 1] (not 0..255 floats, silently clamped)."""
    if x.dtype == torch.uint8:
        return
    if not x.is_floating_point():
        raise HintError(f"{what} must be uint8 (0..255) or float (0..1), got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise HintError(f"{what} contain NaN or infinite values")
    low, high = float(x.min()), float(x.max())
    if low < -_UNIT_SLACK or high > 1.0 + _UNIT_SLACK:
        raise HintError(f"{what} must be in [0, 1] as floats (or uint8 0..255), got values from {low:g} to "
                        f"{high:g}; divide 0..255 values by 255")


@dataclass
class HintLayer:
    """Hint colours ``rgb`` ``[B,3,H,W]`` with confidence ``alpha`` ``[B,1,H,W]`` (0 = no hint); each float in [0, 1]
    or uint8 in 0..255 (kept as uint8: a quarter of the memory of a large hint picture).

    Any size of the photo's aspect (``check_aspect``): ``at_size`` brings it to the photo's working size in strips.
    Batch 1 applies to every image of a batch. The solver settings travel with the hints (``solve_correction``):
    ``reach`` is how far a hint spreads in flat regions (fraction of the longer side), ``sigma`` how strongly
    lightness differences stop it (L units); accepted ranges in ``SETTING_RANGES``.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor
    sigma: float = DEFAULT_SIGMA
    reach: float = DEFAULT_REACH
    hint_weight: float = DEFAULT_HINT_WEIGHT

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
        if 0 in self.rgb.shape:
            raise HintError(f"the hint layer is empty (shape {tuple(self.rgb.shape)}): give at least one 1x1 picture")
        _check_unit_range(self.rgb, "hint colours")
        _check_unit_range(self.alpha, "hint confidences")
        check_hint_settings(self.sigma, self.reach, self.hint_weight)

    @property
    def batch(self) -> int:
        return self.rgb.shape[0]

    def select(self, i: int) -> "HintLayer":
        """The hints of image ``i`` of a batch (a batch-1 layer applies to every image)."""
        j = 0 if self.batch == 1 else i
        return dataclasses.replace(self, rgb=self.rgb[j : j + 1], alpha=self.alpha[j : j + 1])

    def at_size(self, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(hint ab ``[B,2,h,w]``, confidence ``[B,1,h,w]``) at ``height x width``.

        Downscaling keeps small hints: confidence is the *largest* alpha under each target pixel (a 3x3 hint on a 4K
        photo still counts fully at 512 px) and the colour is the alpha-weighted mean of the hints there. Upscaling
        (a hint layer smaller than the working size) repeats pixels. Done strip by strip (``colornet.reduce``): a
        40 MP hint picture costs a few bytes a pixel, not a float Lab copy of itself.
        """
        ab, _, confidence = reduce_ab(self.rgb, self.alpha, height, width)
        return ab, confidence


def painted_hints(rgb: torch.Tensor) -> HintLayer:
    """Colour painted onto a black-and-white photo (e.g. with ComfyUI's mask-editor paint brush) -> ``HintLayer``.

    ``rgb`` ``[B,3,H,W]`` in [0, 1] is the photo with the paint on it. A pixel is paint where its a*b* is far from
    the photo's own tone at that lightness (``photo_tone``: a sepia or blue-toned print is not paint): confidence rises
    from 0 at ``PAINT_START`` to 1 at ``PAINT_FULL`` a*b* units (soft brush edges count less). The hint colour is
    the pixel's own. Raises ``HintError`` when nothing is painted, or when most of the picture is coloured (a colour
    photo, not paint on a black-and-white one).
    """
    from .fastlab import split_lab

    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise HintError(f"painted hints must be an RGB picture shaped [B, 3, H, W], got {tuple(rgb.shape)}")
    lightness, ab = split_lab(rgb.float().clamp(0.0, 1.0))
    distance = (ab - photo_tone(lightness, ab)).norm(dim=1, keepdim=True)
    alpha = ((distance - PAINT_START) / (PAINT_FULL - PAINT_START)).clamp_(0.0, 1.0)
    for i in range(alpha.shape[0]):
        coverage = float((alpha[i] > 0).float().mean())
        if coverage == 0.0:
            raise HintError(
                "no painted colour found in the hints picture: paint colour dots on the black-and-white photo (in "
                "ComfyUI: right-click Load Image > Open in MaskEditor > paint brush), or give hints with a mask or "
                "alpha channel"
            )
        if coverage > MOST_OF_PICTURE:
            raise HintError(
                f"{coverage:.0%} of the hints picture is coloured, so it is a colour picture rather than colour "
                "dots painted on a black-and-white photo: paint hints on the greyscale photo, or say where the "
                "hints are with a mask (hints_mask) or an alpha channel"
            )
    return HintLayer(rgb.float(), alpha)


def photo_tone(lightness: torch.Tensor, ab: torch.Tensor, bins: int = 16) -> torch.Tensor:
    """The a*b* a monochrome print has at each pixel's lightness: the median a*b* of the pixels in the same band of
    L (a toned print's tint changes with lightness); a band with too few pixels to say takes the nearest
    well-filled band's (so a dark paint colour in a picture without dark pixels is not its band's "tone").
    ``[B,2,H,W]``."""
    tone = torch.empty_like(ab)
    band = (lightness[:, 0] * (bins / 100.0)).long().clamp_(0, bins - 1)  # [B, H, W]
    for i in range(ab.shape[0]):
        pixels, flat_band = ab[i].flatten(1), band[i].flatten()  # [2, N], [N]
        enough = max(64, pixels.shape[1] // 100)
        medians = {b: pixels[:, flat_band == b].median(dim=1).values for b in range(bins)
                   if int((flat_band == b).sum()) >= enough}
        if not medians:  # a tiny picture: one tone for all
            medians = {bins // 2: pixels.median(dim=1).values}
        table = torch.stack([medians[min(medians, key=lambda m: (abs(m - b), m))] for b in range(bins)])  # [bins, 2]
        tone[i] = table[flat_band].T.reshape_as(ab[i])
    return tone


def check_hints_meant(layer: HintLayer) -> None:
    """Refuse hint layers that cannot be what the artist meant, before any work: no hint pixel at all (an empty
    mask), or grey hints over most of the picture (usually an inverted mask: every unpainted pixel asking for grey,
    which turns the photo grey)."""
    from .lab import rgb_to_lab

    for i in range(layer.batch):
        hinted = layer.alpha[i, 0] > 0
        coverage = float(hinted.float().mean())
        if coverage == 0.0:
            raise HintError(
                "the hints are empty (their mask or alpha is 0 everywhere): paint where the hint colours are (in "
                "ComfyUI's mask editor, mask the painted dots), or disconnect the hints"
            )
        if coverage <= MOST_OF_PICTURE:
            continue
        colours = layer.rgb[i].float().clamp(0.0, 1.0)[:, hinted]  # [3, N]
        chroma = rgb_to_lab(colours[:, :, None])[1:, :, 0].norm(dim=0)
        grey = float((chroma < GREY_CHROMA).float().mean())
        if grey > 0.9:
            raise HintError(
                f"the hints cover {coverage:.0%} of the picture and {grey:.0%} of them are grey, which would turn "
                "the photo grey: is the hint mask inverted? The mask must be 1 (painted) only where the hint "
                "colours are"
            )


def check_aspect(source: tuple[int, int] | torch.Size, target: tuple[int, int] | torch.Size, what: str) -> None:
    """A layer drawn on the photo scales to it; one of another shape was drawn on something else (say so).

    Accepted, the same rule for hints, masks and colour images: the photo (``target``, at full resolution) scaled so
    its longer side is the layer's, the other side rounded to whole pixels (at least 1), is the layer's size to half a
    pixel -- or the two aspect ratios differ by at most 2 % (a layer drawn on a resized copy)."""
    sh, sw = int(source[0]), int(source[1])
    th, tw = int(target[0]), int(target[1])
    if min(sh, sw, th, tw) <= 0:
        raise HintError(f"{what} is {sw}x{sh}, the photo {tw}x{th}: neither may be empty")
    if abs(sh / sw - th / tw) <= 0.02 * (th / tw):
        return
    if th >= tw:  # scale by the photo's longer side
        scale, short_src, short_tgt = sh / th, sw, tw
    else:
        scale, short_src, short_tgt = sw / tw, sh, th
    if abs(short_src - max(1.0, short_tgt * scale)) <= 0.5 + 1e-9:
        return
    raise HintError(
        f"{what} is {sw}x{sh}, another aspect ratio than the photo ({tw}x{th}): draw it on the same picture (any "
        "size of it: the photo scaled, each side rounded to whole pixels)"
    )


def edge_weights(lightness: torch.Tensor, sigma: float = DEFAULT_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """Coupling of horizontal ``[B,1,h,w-1]`` and vertical ``[B,1,h-1,w]`` neighbours from L ``[B,1,h,w]``."""
    scale = -0.5 / (sigma * sigma)
    wx = torch.exp((lightness[..., :, 1:] - lightness[..., :, :-1]).square_().mul_(scale))
    wy = torch.exp((lightness[..., 1:, :] - lightness[..., :-1, :]).square_().mul_(scale))
    return wx, wy


def coarser_weights(wx: torch.Tensor, wy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Couplings between 2x2 blocks of the next coarser level, from the couplings ``wx`` ``[..,h,w-1]``, ``wy``.

    Block to block: the mean of the fine couplings crossing between them, times the weaker block's *internal*
    connectivity (its weaker way of splitting in two: left|right or top|bottom). A block that an edge runs through
    is thereby cut off at the coarse level instead of joining both sides of the edge: the coarse solution that seeds
    the finer level must not leak across edges, because the finer level cannot undo such a leak cheaply (the wrong
    values are a smooth error mode CG barely sees). L averaged per block would blur exactly those edges.
    """
    pool = {"kernel_size": (2, 1), "stride": (2, 1), "ceil_mode": True}
    pad_x = F.pad(wx, (0, 1), value=1.0)  # [.., h, w]: column 2j holds the edge inside block j (1 past the border)
    pad_y = F.pad(wy, (0, 0, 0, 1), value=1.0)
    split_lr = F.avg_pool2d(pad_x[..., :, 0::2], **pool)  # [.., ceil h/2, ceil w/2]
    split_tb = F.avg_pool2d(pad_y[..., 0::2, :].transpose(-1, -2), **pool).transpose(-1, -2)
    inner = torch.minimum(split_lr, split_tb)
    inner = torch.where(inner < CUT_COUPLING, inner, torch.ones_like(inner))  # only strong edges cut a block
    wx_c = F.avg_pool2d(wx[..., :, 1::2], **pool)  # fine edge 2j+1 -> 2j+2 joins block j to j+1; rows in pairs
    wy_c = F.avg_pool2d(wy[..., 1::2, :].transpose(-1, -2), **pool).transpose(-1, -2)
    wx_c = wx_c * torch.minimum(inner[..., :, :-1], inner[..., :, 1:])
    wy_c = wy_c * torch.minimum(inner[..., :-1, :], inner[..., 1:, :])
    return wx_c, wy_c


def _halve(x: torch.Tensor, mode: str) -> torch.Tensor:
    """2x2 blocks -> one pixel (``avg`` or ``max``), a partial block at an odd border counting what it has."""
    if mode == "max":
        return F.max_pool2d(x, 2, ceil_mode=True)
    return F.avg_pool2d(x, 2, ceil_mode=True)


class _System:
    """``A d = b`` of the module docstring at one resolution, applied matrix-free (5-point stencil)."""

    def __init__(self, wx: torch.Tensor, wy: torch.Tensor, hint_weight: torch.Tensor, lam: float) -> None:
        self.wx, self.wy = wx, wy
        diag = (hint_weight + lam).clone()
        diag[..., :, 1:] += wx
        diag[..., :, :-1] += wx
        diag[..., 1:, :] += wy
        diag[..., :-1, :] += wy
        self.diag = diag
        self.inv_diag = diag.reciprocal()

    def apply(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out = A x``: diagonal minus the neighbours' couplings."""
        torch.mul(self.diag, x, out=out)
        out[..., :, :-1] -= self.wx * x[..., :, 1:]
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
    iters: int = 60,
    tol: float = 3e-4,
) -> torch.Tensor:
    """Edge-aware spread of ``target`` (``hint - prediction`` where ``confidence > 0``) over L ``[B,1,h,w]``.

    Returns the correction ``d`` ``[B,C,h,w]``: ~``target`` at confident hints, decaying to 0 away from them and
    across L edges. Coarse to fine: the cascade halves down to ~``COARSEST_SIDE`` px; the coarse level is solved
    thoroughly, each finer level refines the upsampled solution with at most ``iters`` iterations.
    """
    wx, wy = edge_weights(lightness, sigma)
    levels = [(wx, wy, target * confidence, confidence, confidence)]  # couplings, sum c*t, sum c, max c (as means)
    # halve while the longer side is long; never below 2 px on the shorter side (a long thin strip such as 4000x100
    # keeps its last levels thin: a 1-px level has no vertical couplings to pool)
    while max(levels[-1][3].shape[-2:]) > 2 * COARSEST_SIDE and min(levels[-1][3].shape[-2:]) >= 4:
        wx, wy, ct, c_mean, c_max = levels[-1]
        levels.append((*coarser_weights(wx, wy), _halve(ct, "avg"), _halve(c_mean, "avg"), _halve(c_max, "max")))
    x: torch.Tensor | None = None
    for level in reversed(range(len(levels))):
        wx, wy, ct, c_mean, c_max = levels[level]
        sh, sw = c_max.shape[-2:]
        t_lvl = ct / c_mean.clamp_min(1e-12) * (c_max > 0)  # confidence-weighted mean hint correction per block
        lam = 1.0 / (reach * max(sh, sw)) ** 2  # the decay length in pixels: reach * longer side at this level
        weight = hint_weight * c_max
        system = _System(wx, wy, weight, lam)
        rhs = weight * t_lvl
        start = torch.zeros_like(rhs) if x is None else _double(x, (sh, sw))
        coarsest = level == len(levels) - 1
        x = _conjugate_gradients(system, rhs, start, iters=max(iters, 4 * max(sh, sw)) if coarsest else iters, tol=tol)
    assert x is not None
    return x


def _double(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A coarse solution repeated onto the finer grid (each block's value to its pixels: no smearing over edges)."""
    return x.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., : size[0], : size[1]]


def check_hints_fit(hints: HintLayer, batch: int, photo_size: tuple[int, int] | torch.Size) -> None:
    """Before any work: one layer for all images or one per image, of the photo's (full-resolution) aspect."""
    if hints.batch not in (1, batch):
        raise HintError(f"{hints.batch} hint layers for {batch} images: give one for all, or one per image")
    check_aspect(hints.rgb.shape[-2:], photo_size, "hint layer")


def apply_hints(ab_half: torch.Tensor, l_work: torch.Tensor, hints: HintLayer,
                photo_size: tuple[int, int] | torch.Size | None = None) -> torch.Tensor:
    """The network's ab ``[B,2,h',w']`` (any size) -> ab at the working size of ``l_work`` with the hints applied.

    The prediction is first brought to the working size with the library's upsampler (guided by ``l_work``), then
    corrected by ``solve_correction``; the caller upsamples the result to full resolution as usual. ``photo_size``:
    the full-resolution (height, width) the layer's aspect is checked against (default: ``l_work``'s).
    """
    height, width = l_work.shape[-2:]
    check_hints_fit(hints, l_work.shape[0], photo_size if photo_size is not None else (height, width))
    ab = upsample_ab(ab_half.float(), l_work, mode="guided")
    hint_ab, confidence = hints.at_size(height, width)
    hint_ab, confidence = hint_ab.to(ab), confidence.to(ab)
    if not bool((confidence > 0).any()):
        return ab
    target = (hint_ab - ab) * (confidence > 0)
    correction = solve_correction(l_work, target, confidence.expand(ab.shape[0], 1, height, width),
                                  sigma=hints.sigma, reach=hints.reach, hint_weight=hints.hint_weight)
    return ab + correction


def hint_layer_from_image(image: object, *, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> HintLayer:
    """An RGBA image (path, PIL, array, tensor ``[H,W,4]``, ``RGBImage``) -> ``HintLayer``; alpha is the confidence.

    An image without alpha is refused: every pixel would be a hint, which is a recolouring, not hints. A file above
    ``max_megapixels`` (the photos' own budget; None = no limit) is refused from its header, before decoding; an
    8-bit picture stays uint8 (4 bytes a pixel with its alpha) until ``at_size`` reduces it in strips.
    """
    from .images import to_rgb_image, to_uint8  # the one image loader

    if isinstance(image, HintLayer):
        return image
    src = to_rgb_image(image, keep_uint8=True, max_megapixels=max_megapixels)
    if src.alpha is None:
        raise HintError(
            f"hints {src.source}: the hint image has no alpha channel; save the hints as a PNG with transparency "
            "(transparent = no hint, opaque = hint colour)"
        )
    rgb = torch.from_numpy(src.rgb).permute(2, 0, 1)[None]
    alpha = src.alpha if src.rgb.dtype != np.uint8 else to_uint8(src.alpha)  # exact: it came from 8 bits
    return HintLayer(rgb, torch.from_numpy(alpha)[None, None])
