"""Validation metrics, each a small pure function over batches (averaged per image by the caller).

* PSNR on RGB in [0, 1] (per image, then averaged): 10 log10(1 / MSE).
* ab MSE in Lab units (mean over pixels and both channels).
* Colorfulness of Hasler & Suesstrunk (2003), on RGB in [0, 255]: sigma_rgyb + 0.3 mu_rgyb with rg = R - G and
  yb = (R + G) / 2 - B. Greyscale images score 0; natural photos typically 20-60.
* Top-k scene accuracy.
* Hue metrics (``HueStats``): green recall, hue Jensen-Shannon divergence and the warm (30-90 degree) share of
  chroma, pooled over every pixel at 128 px wide: PSNR and colourfulness do not see a sepia wash over green grass.
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


# --- hue metrics (issue 17): is green green, and is the hue spread the photo's rather than a sepia wash? -------------
# Both are computed on a*b* at METRIC_WIDTH pixels wide and pooled over all pixels of all images (not averaged per
# image): a photo with little green must not weigh as much as a meadow.

METRIC_WIDTH = 128  # the width at which hue metrics compare prediction and truth
GREEN_TRUE_HUE = (105.0, 160.0)  # a ground-truth pixel is green: hue in this range (degrees) ...
GREEN_TRUE_CHROMA = 15.0  # ... and chroma above this
GREEN_PRED_HUE = (100.0, 170.0)  # the prediction counts as green: hue in this (slightly wider) range ...
GREEN_PRED_CHROMA = 8.0  # ... and chroma at least this
HUE_BINS = 12  # chroma-weighted hue histograms in bins of 30 degrees
WARM_BINS = (1, 2)  # 30-90 degrees: orange, ochre and yellow, where a sepia wash puts its chroma
GREEN_BINS = (4, 5)  # 120-180 degrees


def hue_chroma(ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hue in degrees [0, 360) and chroma of ``[B,2,H,W]`` a*b*; returns two ``[B,H,W]`` tensors."""
    a, b = ab[:, 0].double(), ab[:, 1].double()
    return torch.rad2deg(torch.atan2(b, a)) % 360.0, torch.hypot(a, b)


def to_metric_width(x: torch.Tensor, width: int = METRIC_WIDTH) -> torch.Tensor:
    """``[B,C,H,W]`` resized (antialiased bilinear) to ``width`` pixels wide, aspect kept."""
    h, w = x.shape[-2:]
    if w == width:
        return x
    size = (max(1, round(h * width / w)), width)
    return torch.nn.functional.interpolate(x.float(), size=size, mode="bilinear", align_corners=False,
                                           antialias=w > width)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """Jensen-Shannon divergence (natural log, so at most ln 2) of two histograms, each normalised to sum 1."""
    p = p.double() / p.sum().clamp_min(1e-300)
    q = q.double() / q.sum().clamp_min(1e-300)
    m = 0.5 * (p + q)

    def kl(x: torch.Tensor) -> torch.Tensor:
        keep = x > 0
        return (x[keep] * (x[keep] / m[keep]).log()).sum()

    return float(0.5 * kl(p) + 0.5 * kl(q))


class HueStats:
    """Pooled hue statistics of predictions against ground truth; ``update`` per batch, ``result`` at the end.

    * green recall: of the truth's green pixels, the share the prediction colours green;
    * hue JS: Jensen-Shannon divergence between the chroma-weighted hue histograms of prediction and truth;
    * warm / green share: the share of all chroma at 30-90 and at 120-180 degrees, for both (the sepia shows here).
    """

    def __init__(self) -> None:
        self.green_total = 0.0
        self.green_hit = 0.0
        self.hist_pred = torch.zeros(HUE_BINS, dtype=torch.float64)
        self.hist_true = torch.zeros(HUE_BINS, dtype=torch.float64)

    def update(self, pred_ab: torch.Tensor, true_ab: torch.Tensor) -> None:
        """Add ``[B,2,H,W]`` a*b* pairs already at the metric width (see ``to_metric_width``)."""
        hue_p, chroma_p = hue_chroma(pred_ab)
        hue_t, chroma_t = hue_chroma(true_ab)
        green_t = (hue_t >= GREEN_TRUE_HUE[0]) & (hue_t <= GREEN_TRUE_HUE[1]) & (chroma_t > GREEN_TRUE_CHROMA)
        green_p = (hue_p >= GREEN_PRED_HUE[0]) & (hue_p <= GREEN_PRED_HUE[1]) & (chroma_p >= GREEN_PRED_CHROMA)
        self.green_total += float(green_t.sum())
        self.green_hit += float((green_t & green_p).sum())
        for hist, hue, chroma in ((self.hist_pred, hue_p, chroma_p), (self.hist_true, hue_t, chroma_t)):
            index = (hue / (360.0 / HUE_BINS)).long().clamp_(0, HUE_BINS - 1).reshape(-1)
            hist += torch.bincount(index, weights=chroma.reshape(-1), minlength=HUE_BINS)

    def result(self) -> dict[str, float]:
        def share(hist: torch.Tensor, bins: tuple[int, ...]) -> float:
            return float(hist[list(bins)].sum() / hist.sum().clamp_min(1e-300))

        return {
            "green_recall": self.green_hit / self.green_total if self.green_total else float("nan"),
            "hue_js": js_divergence(self.hist_pred, self.hist_true),
            "warm_share": share(self.hist_pred, WARM_BINS), "warm_share_true": share(self.hist_true, WARM_BINS),
            "green_share": share(self.hist_pred, GREEN_BINS), "green_share_true": share(self.hist_true, GREEN_BINS),
        }
