"""Hue metrics (green recall, hue JS, warm share) against an independent reference: scikit-image's Lab, numpy's
hue and histograms, and scipy's Jensen-Shannon distance (squared = divergence)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from skimage.color import rgb2lab

from training.metrics import HueStats, js_divergence, to_metric_width


def _reference(pred_rgb: list[np.ndarray], true_rgb: list[np.ndarray]) -> dict[str, float]:
    """The issue's definitions, written with numpy and scikit-image alone."""
    hits = total = 0
    hist_p = np.zeros(12)
    hist_t = np.zeros(12)
    for p, t in zip(pred_rgb, true_rgb):
        lp, lt = rgb2lab(p), rgb2lab(t)
        hp = np.degrees(np.arctan2(lp[..., 2], lp[..., 1])) % 360
        ht = np.degrees(np.arctan2(lt[..., 2], lt[..., 1])) % 360
        cp = np.hypot(lp[..., 1], lp[..., 2])
        ct = np.hypot(lt[..., 1], lt[..., 2])
        green_t = (ht >= 105) & (ht <= 160) & (ct > 15)
        green_p = (hp >= 100) & (hp <= 170) & (cp >= 8)
        total += green_t.sum()
        hits += (green_t & green_p).sum()
        hist_p += np.histogram(hp, bins=12, range=(0, 360), weights=cp)[0]
        hist_t += np.histogram(ht, bins=12, range=(0, 360), weights=ct)[0]
    return {"green_recall": hits / total, "hue_js": jensenshannon(hist_p, hist_t) ** 2,
            "warm_share": hist_p[1:3].sum() / hist_p.sum(), "green_share_true": hist_t[4:6].sum() / hist_t.sum()}


def _ab(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb2lab(rgb)[..., 1:]).permute(2, 0, 1)[None].float()


def test_hue_stats_match_an_independent_reference():
    rng = np.random.default_rng(3)
    truth, pred = [], []
    for _ in range(3):
        t = rng.uniform(0, 1, (20, 32, 3))
        t[:8, :, :] = [0.2, 0.6, 0.15]  # a band of grass: green pixels the prediction must find
        p = np.clip(t + rng.normal(0, 0.15, t.shape), 0, 1)
        p[:4] = [0.6, 0.5, 0.2]  # half the grass painted ochre
        truth.append(t)
        pred.append(p)
    stats = HueStats()
    for p, t in zip(pred, truth):
        stats.update(_ab(p), _ab(t))
    ours = stats.result()
    ref = _reference(pred, truth)
    for key in ("green_recall", "hue_js", "warm_share", "green_share_true"):
        assert ours[key] == pytest.approx(ref[key], abs=2e-3), key
    assert 0.3 < ours["green_recall"] < 0.8  # the ochre half is missed


def test_sepia_wash_is_caught_where_psnr_would_not_be():
    grass = np.tile([0.25, 0.55, 0.2], (16, 16, 1))
    sepia = np.tile([0.55, 0.45, 0.3], (16, 16, 1))
    stats = HueStats()
    stats.update(_ab(sepia), _ab(grass))
    r = stats.result()
    assert r["green_recall"] == 0.0
    assert r["warm_share"] == pytest.approx(1.0)
    assert r["hue_js"] == pytest.approx(math.log(2), abs=1e-9)  # disjoint histograms: the maximum
    same = HueStats()
    same.update(_ab(grass), _ab(grass))
    assert same.result()["green_recall"] == 1.0 and same.result()["hue_js"] == pytest.approx(0.0, abs=1e-12)


def test_js_divergence_against_scipy_and_pooling_is_by_pixel():
    rng = np.random.default_rng(0)
    p, q = rng.uniform(0, 1, 12), rng.uniform(0, 1, 12)
    p[3] = 0.0
    assert js_divergence(torch.from_numpy(p), torch.from_numpy(q)) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-9)
    # pooled over pixels: a large all-green image and a tiny missed one give the pixel share, not the image mean
    green = _ab(np.tile([0.2, 0.6, 0.15], (10, 10, 1)))
    grey = torch.zeros(1, 2, 1, 1)
    stats = HueStats()
    stats.update(green, green)
    stats.update(grey, _ab(np.tile([0.2, 0.6, 0.15], (1, 1, 1))))
    assert stats.result()["green_recall"] == pytest.approx(100 / 101)


def test_metric_width_keeps_aspect():
    x = torch.rand(2, 2, 90, 300)
    assert to_metric_width(x).shape == (2, 2, 38, 128)
    assert to_metric_width(torch.rand(1, 2, 50, 128)).shape == (1, 2, 50, 128)
