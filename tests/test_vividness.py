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


def reference_vivid(logits: torch.Tensor, centres: torch.Tensor, temperature: float, vividness: float,
                    default: float) -> torch.Tensor:
    """An independent decode, pixel by pixel in numpy: the annealed mean at the checkpoint's temperature, its chroma
    moved by (quantile at vividness - quantile at the default) of the pixel's chroma distribution at T = 1 (bins of
    equal chroma pooled), the quantile read off the piecewise-linear inverse CDF through (F_k, chroma_k) with
    np.interp."""
    from colornet.colorbins import VIVID_QUANTILES

    low, high = VIVID_QUANTILES
    asked, base = low + (high - low) * vividness, low + (high - low) * default
    cen = centres.double().numpy()
    chroma, group = np.unique(np.hypot(cen[:, 0], cen[:, 1]).round(3), return_inverse=True)
    lg = logits.double().numpy()
    out = np.zeros((lg.shape[0], 2) + lg.shape[2:])
    for b in range(lg.shape[0]):
        for y in range(lg.shape[2]):
            for x in range(lg.shape[3]):
                z = lg[b, :, y, x]
                p0 = np.exp((z - z.max()) / temperature)
                ab = (p0 / p0.sum()) @ cen
                p1 = np.exp(z - z.max())
                cdf = np.cumsum(np.bincount(group, weights=p1 / p1.sum(), minlength=len(chroma)))
                shift = np.interp(asked, cdf, chroma) - np.interp(base, cdf, chroma)
                c0 = np.hypot(*ab)
                out[b, :, y, x] = ab * max(c0 + shift, 0.0) / max(c0, 1.0)
    return torch.from_numpy(out).float()


def test_head_shapes_and_decoding(dist_model):
    lightness = torch.rand(2, 1, 24, 32) * 100
    prior = dist_model.encode_global(lightness)
    logits = dist_model.predict_head_half(lightness, prior)
    assert logits.shape == (2, dist_model.config.ab_bins, 12, 16)
    centres = dist_model.colorization.ab_centres
    t0, default = dist_model.decode_temperature, dist_model.config.vividness
    assert t0 == pytest.approx(1 - default)
    ab = dist_model.predict_ab_half(lightness, prior)  # the checkpoint's default: the annealed mean as trained
    expected = torch.einsum("bqhw,qc->bchw", torch.softmax(logits / t0, 1), centres)
    assert torch.allclose(ab, expected, atol=1e-4)
    for vividness in (0.0, 0.3, 1.0):  # the differentiable path (grad on) against the numpy reference
        got = dist_model.predict_ab_half(lightness, prior, vividness=vividness)
        want = reference_vivid(logits.detach(), centres, t0, vividness, default)
        error = (got - want).abs()  # float32 against float64: see test_fused_inference_decode_equals_the_reference
        assert error.max() < 0.1 and error.mean() < 1e-3, (vividness, error.max())


@torch.no_grad()
def test_vividness_moves_chroma_only_and_monotonically(dist_model):
    """On the decode's grid every pixel keeps its hue at every vividness, and its chroma never falls as vividness
    rises (by construction; the bilinear step to half size can then blend neighbours of different hues)."""
    import copy

    from colornet.colorbins import decode_annealed_mean, vivid_levels

    dist_model = copy.deepcopy(dist_model)
    dist_model.colorization.distribution.weight.mul_(0.05)  # spread-out distributions, as a trained head gives
    lightness = torch.rand(1, 1, 64, 80) * 100
    logits = dist_model.predict_head_half(lightness, dist_model.encode_global(lightness))
    centres, t0, default = dist_model.colorization.ab_centres, dist_model.decode_temperature, dist_model.config.vividness
    abs_ = [decode_annealed_mean(logits, centres, t0, vivid_levels(v, default)) for v in np.linspace(0, 1, 9)]
    base = decode_annealed_mean(logits, centres, t0)
    chroma = torch.stack([ab.norm(dim=1) for ab in abs_])
    assert (chroma.diff(dim=0) >= -1e-4).all()
    assert (chroma[-1] - chroma[0]).mean() > 5  # it does something
    for ab in abs_:
        keep = (base.norm(dim=1) > 1) & (ab.norm(dim=1) > 1)
        cosine = (ab * base).sum(1)[keep] / (ab.norm(dim=1) * base.norm(dim=1))[keep]
        assert (cosine > 1 - 1e-4).all()


def test_bundled_default_colourfulness_rises_with_vividness():
    """Issue 17: on real photos with the shipped weights, colourfulness rises from 0 to 1 (it used to fall on old
    prints: temperature changed which hues appeared) and the default setting is the prediction as trained."""
    from colornet.images import load_image

    colorizer = Colorizer.from_pretrained(None)
    samples = sorted((Path(__file__).parents[1] / "colornet" / "samples").glob("*.jpg"))
    assert samples
    for path in samples:
        rgb = torch.from_numpy(load_image(path).rgb).permute(2, 0, 1)[None]
        rgb = torch.nn.functional.interpolate(rgb, scale_factor=192 / max(rgb.shape[-2:]), mode="area")
        cf = [float(colorfulness(colorizer.colorize_rgb(rgb, vividness=v))[0]) for v in (0, 0.25, 0.5, 0.75, 1)]
        assert all(b > a for a, b in zip(cf, cf[1:])), (path.name, cf)
        assert torch.equal(colorizer.colorize_rgb(rgb),
                           colorizer.colorize_rgb(rgb, vividness=colorizer.model.default_vividness))


def test_a_checkpoint_can_default_to_another_vividness_than_its_trained_decode(dist_model, tmp_path):
    """``default_vividness``: what a run takes when none is asked (the shipped default: 0.4, its trained decode
    0.75); the hues stay the trained decode's, so the default run equals asking for that vividness of the same
    weights without it. It is saved, checked on load (0..1 or null) and is what every front end starts from."""
    import json

    from colornet.checkpoint import CheckpointError
    from colornet.onnx.export import model_document
    from nodes.colorize import VIVIDNESS_SLIDER_DEFAULT

    lightness = torch.rand(1, 1, 40, 40) * 100
    prior = dist_model.encode_global(lightness)
    plain = load_checkpoint(save_checkpoint(dist_model, tmp_path / "plain"))[0]
    assert plain.config.default_vividness is None and plain.default_vividness == plain.config.vividness
    chosen = load_checkpoint(save_checkpoint(dist_model, tmp_path / "plain"))[0]
    chosen.config.default_vividness = 0.2
    chosen = load_checkpoint(save_checkpoint(chosen, tmp_path / "chosen"))[0]
    assert chosen.config.default_vividness == 0.2 and chosen.resolve_vividness() == 0.2
    assert torch.equal(chosen.predict_ab_half(lightness, prior), plain.predict_ab_half(lightness, prior, 0.2))
    assert not torch.equal(chosen.predict_ab_half(lightness, prior), plain.predict_ab_half(lightness, prior))
    assert model_document(chosen)["defaults"]["vividness"] == 0.2

    config = json.loads((tmp_path / "chosen" / "config.json").read_text())
    config["architecture"]["default_vividness"] = 1.5
    bad = tmp_path / "bad"
    bad.mkdir()
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(tmp_path / "chosen" / "model.safetensors")), str(bad / "model.safetensors"),
              metadata={"colornet_config": json.dumps(config), "format": "pt"})
    with pytest.raises(CheckpointError, match="default_vividness"):
        load_checkpoint(bad / "model.safetensors")

    shipped = Colorizer.from_pretrained(None).model
    assert shipped.default_vividness == VIVIDNESS_SLIDER_DEFAULT == 0.4 and shipped.config.vividness == 0.75


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
            dist.resolve_vividness(bad)
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
    lightness = torch.rand(1, 1, 272, 400) * 100  # 68 x 100 quarter-size pixels: more than one decode chunk
    prior = dist_model.encode_global(lightness)
    centres = dist_model.colorization.ab_centres
    for vividness in (0.0, 0.62, 1.0):
        logits = dist_model.predict_head_half(lightness, prior).detach()
        pooled = F.avg_pool2d(logits, 2, ceil_mode=True)
        small = reference_vivid(pooled, centres, dist_model.decode_temperature, vividness,
                                dist_model.config.vividness)
        reference = F.interpolate(small, size=logits.shape[-2:], mode="bilinear", align_corners=False)
        with torch.no_grad():
            fused = dist_model.predict_ab_half(lightness, prior, vividness)
        # float32 CDFs against float64 ones: where a bin's share is tiny, a round-off in F moves that pixel's
        # quantile by a few hundredths of a chroma unit
        error = (fused - reference).abs()
        assert error.max() < 0.1 and error.mean() < 1e-3, (vividness, error.max())


@torch.no_grad()
def test_a_checkpoint_whose_default_is_the_mode_still_has_a_vividness_knob(dist_model):
    """Default vividness 1 (temperature 0: the mode decides the hue): other settings still move the chroma, in the
    fused decode as in the reference, and the default is the plain mode."""
    import copy

    import torch.nn.functional as F

    model = copy.deepcopy(dist_model)
    model.config.vividness = 1.0
    model.colorization.distribution.weight.mul_(0.05)
    lightness = torch.rand(1, 1, 64, 80) * 100
    prior = model.encode_global(lightness)
    logits = F.avg_pool2d(model.predict_head_half(lightness, prior), 2, ceil_mode=True)
    centres = model.colorization.ab_centres
    mode = F.interpolate(centres[logits.argmax(1)].permute(0, 3, 1, 2), scale_factor=2, mode="bilinear")
    assert torch.allclose(model.predict_ab_half(lightness, prior), mode, atol=1e-4)
    muted = model.predict_ab_half(lightness, prior, vividness=0.0)
    reference = F.interpolate(reference_vivid(logits, centres, 1e-3, 0.0, 1.0), scale_factor=2, mode="bilinear")
    assert (muted - reference).abs().mean() < 0.05
    assert muted.norm(dim=1).mean() < mode.norm(dim=1).mean() - 5


@torch.no_grad()
def test_decode_runs_in_float32_under_half_precision_autocast(dist_model):
    """The ComfyUI loader's float16/bfloat16 choice runs the network under autocast; the decode (head product, chroma
    quantiles) must still be float32, or the quantiles' divisions by small probabilities throw chroma off by tens of
    units. Checked with bfloat16 autocast on the CPU (the same autocast mechanism as CUDA's) against the reference."""
    from colornet.colorbins import decode_annealed_mean, decode_features, vivid_levels

    head = dist_model.colorization.distribution
    centres = dist_model.colorization.ab_centres
    torch.manual_seed(0)
    hidden = torch.randn(2, head.in_channels, 12, 9) * 3
    logits = torch.nn.functional.conv2d(hidden.double(), head.weight.double(), head.bias.double())
    temperature, default = dist_model.decode_temperature, dist_model.config.vividness
    for vividness in (0.0, 1.0):
        reference = reference_vivid(logits, centres, temperature, vividness, default)
        levels = vivid_levels(vividness, default)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fused = decode_features(hidden, head, centres, temperature, levels)
            plain = decode_annealed_mean(logits.float(), centres, temperature, levels)
        for out in (fused, plain):
            error = (out.float() - reference).abs()
            assert error.max() < 0.1 and error.mean() < 1e-3, (vividness, error.max())


def test_user_facing_texts_describe_vividness_as_boldness_not_mean_or_mode(capsys):
    """Vividness no longer picks between the distribution's mean and mode (or a temperature): every place a user
    reads what the knob does -- CLI help, the node's tooltip, docs/NODES.md, the GIMP dialog -- says so."""
    import re

    from helpers import ROOT, load_pack

    texts = {}
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    texts["cli"] = help_text[help_text.rindex("--vividness VIVIDNESS"):][:300]  # the option, not the usage line
    node = load_pack("colornet_pack_for_vividness_texts").NODE_CLASS_MAPPINGS["ColorNetFuseColorize"]
    texts["node"] = node.INPUT_TYPES()["optional"]["vividness"][1]["tooltip"]
    nodes_md = (ROOT / "docs" / "NODES.md").read_text()
    texts["NODES.md"] = next(line for line in nodes_md.splitlines() if line.startswith("| `vividness`"))
    gimp = (ROOT / "colornet" / "gimp" / "colornet-gimp.py").read_text()
    texts["gimp"] = re.search(r'add_double_argument\("vividness".*?\)', gimp, re.S).group(0)
    stale = re.compile(r"\b(mean|mode|most likely|safest|temperature)\b", re.I)
    for where, text in texts.items():
        assert "bold" in text and not stale.search(text), (where, text)
