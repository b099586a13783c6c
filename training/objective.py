"""The training objective: the colour term of either head plus the weighted scene cross-entropy (paper: alpha 1/300).

``Objective`` holds what does not change during a run (the colour loss, alpha, the class weights), so a training step
and validation call it with just the network's outputs and the targets, and get the three numbers the log records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from colornet.colorbins import ABQuantizer, smoothed_rebalance_weights
from colornet.lab import normalize_ab, rgb_to_lab


@dataclass
class ColourLoss:
    """The colour term of the loss, for either head.

    * regression (the paper): MSE on normalised ab at the output's (half) resolution. ``chroma_weight`` > 0 (not in
      the paper) weights each pixel's squared error by 1 + chroma_weight x chroma / 50, normalised to mean 1: a plain
      MSE regressor learns the conditional mean, greyish wherever colours are ambiguous.
    * distribution: cross-entropy against soft-encoded targets (``ABQuantizer.soft_encode``), each pixel weighted by
      the rarity of its colour (``bin_weight``, Zhang et al.'s class rebalancing; None = unweighted).
    """

    head: str = "regression"
    chroma_weight: float = 0.0
    quantizer: ABQuantizer | None = None
    bin_weight: torch.Tensor | None = None

    def __call__(self, out: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
        target_half = F.interpolate(target_ab.float(), size=out.shape[-2:], mode="area")
        if self.head == "distribution":
            bins, weight = self.quantizer.soft_encode(target_half)  # (B, 9, h, w) each
            log_p = F.log_softmax(out.float(), dim=1)  # (B, Q, h, w)
            ce = -(weight * log_p.gather(1, bins)).sum(1)  # (B, h, w)
            if self.bin_weight is not None:
                ce = ce * self.bin_weight[self.quantizer.hard_encode(target_half)]
            return ce.mean()
        err = (out.float() - normalize_ab(target_half)).pow(2)
        if self.chroma_weight:
            weight = 1.0 + self.chroma_weight * target_half.pow(2).sum(1, keepdim=True).sqrt() / 50.0
            return (err * (weight / weight.mean())).mean()
        return err.mean()


class LossParts(NamedTuple):
    total: torch.Tensor  # what is back-propagated: colour + alpha x scene
    colour: torch.Tensor  # the colour term ("mse" in the log, for either head)
    scene: torch.Tensor  # the scene cross-entropy (0 without labels or with alpha 0)


@dataclass
class Objective:
    """colour term + ``alpha`` x (class-balanced by ``ce_weight``) scene cross-entropy."""

    colour: ColourLoss
    alpha: float
    ce_weight: torch.Tensor | None = None

    def __call__(self, out: torch.Tensor, logits: torch.Tensor | None, target_ab: torch.Tensor,
                 labels: torch.Tensor) -> LossParts:
        colour = self.colour(out, target_ab)
        if logits is None or self.alpha == 0.0:
            return LossParts(colour, colour, torch.zeros((), device=colour.device))
        ce = F.cross_entropy(logits.float(), labels, weight=self.ce_weight)
        return LossParts(colour + self.alpha * ce, colour, ce)


def ab_bin_counts(images, quantizer: ABQuantizer, stride: int = 2) -> torch.Tensor:
    """How often each ab bin occurs among the pixels of ``images`` (uint8 RGB), for the rebalancing weights."""
    counts = torch.zeros(quantizer.n_bins, dtype=torch.float64)
    for rgb in images:
        x = torch.from_numpy(np.ascontiguousarray(rgb[::stride, ::stride])).permute(2, 0, 1).float() / 255.0
        ab = rgb_to_lab(x)[None, 1:]  # (1, 2, h, w)
        counts += torch.bincount(quantizer.hard_encode(ab).reshape(-1), minlength=quantizer.n_bins).double()
    return counts


def training_bin_counts(images, n_photos: int, quantizer: ABQuantizer, out_dir: Path, master: bool) -> torch.Tensor:
    """How often each ab bin occurs in ``n_photos`` training photos; kept in out_dir/ab_bin_counts.json (``images``
    is only read when that file is missing or was made for another grid)."""
    path = out_dir / "ab_bin_counts.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if len(stored.get("counts", [])) == quantizer.n_bins:
            return torch.tensor(stored["counts"], dtype=torch.float64)
    counts = ab_bin_counts(images, quantizer)
    if master:
        path.write_text(json.dumps({"grid": quantizer.grid, "photos": n_photos, "counts": counts.tolist()}) + "\n")
    return counts


def rebalance_weights(counts: torch.Tensor, quantizer: ABQuantizer, mix: float, log) -> torch.Tensor:
    """Per-bin rarity weights from the training split's ab-bin ``counts`` (Zhang et al.'s class rebalancing)."""
    weight = smoothed_rebalance_weights(counts, quantizer.centres.cpu(), mix=mix)
    log(f"rebalancing: {int((counts > 0).sum())}/{quantizer.n_bins} bins seen; weights {float(weight.min()):.2f}"
        f"..{float(weight.max()):.2f} (mix {mix})")
    return weight
