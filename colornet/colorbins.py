"""The quantized a*b* plane behind the colour-distribution head (beyond the paper; after Zhang et al., ECCV 2016).

Regressing ab with an MSE learns the conditional *mean* colour, which is grey-brown wherever several colours are
plausible (a car, a dress). Predicting a *distribution* over ab bins keeps the alternatives apart, and decoding by an
annealed mean picks a vivid, still-plausible colour.

* Bins: the points of a regular ``grid``-spaced lattice over [-110, 110]^2 whose cell holds some sRGB colour (at any
  lightness), found with colornet's own Lab conversion on a dense sample of the RGB cube's surface. Grid 10 gives 262.
* Soft targets: each pixel's ab spreads over the nearby bins with a Gaussian (sigma 5). On a regular lattice the
  neighbours are found by *rounding* (the 3x3 lattice points around the nearest one), never with a pixel-by-bin
  distance matrix, and the loss gathers just those 9 log-probabilities per pixel (a training step still costs about
  1.6x the regression's: the 262-way softmax at half resolution; docs/VIVID.md).
* Decoding: the annealed mean, softmax(logits / T) . centres, with T = 1 the mean and T -> 0 the mode. T is the
  checkpoint's own (``1 - config.vividness``) and sets each pixel's hue.
* Vividness (``vivid_levels``): how bold, not which hue. Each pixel's chroma moves by how far apart two quantiles of
  its *predicted chroma distribution* (T = 1) are: the one the asked vividness picks and the one the checkpoint's
  default picks. Chroma is therefore non-decreasing in vividness at every pixel (colourfulness rises), the
  checkpoint's default is its prediction unchanged, and a pixel the net is sure about barely moves while an
  uncertain one (grass or dry grass? a red or a grey coat?) swings between muted and bold. Temperature alone did not
  do that: on old prints it changed which hues appeared, and colourfulness fell from 0 to 1 (issue 17).
"""

from __future__ import annotations

import contextlib
import functools
import math

import torch
import torch.nn.functional as F

from .lab import AB_SCALE, rgb_to_lab

DEFAULT_GRID = 10
SOFT_SIGMA = 5.0  # Gaussian width of the soft-encoded targets, in ab units


def lattice_side(grid: int) -> int:
    """Lattice points per axis: centres at -110, -110 + grid, ... up to +110."""
    return int(math.floor(2 * AB_SCALE / grid)) + 1


def lattice_centres(grid: int) -> torch.Tensor:
    """All lattice points, ``[side*side, 2]`` (a, b), row-major over (a, b)."""
    axis = -AB_SCALE + grid * torch.arange(lattice_side(grid), dtype=torch.float64)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((a.reshape(-1), b.reshape(-1)), dim=1)


def in_gamut_mask(grid: int, samples_per_edge: int = 512) -> torch.Tensor:
    """``[side*side]`` bool: lattice cells that some sRGB colour falls into (its ab rounds to that lattice point).

    Every colour's ab lies below some point of the RGB cube's surface along L, so sampling the six faces densely and
    converting them with colornet's own RGB -> Lab finds every reachable cell (grid 10: 262 bins; Zhang et al.'s
    set, derived their own way, has 313).
    """
    axis = torch.linspace(0.0, 1.0, samples_per_edge, dtype=torch.float64)
    u, v = (t.reshape(-1) for t in torch.meshgrid(axis, axis, indexing="ij"))
    faces = []
    for fixed in (0.0, 1.0):
        w = torch.full_like(u, fixed)
        faces += [torch.stack(c) for c in ((w, u, v), (u, w, v), (u, v, w))]
    rgb = torch.cat(faces, dim=1)[:, :, None]  # (3, 6 * n^2, 1)
    ab = rgb_to_lab(rgb)[1:, :, 0].T  # (N, 2)
    side = lattice_side(grid)
    ij = torch.round((ab + AB_SCALE) / grid).long().clamp(0, side - 1)
    mask = torch.zeros(side * side, dtype=torch.bool)
    mask[ij[:, 0] * side + ij[:, 1]] = True
    return mask


@functools.lru_cache(maxsize=4)
def gamut_bins(grid: int = DEFAULT_GRID) -> torch.Tensor:
    """The in-gamut bin centres ``[Q, 2]`` (float32) for a lattice spacing ``grid``; cached (it is a constant)."""
    return lattice_centres(grid)[in_gamut_mask(grid)].float()


class ABQuantizer:
    """In-gamut ab bins of a regular lattice and the soft/hard encoding of ab onto them (training targets)."""

    def __init__(self, centres: torch.Tensor, grid: int):
        self.grid = int(grid)
        self.side = lattice_side(self.grid)
        self.centres = centres.float()  # (Q, 2)
        # lattice index -> bin index (-1 = out of gamut), and each lattice point's nearest in-gamut bin
        lattice = lattice_centres(self.grid).float()
        lookup = torch.full((self.side * self.side,), -1, dtype=torch.long)
        keys = self._lattice_index(self.centres)
        lookup[keys] = torch.arange(self.centres.shape[0])
        self.lookup = lookup
        self.nearest_bin = torch.cdist(lattice, self.centres).argmin(1)  # (side*side,), small: 529 x 313

    @classmethod
    def from_grid(cls, grid: int = DEFAULT_GRID) -> "ABQuantizer":
        return cls(gamut_bins(grid), grid)

    @property
    def n_bins(self) -> int:
        return self.centres.shape[0]

    def _lattice_index(self, ab: torch.Tensor) -> torch.Tensor:
        ij = torch.round((ab + AB_SCALE) / self.grid).long().clamp(0, self.side - 1)
        return ij[..., 0] * self.side + ij[..., 1]

    def to(self, device: torch.device | str) -> "ABQuantizer":
        for name in ("centres", "lookup", "nearest_bin"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def soft_encode(self, ab: torch.Tensor, sigma: float = SOFT_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
        """ab ``[B,2,H,W]`` -> (bin indices ``[B,9,H,W]``, Gaussian weights ``[B,9,H,W]`` summing to 1).

        The candidates are the 3x3 lattice points around the rounded one; out-of-gamut candidates get weight 0, and
        a pixel with none in gamut falls back to its nearest in-gamut bin with weight 1.
        """
        step = self.grid
        scaled = (ab.float() + AB_SCALE) / step  # lattice coordinates
        centre = torch.round(scaled)
        offsets = torch.tensor([-1.0, 0.0, 1.0], device=ab.device)
        di = offsets.view(3, 1).expand(3, 3).reshape(9)
        dj = offsets.view(1, 3).expand(3, 3).reshape(9)
        ci = (centre[:, 0:1] + di.view(1, 9, 1, 1)).clamp(0, self.side - 1)  # (B, 9, H, W)
        cj = (centre[:, 1:2] + dj.view(1, 9, 1, 1)).clamp(0, self.side - 1)
        d2 = ((ci - scaled[:, 0:1]) ** 2 + (cj - scaled[:, 1:2]) ** 2) * (step * step)
        bins = self.lookup[(ci * self.side + cj).long()]  # (B, 9, H, W), -1 where out of gamut
        weight = torch.exp(-d2 / (2.0 * sigma * sigma)) * (bins >= 0)
        total = weight.sum(1, keepdim=True)
        empty = total <= 1e-12
        fallback = self.nearest_bin[self._lattice_index(ab.float().permute(0, 2, 3, 1))]  # (B, H, W)
        bins = torch.where(bins >= 0, bins, fallback[:, None].expand_as(bins))
        weight = torch.where(empty, F.one_hot(torch.full_like(total[:, 0], 4, dtype=torch.long), 9)
                             .permute(0, 3, 1, 2).to(weight.dtype), weight / total.clamp_min(1e-12))
        bins = torch.where(empty, fallback[:, None].expand_as(bins), bins)
        return bins, weight

    def hard_encode(self, ab: torch.Tensor) -> torch.Tensor:
        """ab ``[B,2,H,W]`` -> the nearest in-gamut bin of each pixel, ``[B,H,W]``."""
        return self.nearest_bin[self._lattice_index(ab.float().permute(0, 2, 3, 1))]


VIVID_QUANTILES = (0.25, 0.8)  # the chroma quantiles vividness 0 and 1 reach


def vivid_quantile(vividness: float | torch.Tensor) -> float | torch.Tensor:
    """The quantile of a pixel's predicted chroma distribution that ``vividness`` (0..1) stands for."""
    low, high = VIVID_QUANTILES
    return low + (high - low) * vividness  # a float, or a tensor (the ONNX graph's vividness input)


def vivid_levels(vividness: float, default: float) -> tuple[float, float] | None:
    """(quantile asked, quantile of the checkpoint's default) for the decoders; None when they are the same (the
    prediction as trained, decoded without the extra work)."""
    asked, base = vivid_quantile(vividness), vivid_quantile(default)
    return None if asked == base else (asked, base)


def chroma_groups(centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(each bin's chroma group ``[Q]``, the groups' chromas ``[G]``, ascending): bins of equal chroma (a point and
    its mirror images on the lattice) are one step of the chroma distribution. Grid 10: 262 bins, 57 groups."""
    chroma = centres.float().norm(dim=1).round(decimals=3)
    levels, group = torch.unique(chroma, sorted=True, return_inverse=True)
    return group, levels


def chroma_shift(probs: torch.Tensor, group: torch.Tensor, chroma: torch.Tensor,
                 levels: tuple[float, float]) -> torch.Tensor:
    """Per column: quantile(levels[0]) - quantile(levels[1]) of the chroma distribution ``probs`` ``[Q, N]``
    (unnormalised weights are fine; ``group``, ``chroma`` from ``chroma_groups``), ``[N]``.

    The bins' probabilities are summed per chroma group (57 rows instead of 262), and the inverse CDF is interpolated
    linearly between neighbouring groups, so each quantile is continuous and non-decreasing in its level: group k+1's
    share of the CDF, ``(q - F_k) / p_{k+1}`` clamped to [0, 1], says how far the quantile has climbed from
    chroma_k to chroma_{k+1}.
    """
    grouped = probs.new_zeros(chroma.shape[0], probs.shape[1]).index_add_(0, group, probs)
    grouped = grouped / grouped.sum(0, keepdim=True)
    cdf = grouped[:-1].cumsum(0)  # F_0 .. F_{G-2}
    inverse = grouped[1:].clamp_min(1e-12).reciprocal_()
    step = chroma.diff().to(probs.dtype)[:, None]
    asked, base = levels
    climb = ((asked - cdf) * inverse).clamp_(0.0, 1.0)
    climb.sub_(((base - cdf) * inverse).clamp_(0.0, 1.0))
    return (climb * step).sum(0)


def apply_chroma_shift(ab: torch.Tensor, shift: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """ab (a and b along ``dim``) with its chroma moved by ``shift`` (same shape minus ``dim``), hue kept; never
    below 0. Below chroma 1 the move fades with the chroma (no hue to move along, and no jump)."""
    chroma = ab.norm(dim=dim, keepdim=True)
    target = (chroma + shift.unsqueeze(dim)).clamp_min(0.0)
    return ab * (target / chroma.clamp_min(1.0))


DECODE_COLUMNS = 2048  # pixels per chunk of the inference decode: a [Q, 2048] block stays in the CPU's cache
LOG2_E = 1.4426950408889634


def _full_precision(device: torch.device):
    """Autocast off for the decode: under fp16/bf16 autocast (the nodes' GPU precision) its matrix products would run
    in half precision, and the chroma quantiles divide by small probabilities (a bf16 decode was off by up to 36 a*b*
    units at vividness 1; fp16 flushes the 1e-12 guard to 0). The decode is a small share of the work."""
    available = getattr(torch.amp, "is_autocast_available", None)  # torch >= 2.4; before it, CPU and CUDA only
    if available is None:
        active = device.type in ("cpu", "cuda")
    else:
        active = available(device.type) and torch.is_autocast_enabled(device.type)
    return torch.autocast(device.type, enabled=False) if active else contextlib.nullcontext()


def decode_annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float,
                         levels: tuple[float, float] | None = None) -> torch.Tensor:
    """Logits ``[B,Q,H,W]`` -> ab ``[B,2,H,W]``: softmax(logits / T) . centres (T = 1 mean, T -> 0 mode), with the
    chroma moved for a vividness other than the checkpoint's when ``levels`` (``vivid_levels``) is given.

    With gradients (training) this is the textbook softmax + weighted sum. Without (inference) it runs chunk by
    chunk of pixels (``_decode_columns``), about 3x faster on a CPU; the two agree to float round-off (tested).
    """
    with _full_precision(logits.device):
        return _decode_annealed_mean(logits, centres, temperature, levels)


def _decode_annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float,
                          levels: tuple[float, float] | None) -> torch.Tensor:
    centres = centres.to(device=logits.device, dtype=torch.float32)
    if torch.is_grad_enabled() and logits.requires_grad:  # the textbook decode, differentiable
        if temperature <= 1e-3:
            ab = centres[logits.argmax(1)].permute(0, 3, 1, 2)
        else:
            ab = torch.einsum("bqhw,qc->bchw", torch.softmax(logits.float() / temperature, dim=1), centres)
        if levels is None:
            return ab
        group, chroma = chroma_groups(centres)
        b, q, h, w = logits.shape
        probs = torch.softmax(logits.float(), dim=1).transpose(0, 1).reshape(q, -1)  # (Q, B*H*W)
        columns = ab.transpose(0, 1).reshape(2, -1)
        return apply_chroma_shift(columns, chroma_shift(probs, group, chroma, levels)).view(2, b, h, w).transpose(0, 1)
    if temperature <= 1e-3 and levels is None:
        return centres[logits.argmax(1)].permute(0, 3, 1, 2)
    b, q, h, w = logits.shape
    columns = logits.transpose(0, 1).reshape(q, -1)  # (Q, B*H*W), pixels as columns
    groups = chroma_groups(centres) if levels is not None else None
    temperature = max(temperature, 1e-3)
    scale = LOG2_E / temperature
    out = _decode_columns(lambda i, j: columns[:, i:j].float() * scale, columns.shape[1], centres,
                          temperature, levels, groups)
    return out.view(2, b, h, w).transpose(0, 1)


def decode_features(hidden: torch.Tensor, head: torch.nn.Conv2d, centres: torch.Tensor,
                    temperature: float, levels: tuple[float, float] | None = None) -> torch.Tensor:
    """Inference: the 1x1 distribution head and the annealed-mean decode fused, chunk by chunk of pixels.

    ``hidden`` ``[B,C,H,W]`` is the layer before the head. The [B, Q, H, W] logits are never stored: each chunk's
    logits are one small matrix product (with 1/T folded into the head's weights), decoded while in the cache.
    ``levels``: see ``decode_annealed_mean``.
    """
    with _full_precision(hidden.device):
        return _decode_features(hidden, head, centres, temperature, levels)


def _decode_features(hidden: torch.Tensor, head: torch.nn.Conv2d, centres: torch.Tensor, temperature: float,
                     levels: tuple[float, float] | None) -> torch.Tensor:
    centres = centres.to(device=hidden.device, dtype=torch.float32)
    b, c, h, w = hidden.shape
    features = hidden.transpose(0, 1).reshape(c, -1).float()  # (C, B*H*W)
    weight = head.weight.reshape(head.out_channels, c).float()  # (Q, C)
    bias = head.bias.float() if head.bias is not None else torch.zeros(head.out_channels, device=hidden.device)
    groups = None
    if levels is not None:
        groups = chroma_groups(centres)
        temperature = max(temperature, 1e-3)
    if temperature <= 1e-3 and levels is None:
        picks = [torch.addmm(bias[:, None], weight, features[:, i : i + DECODE_COLUMNS]).argmax(0)
                 for i in range(0, features.shape[1], DECODE_COLUMNS)]
        return centres[torch.cat(picks)].t().reshape(2, b, h, w).transpose(0, 1)
    scale = LOG2_E / temperature  # folded into the head: (x W + b) log2(e) / T, then 2^(.) is exp(logits / T)
    weight, bias = weight * scale, (bias * scale)[:, None]
    out = _decode_columns(lambda i, j: torch.addmm(bias, weight, features[:, i:j]), features.shape[1], centres,
                          temperature, levels, groups)
    return out.view(2, b, h, w).transpose(0, 1)


def _decode_columns(scaled_logits, n: int, centres: torch.Tensor, temperature: float = 1.0,
                    levels: tuple[float, float] | None = None,
                    groups: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Annealed mean of ``n`` pixels; ``scaled_logits(i, j)`` gives a fresh ``[Q, j - i]`` block of logits x log2(e) / T.

    Per block: subtract each pixel's maximum (the largest term becomes 1: no overflow at any temperature), 2^x in
    place (exp2 is about twice as fast as exp on a CPU), then one [3, Q] x [Q, cols] product gives the weighted a, b
    and the normaliser together. With ``levels`` (and ``groups``: ``chroma_groups``), the same block at T = 1 (x T)
    gives the predicted distribution whose chroma quantiles move each pixel's chroma (``chroma_shift``).
    """
    weights = torch.cat((centres, torch.ones_like(centres[:, :1])), dim=1).t().contiguous()  # (3, Q): a, b, 1
    out = torch.empty(2, n, device=centres.device, dtype=torch.float32)
    for start in range(0, n, DECODE_COLUMNS):
        block = scaled_logits(start, start + DECODE_COLUMNS)
        block.sub_(block.amax(0, keepdim=True))
        probs = block.mul(temperature).exp2_() if levels is not None else None  # T = 1, unnormalised
        block.exp2_()
        sums = weights @ block  # (3, cols)
        chunk = out[:, start : start + DECODE_COLUMNS]
        torch.div(sums[:2], sums[2:], out=chunk)
        if probs is not None:
            chunk.copy_(apply_chroma_shift(chunk, chroma_shift(probs, *groups, levels)))
    return out


def smooth_over_ab(p: torch.Tensor, centres: torch.Tensor, sigma: float = SOFT_SIGMA) -> torch.Tensor:
    """A distribution over the bins ``[Q]`` blurred with a Gaussian over ab and renormalised (float64): bin counts of
    a few thousand photos are noisy, and neighbouring colours should weigh alike."""
    d2 = torch.cdist(centres.double(), centres.double()) ** 2
    smooth = torch.exp(-d2 / (2 * sigma * sigma)) @ p.double()
    return smooth / smooth.sum()


def smoothed_rebalance_weights(counts: torch.Tensor, centres: torch.Tensor, mix: float = 0.5,
                               sigma: float = SOFT_SIGMA) -> torch.Tensor:
    """Per-bin loss weights from the training split's bin counts (Zhang et al.'s class rebalancing).

    The empirical distribution is smoothed with a Gaussian over ab, mixed with the uniform one (``mix`` ~0.5) and
    inverted, then normalised so that its expectation under the smoothed distribution is 1: rare saturated colours
    weigh more, so the net does not settle on the common desaturated ones.
    """
    p = counts.double() / counts.sum().clamp_min(1)
    smooth = smooth_over_ab(p, centres, sigma)
    weight = 1.0 / ((1.0 - mix) * smooth + mix / p.numel())
    weight = weight / (smooth * weight).sum()
    return weight.float()
