"""Metrics and floors against independent references (scikit-image, hand-computed values), plus the config parser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from colornet.lab import rgb_to_lab
from training.config import ConfigError, TrainConfig, parse_args
from training.floors import MeanColourTable
from training.metrics import ab_mse, colorfulness, psnr, topk_correct
from training.train import get_lr


def test_psnr_matches_scikit_image():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (2, 3, 16, 20)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    ours = psnr(torch.from_numpy(a), torch.from_numpy(b))
    for i in range(2):
        ref = peak_signal_noise_ratio(a[i], b[i], data_range=1.0)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-3)


def test_colorfulness_hasler_suesstrunk_known_values():
    # half pure red, half pure blue: rg = {255, 0}, yb = {127.5, -255}
    img = torch.zeros(1, 3, 4, 4)
    img[0, 0, :, :2] = 1.0
    img[0, 2, :, 2:] = 1.0
    sigma = math.sqrt(127.5**2 + 191.25**2)
    mu = math.sqrt(127.5**2 + 63.75**2)
    assert float(colorfulness(img)[0]) == pytest.approx(sigma + 0.3 * mu, rel=1e-5)
    grey = torch.rand(1, 1, 8, 8).expand(1, 3, 8, 8)
    assert float(colorfulness(grey)[0]) == pytest.approx(0.0, abs=1e-4)
    # independent numpy implementation (Hasler & Suesstrunk 2003, eq. 3) on a random photo
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (3, 10, 12)).astype(np.float32)
    r, g, b = x * 255
    rg, yb = r - g, 0.5 * (r + g) - b
    ref = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert float(colorfulness(torch.from_numpy(x)[None])[0]) == pytest.approx(ref, rel=1e-4)


def test_ab_mse_and_topk():
    a = torch.zeros(1, 2, 2, 2)
    b = torch.full((1, 2, 2, 2), 3.0)
    assert float(ab_mse(a, b)[0]) == 9.0
    logits = torch.tensor([[0.1, 0.5, 0.2, 0.9], [3.0, 0.0, 1.0, 2.0]])
    labels = torch.tensor([1, 1])
    assert topk_correct(logits, labels, 1).tolist() == [False, False]
    assert topk_correct(logits, labels, 2).tolist() == [True, False]
    assert topk_correct(logits, labels, 5).tolist() == [True, True]


def test_mean_colour_table_recovers_a_lightness_dependent_colour():
    # photos whose colour is a function of lightness only: the table reproduces their ab (nothing spatial needed)
    ramp = np.linspace(0, 1, 64, dtype=np.float32)
    rgb = np.stack([ramp, ramp**2, 0.3 * ramp], axis=-1)[None].repeat(8, 0)  # [8, 64, 3]
    photo = (rgb * 255).round().astype(np.uint8)
    table = MeanColourTable.fit([photo, photo[:, ::-1]], stride=1)
    lab = rgb_to_lab(torch.from_numpy(photo).permute(2, 0, 1).float() / 255)[None]
    pred = table.predict(lab[:, :1])
    assert float((pred - lab[:, 1:]).abs().mean()) < 2.0
    back = MeanColourTable.from_dict(table.to_dict())
    assert torch.equal(back.predict(lab[:, :1]), pred)


def test_config_file_then_overrides_with_type_checks(tmp_path):
    cfg_file = tmp_path / "c.py"
    cfg_file.write_text('"""doc"""\nbatch_size = 8\noptimizer = "adam"\nlearning_rate = 1e-3\n')
    cfg = parse_args([str(cfg_file), "--batch_size=16", "--decay_lr=True", "--resume", "--alpha=0"])
    assert (cfg.batch_size, cfg.optimizer, cfg.learning_rate, cfg.decay_lr, cfg.resume) == (16, "adam", 1e-3, True, True)
    assert cfg.alpha == 0.0 and isinstance(cfg.alpha, float)
    assert TrainConfig().alpha == pytest.approx(1 / 300) and TrainConfig().optimizer == "adadelta"
    with pytest.raises(ConfigError, match="unknown"):
        parse_args(["--batchsize=3"])
    with pytest.raises(ConfigError, match="must be an int"):
        parse_args(["--batch_size=3.5"])
    with pytest.raises(ConfigError):
        parse_args(["--optimizer=sgd"])
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    with pytest.raises(ConfigError):
        parse_args([str(bad)])
    js = tmp_path / "c.json"
    js.write_text('{"max_iters": 7, "nope": 1}')
    with pytest.raises(ConfigError, match="nope"):
        parse_args([str(js)])


def test_get_lr_is_a_pure_schedule():
    cfg = TrainConfig(learning_rate=1.0, min_lr=0.1, warmup_iters=10, max_iters=110, decay_lr=True)
    assert get_lr(0, cfg) == pytest.approx(0.1)
    assert get_lr(9, cfg) == pytest.approx(1.0)
    assert get_lr(60, cfg) == pytest.approx(0.55)
    assert get_lr(110, cfg) == pytest.approx(0.1)
    assert get_lr(50, TrainConfig(learning_rate=0.5)) == 0.5
