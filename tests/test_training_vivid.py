"""Training the colour-distribution head: its loss against a dense reference, a short run that learns, fine-tuning
from a regression checkpoint, and the ageing augmentation of the L input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from colornet.checkpoint import load_checkpoint, save_checkpoint
from colornet.colorbins import ABQuantizer
from colornet.lab import rgb_to_lab
from colornet.model import ColorNet, compact_config
from training.data import ColorizationDataset, load_photos
from training.degrade import Degradation, apply_degradation, sample_degradation
from training.train import ColourLoss, main
from training_helpers import TINY_ARGS


def test_distribution_loss_equals_dense_cross_entropy():
    q = ABQuantizer.from_grid(10)
    target = rgb_to_lab(torch.rand(2, 3, 16, 16))[:, 1:]
    logits = torch.randn(2, q.n_bins, 8, 8)
    weight = torch.rand(q.n_bins) + 0.5
    loss = ColourLoss("distribution", quantizer=q, bin_weight=weight)(logits, target)
    # reference: dense soft targets and the textbook cross-entropy, pixel weights from the nearest bin by distance
    half = F.interpolate(target, size=(8, 8), mode="area")
    bins, w = q.soft_encode(half)
    dense = torch.zeros_like(logits).scatter_add_(1, bins, w)
    ce = -(dense * F.log_softmax(logits, 1)).sum(1)
    flat = half.permute(0, 2, 3, 1).reshape(-1, 2)
    nearest = torch.cdist(flat, q.centres).argmin(1).reshape(2, 8, 8)
    assert float(loss) == pytest.approx(float((ce * weight[nearest]).mean()), rel=1e-4)
    perfect = torch.log(dense + 1e-9)
    assert float(ColourLoss("distribution", quantizer=q)(perfect, target)) < float(
        ColourLoss("distribution", quantizer=q)(torch.zeros_like(logits), target))


def test_distribution_run_learns_and_exports(photos, tmp_path):
    out = tmp_path / "run"
    args = [f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--head=distribution", "--max_iters=60",
            "--optimizer=adam", "--learning_rate=0.01", "--export=True", "--eval_interval=60", "--vividness=0.5", "--head_lr_mult=10", "--rebalance=0"]
    assert main(args) == 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    losses = [r["mse"] for r in log if r["type"] == "train"]
    assert np.mean(losses[-10:]) < 0.95 * np.mean(losses[:10])  # the colour cross-entropy falls (from the prior)
    counts = json.loads((out / "ab_bin_counts.json").read_text())
    model, _ = load_checkpoint(out / "export" / "model.safetensors")
    assert len(counts["counts"]) == model.config.ab_bins and sum(counts["counts"]) > 0
    assert model.config.head == "distribution" and model.config.vividness == 0.5
    card = (out / "export" / "README.md").read_text()
    assert f"colour distribution over {model.config.ab_bins}" in card and "temperature 0.50" in card
    evals = [r for r in log if r["type"] == "eval"]
    assert evals and evals[-1]["model"]["colorfulness"] > 0


def test_init_from_regression_checkpoint_copies_the_trunk(photos, tmp_path):
    source = ColorNet(compact_config(["a", "b"]))  # other classes, regression head
    with torch.no_grad():
        source.low_level.conv1[0].weight.fill_(0.125)
    weights = save_checkpoint(source, tmp_path / "src")
    out = tmp_path / "run"
    args = [f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--head=distribution", "--max_iters=1",
            "--width=0.25", "--global_size=128", f"--init_from={weights}", "--export=True", "--learning_rate=1e-9",
            "--optimizer=adam"]
    assert main(args) == 0
    model, _ = load_checkpoint(out / "export" / "model.safetensors")
    assert torch.allclose(model.low_level.conv1[0].weight, torch.full_like(model.low_level.conv1[0].weight, 0.125),
                          atol=1e-6)


def test_degradation_is_seeded_bounded_and_only_touches_l(photos):
    rng = np.random.default_rng(3)
    lightness = torch.linspace(0, 100, 112 * 112).reshape(1, 112, 112)
    strong = Degradation(gamma=1.3, contrast=0.6, black=10, white=90, blur=1.0, grain=5, jpeg=40, specks=5, seed=7)
    a, b = apply_degradation(lightness, strong), apply_degradation(lightness, strong)
    assert torch.equal(a, b) and a.shape == lightness.shape
    assert a.min() >= 0 and a.max() <= 100 and (a - lightness).abs().mean() > 1.0
    assert torch.equal(apply_degradation(lightness, Degradation()), lightness)  # neutral = unchanged
    assert len({sample_degradation(rng) for _ in range(20)}) == 20
    data = load_photos(photos, val_fraction=0.2, store_side=48, grey_chroma=3.0, log=lambda *a: None)
    idx = data.indices("train")
    clean = ColorizationDataset(data, idx, crop=32, global_size=32, train=True, degrade=0.0)
    aged = ColorizationDataset(data, idx, crop=32, global_size=32, train=True, degrade=1.0)
    l0, ab0, g0, y0 = clean[(0, 11)]
    l1, ab1, g1, y1 = aged[(0, 11)]
    assert torch.equal(ab0, ab1) and y0 == y1  # same crop, clean target
    assert not torch.equal(l0, l1) and not torch.equal(g0, g1)  # the inputs are aged


def test_report_grid_shows_the_product_pipeline():
    """The report's grid column is exactly what ``Colorizer`` gives (working size + guided upsampling)."""
    from helpers import lively_model

    from colornet.pipeline import Colorizer
    from training.report import grid_row

    model = lively_model(compact_config(["a", "b"]))
    colorizer = Colorizer(model, torch.device("cpu"), working_size=32)
    rgb = torch.rand(3, 64, 80)
    grey, result, truth = grid_row({"c": colorizer}, rgb, side=200, truth=True)
    assert torch.equal(result, colorizer.colorize_rgb(rgb[None])[0].clamp(0, 1))
    assert torch.equal(truth, rgb)
    assert torch.allclose(grey[0], grey[1], atol=1e-4)  # the input column is grey
    grey_only = grid_row({"c": colorizer}, rgb, side=200, truth=False)
    assert len(grey_only) == 2


def test_grid_columns_at_chosen_vividness_and_the_sheet_keeps_every_cell(tmp_path):
    """A column may carry its own vividness (the old-prints figure: one checkpoint at 0, its default and 1); the sheet
    puts each cell, unscaled, in a column as wide as its widest cell."""
    import dataclasses

    import numpy as np
    from helpers import lively_model
    from PIL import Image

    from colornet.pipeline import Colorizer
    from training.metrics import colorfulness
    from training.report import grid_row, grid_sheet

    model = lively_model(dataclasses.replace(compact_config(["a", "b"]), head="distribution"))
    colorizer = Colorizer(model, torch.device("cpu"), working_size=32)
    rgb = torch.rand(3, 48, 64)
    grey, low, default, high = grid_row({"0": (colorizer, 0.0), "default": colorizer, "1": (colorizer, 1.0)}, rgb,
                                        side=200, truth=False)
    assert torch.equal(low, colorizer.colorize_rgb(rgb[None], vividness=0.0)[0].clamp(0, 1))
    assert torch.equal(default, colorizer.colorize_rgb(rgb[None])[0].clamp(0, 1))
    assert colorfulness(low[None]) < colorfulness(default[None]) < colorfulness(high[None])

    tall = torch.rand(3, 30, 10)
    sheet = grid_sheet([[grey, low], [tall, high]], ["grey", "v0"], tmp_path / "sheet.png")
    pixels = np.asarray(Image.open(sheet).convert("RGB"))
    pad, head = 4, 18
    assert pixels.shape == (head + (48 + pad) + (48 + pad) + pad, pad + 64 + pad + 64 + pad, 3)
    cell = (low.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(pixels[head + pad:head + pad + 48, 2 * pad + 64:2 * pad + 128], cell)
    narrow = (tall.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    y, x = head + pad + 48 + pad + (48 - 30) // 2, pad + (64 - 10) // 2
    assert np.array_equal(pixels[y:y + 30, x:x + 10], narrow)  # centred in its row and column
