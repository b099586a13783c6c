"""Temporal smoothing of the predicted chroma along motion: the cure for frame-to-frame colour flicker.

Each frame's network output ab (at the network's low resolution, before upsampling) is blended with the previous
*smoothed* ab moved along the optical flow (``colornet.flow``): a recursive average that follows each scene point as
the camera pans or zooms. The blend weight is ``blend_weight(strength)`` times a confidence that the warped previous
frame really shows the same thing: ``exp(-(dL / L_TOLERANCE)^2)`` where ``dL`` is the locally averaged lightness
mismatch after warping. Where content changed (occlusion, a new object, a failed flow vector, content entering the picture) the
weight falls to 0 and the frame keeps its own colours, so smoothing never drags colour across an object. Only ab is
touched: the output lightness is always the frame's own L.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_smoothing
from .flow import estimate_flow, inside, warp
from .upsample import box_filter

MAX_BLEND = 0.95  # temporal_smoothing=1 -> 95 % of the (motion-compensated) past: each frame still counts
DEFAULT_SMOOTHING = 0.8  # blend 0.91: colours averaged over ~20 frames along motion (benchmarks/bench_video.py)
FLOW_SIDE = 160  # motion is estimated on L of at most 160 px (camera motion is smooth; 3x cheaper than at ab's size)
L_TOLERANCE = 6.0  # L units (0..100) of mismatch after warping at which the blend weight falls to exp(-1)


def blend_weight(smoothing: float) -> float:
    """``temporal_smoothing`` 0..1 -> weight of the past, ``1 - (1 - MAX_BLEND) ** s``: each step of the slider
    multiplies the effective averaging window ``(1 + w) / (1 - w)`` frames by about the same factor (0 -> 1 frame,
    0.5 -> ~8, 0.8 -> ~20, 1 -> ~39), so the slider feels even."""
    return 1.0 - (1.0 - MAX_BLEND) ** check_smoothing(smoothing) if smoothing > 0 else 0.0


class TemporalSmoother:
    """Stateful: feed it one frame's half-resolution ab and L after another; ``reset()`` at every cut."""

    def __init__(self, strength: float, *, tolerance: float = L_TOLERANCE) -> None:
        self.blend = blend_weight(strength)
        self.tolerance = float(tolerance)
        self._ab: torch.Tensor | None = None
        self._lightness: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the past (a cut: the next frame must not carry the previous shot's colours)."""
        self._ab = None
        self._lightness = None

    def confidence(self, lightness: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """``[B,1,h,w]`` in [0, 1]: how sure we are that the warped previous frame shows this pixel's content."""
        assert self._lightness is not None
        # |3x3 mean of the signed difference|: sensor noise averages out, a real change (same sign nearby) stays
        mismatch = box_filter(lightness - warp(self._lightness, flow), 1).abs()
        weight = torch.exp(-((mismatch / self.tolerance) ** 2))
        return weight * inside(flow)

    def __call__(self, ab_half: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
        """Smoothed ab ``[B,2,h,w]``; ``lightness`` is the frame's L (any size: it is brought to ab's grid)."""
        l_low = lightness if lightness.shape[-2:] == ab_half.shape[-2:] else F.interpolate(
            lightness, size=ab_half.shape[-2:], mode="area")
        if self.blend <= 0:
            return ab_half
        if self._ab is None or self._ab.shape != ab_half.shape:
            out = ab_half
        else:
            flow = estimate_flow(self._lightness, l_low, max_side=FLOW_SIDE)
            weight = self.confidence(l_low, flow) * self.blend
            out = torch.lerp(ab_half, warp(self._ab, flow), weight)
        self._ab, self._lightness = out, l_low
        return out
