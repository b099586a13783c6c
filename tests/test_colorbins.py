"""The quantized ab space of the colour-distribution head, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from colornet.colorbins import (
    ABQuantizer,
    decode_annealed_mean,
    gamut_bins,
    in_gamut_mask,
    lattice_centres,
    smoothed_rebalance_weights,
)
from colornet.lab import rgb_to_lab


def test_bins_match_scikit_image_gamut():
    """The in-gamut lattice cells found with colornet's Lab equal those found with scikit-image's."""
    n = 512
    axis = np.linspace(0.0, 1.0, n)
    u, v = (t.reshape(-1) for t in np.meshgrid(axis, axis, indexing="ij"))
    faces = []
    for fixed in (0.0, 1.0):
        w = np.full_like(u, fixed)
        faces += [np.stack(c, 1) for c in ((w, u, v), (u, w, v), (u, v, w))]
    lab = rgb2lab(np.concatenate(faces)[None])[0]
    side = 23
    ij = np.clip(np.round((lab[:, 1:] + 110.0) / 10.0).astype(int), 0, side - 1)
    reference = np.zeros(side * side, bool)
    reference[ij[:, 0] * side + ij[:, 1]] = True
    ours = in_gamut_mask(10).numpy()
    assert (ours != reference).sum() <= 1  # a cell grazed at the sampling resolution may differ
    assert 240 <= ours.sum() <= 320


def test_every_srgb_colour_has_its_bin():
    """Random sRGB colours round to a lattice point that is a bin."""
    q = ABQuantizer.from_grid(10)
    ab = rgb_to_lab(torch.rand(1, 3, 64, 64))[:, 1:]
    ij = torch.round((ab + 110) / 10).long()
    keys = (ij[:, 0] * q.side + ij[:, 1]).reshape(-1)
    assert (q.lookup[keys] >= 0).all()


def test_soft_encoding_equals_distance_based_reference():
    """Rounding-based soft targets = Gaussian weights over the bins within one lattice step, found by distances."""
    q = ABQuantizer.from_grid(10)
    ab = rgb_to_lab(torch.rand(1, 3, 6, 7))[:, 1:]
    bins, weight = q.soft_encode(ab)
    dense = torch.zeros(1, q.n_bins, 6, 7).scatter_add_(1, bins, weight)
    assert torch.allclose(weight.sum(1), torch.ones(1, 6, 7), atol=1e-5)
    for y in range(6):
        for x in range(7):
            p = ab[0, :, y, x]
            nearest_point = torch.round((p + 110) / 10) * 10 - 110
            near = ((q.centres - nearest_point).abs() <= 10 + 1e-4).all(1)
            w = torch.exp(-((q.centres - p) ** 2).sum(1) / (2 * 5.0**2)) * near
            assert torch.allclose(dense[0, :, y, x], w / w.sum(), atol=1e-5)


def test_soft_target_mean_recovers_the_colour():
    q = ABQuantizer.from_grid(10)
    ab = rgb_to_lab(torch.rand(2, 3, 16, 16))[:, 1:]
    bins, weight = q.soft_encode(ab)
    dense = torch.zeros(2, q.n_bins, 16, 16).scatter_add_(1, bins, weight)
    decoded = decode_annealed_mean(torch.log(dense + 1e-12), q.centres, 1.0)
    assert (decoded - ab).abs().median() < 1.0
    assert (decoded - ab).abs().max() < 5.0


def test_annealed_mean_between_mean_and_mode():
    centres = gamut_bins(10)
    grey = int(((centres) ** 2).sum(1).argmin())
    red = int(((centres - torch.tensor([60.0, 40.0])) ** 2).sum(1).argmin())
    logits = torch.full((1, centres.shape[0], 1, 1), -20.0)
    logits[0, grey], logits[0, red] = 1.2, 1.0  # grey slightly more likely than a saturated red
    mean = decode_annealed_mean(logits, centres, 1.0)[0, :, 0, 0]
    probs = torch.softmax(logits[0, :, 0, 0], 0)
    assert torch.allclose(mean, (probs[:, None] * centres).sum(0), atol=1e-4)
    mode = decode_annealed_mean(logits, centres, 0.0)[0, :, 0, 0]
    assert torch.equal(mode, centres[grey])
    chroma = [float(decode_annealed_mean(logits, centres, t)[0, :, 0, 0].norm()) for t in (1.0, 0.6, 0.38, 0.2)]
    assert chroma == sorted(chroma, reverse=True)  # colder = closer to the (grey) mode


def test_rebalance_weights():
    centres = gamut_bins(10)
    counts = torch.ones(centres.shape[0])
    counts[:5] = 1000.0  # five very common bins
    w = smoothed_rebalance_weights(counts, centres, mix=0.5)
    smooth = torch.exp(-torch.cdist(centres.double(), centres.double()) ** 2 / 50.0) @ (counts.double() / counts.sum())
    smooth = smooth / smooth.sum()
    assert float((smooth * w.double()).sum()) == pytest.approx(1.0, abs=1e-5)
    assert w[:5].max() < w[100:].min()  # the common colours weigh least
    uniform = smoothed_rebalance_weights(counts, centres, mix=1.0)
    assert torch.allclose(uniform, torch.ones_like(uniform), atol=1e-5)


def test_lattice_centres_cover_the_ab_range():
    c = lattice_centres(10)
    assert c.shape == (23 * 23, 2) and c.min() == -110 and c.max() == 110
