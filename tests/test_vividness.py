"""The colour-distribution head end to end: model, checkpoint, pipeline `vividness`, CLI and node messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import lively_model
from PIL import Image

from colornet.checkpoint import load_checkpoint, save_checkpoint
from colornet.cli import EXIT_OK, EXIT_USAGE, main
from colornet.fold import fold_batchnorm
from colornet.model import ColorNet, VividnessError, compact_config
from colornet.pipeline import Colorizer
from training.metrics import colorfulness

CLASSES = ["beach", "forest", "street"]


def distribution_config():
    config = compact_config(CLASSES)
    config.head = "distribution"
    return config


@pytest.fixture(scope="module")
def dist_model() -> ColorNet:
    model = lively_model(distribution_config())
    with torch.no_grad():  # a head with something to say: logits that vary with the features
        model.colorization.distribution.weight.normal_(0, 2.0)
    return model


def test_head_shapes_and_decoding(dist_model):
    lightness = torch.rand(2, 1, 48, 64) * 100
    prior = dist_model.encode_global(lightness)
    logits = dist_model.predict_head_half(lightness, prior)
    assert logits.shape == (2, dist_model.config.ab_bins, 24, 32)
    ab = dist_model.predict_ab_half(lightness, prior, vividness=0.0)  # the mean of the predicted distribution
    probs = torch.softmax(logits, 1)
    expected = torch.einsum("bqhw,qc->bchw", probs, dist_model.colorization.ab_centres)
    assert torch.allclose(ab, expected, atol=1e-4)
    mode = dist_model.predict_ab_half(lightness, prior, vividness=1.0)
    assert torch.equal(mode, dist_model.colorization.ab_centres[logits.argmax(1)].permute(0, 3, 1, 2))


def test_checkpoint_round_trip_keeps_bins_and_output(dist_model, tmp_path):
    weights = save_checkpoint(dist_model, tmp_path)
    loaded, _ = load_checkpoint(weights)
    assert loaded.config.head == "distribution" and loaded.config.ab_bins == dist_model.config.ab_bins
    assert torch.equal(loaded.colorization.ab_centres, dist_model.colorization.ab_centres)
    lightness = torch.rand(1, 1, 40, 40) * 100
    prior = dist_model.encode_global(lightness)
    assert torch.allclose(loaded.predict_ab_half(lightness, prior), dist_model.predict_ab_half(lightness, prior),
                          atol=1e-5)


def test_batchnorm_folding_with_distribution_head(dist_model):
    lightness = torch.rand(1, 1, 40, 56) * 100
    prior = dist_model.encode_global(lightness)
    folded = fold_batchnorm(dist_model)
    logits, folded_logits = dist_model.predict_head_half(lightness, prior), folded.predict_head_half(lightness, prior)
    assert (folded_logits - logits).abs().max() < 1e-4 * logits.abs().max()


def test_vividness_raises_colourfulness(dist_model):
    import copy

    dist_model = copy.deepcopy(dist_model)
    with torch.no_grad():  # a spread-out distribution, as a trained head gives, not a saturated random one
        dist_model.colorization.distribution.weight.mul_(0.2)
    colorizer = Colorizer(dist_model, torch.device("cpu"))
    rgb = torch.rand(1, 3, 64, 64)
    cf = [float(colorfulness(colorizer.colorize_rgb(rgb, vividness=v))[0]) for v in (0.0, 0.5, 0.9)]
    assert cf[0] < cf[1] < cf[2]
    default = colorizer.colorize_rgb(rgb)
    assert torch.equal(default, colorizer.colorize_rgb(rgb, vividness=dist_model.config.vividness))


def test_vividness_errors():
    regression = lively_model(compact_config(CLASSES))
    with pytest.raises(VividnessError, match="regression head"):
        Colorizer(regression, torch.device("cpu")).colorize_rgb(torch.rand(1, 3, 16, 16), vividness=0.5)
    dist = ColorNet(distribution_config()).eval()
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(VividnessError, match=r"\[0, 1\]"):
            dist.temperature(bad)
    with pytest.raises(ValueError, match="head must be one of"):
        compact_config(CLASSES).__class__(head="mixture")


def test_cli_vividness(tmp_path, dist_model, capsys):
    photo = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(photo)
    dist_weights = save_checkpoint(dist_model, tmp_path / "dist")
    reg_weights = save_checkpoint(lively_model(compact_config(CLASSES)), tmp_path / "reg")
    outs = {}
    for v in ("0", "1"):
        code = main(["colorize", str(photo), "-o", str(tmp_path / v), "--weights", str(dist_weights), "-q",
                     "--vividness", v])
        assert code == EXIT_OK
        outs[v] = np.asarray(Image.open(tmp_path / v / "in.png"))
    assert not np.array_equal(outs["0"], outs["1"])
    capsys.readouterr()
    code = main(["colorize", str(photo), "-o", str(tmp_path / "r"), "--weights", str(reg_weights), "-q",
                 "--vividness", "0.5"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "regression head" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "in.png").exists()


def test_fused_inference_decode_equals_the_reference(dist_model):
    """Inference decodes the 2x2-averaged logits with the head and decode fused in pixel chunks; that must equal
    the textbook softmax decode of those averaged logits, brought back to half size."""
    import copy

    import torch.nn.functional as F

    dist_model = copy.deepcopy(dist_model)
    with torch.no_grad():  # moderate logits: no near-ties whose winner float round-off could flip
        dist_model.colorization.distribution.weight.mul_(0.05)
    torch.manual_seed(0)
    lightness = torch.rand(2, 1, 272, 400) * 100  # 68 x 100 quarter-size pixels: more than one decode chunk
    prior = dist_model.encode_global(lightness)
    centres = dist_model.colorization.ab_centres
    for vividness in (0.0, 0.62, 1.0):
        temperature = dist_model.temperature(vividness)
        logits = dist_model.predict_head_half(lightness, prior).detach()
        pooled = F.avg_pool2d(logits, 2, ceil_mode=True)
        if temperature <= 1e-3:
            small = centres[pooled.argmax(1)].permute(0, 3, 1, 2)
        else:
            small = torch.einsum("bqhw,qc->bchw", torch.softmax(pooled / temperature, 1), centres)
        reference = F.interpolate(small, size=logits.shape[-2:], mode="bilinear", align_corners=False)
        with torch.no_grad():
            fused = dist_model.predict_ab_half(lightness, prior, vividness)
        if temperature <= 1e-3:  # the mode: a near-tie may fall either way under float round-off
            assert ((fused - reference).abs() > 1e-3).any(1).float().mean() < 0.01
        else:
            assert torch.allclose(fused, reference, atol=1e-3), vividness
