"""Validation metrics, each a small pure function over batches (averaged per image by the caller).

* PSNR on RGB in [0, 1] (per image, then averaged): 10 log10(1 / MSE).
* ab MSE in Lab units (mean over pixels and both channels).
* Colorfulness of Hasler & Suesstrunk (2003), on RGB in [0, 255]: sigma_rgyb + 0.3 mu_rgyb with rg = R - G and
  yb = (R + G) / 2 - B. Greyscale images score 0; natural photos typically 20-60.
* Top-k scene accuracy.
"""

from __future__ import annotations

import torch


def psnr(pred_rgb: torch.Tensor, target_rgb: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Per-image PSNR in dB of ``[B,3,H,W]`` RGB in [0, 1]; returns ``[B]``."""
    mse = (pred_rgb.float() - target_rgb.float()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(eps))


def ab_mse(pred_ab: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared ab error in Lab units; returns ``[B]``."""
    return (pred_ab.float() - target_ab.float()).pow(2).flatten(1).mean(1)


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler-Suesstrunk colorfulness of ``[B,3,H,W]`` RGB in [0, 1] (computed on the 0-255 scale); returns ``[B]``."""
    x = rgb.float() * 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    sigma = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
    mu = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return sigma + 0.3 * mu


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """``[B]`` booleans: is the label among the k highest logits."""
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return (top == labels[:, None]).any(1)
