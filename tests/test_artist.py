"""Artist controls on real photos with the bundled trained checkpoint: colour hints, mask-limited colorization,
chroma transfer (issue 12). Quality properties are measured against the photos' own ground-truth colours.

Real photos: the four bundled samples (colornet/samples) and, when the training data is present, validation photos
of shared/data/train (the training code's own hash split: the bundled model never saw them).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colornet.cli import EXIT_OK, EXIT_USAGE, main
from colornet.hints import HintError, HintLayer, check_hints_fit
from colornet.images import load_image
from colornet.lab import lab_to_rgb, rgb_to_lab
from colornet.pipeline import Colorizer
from colornet.transfer import transfer_chroma, transfer_chroma_rgb

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "colornet" / "samples").glob("*.jpg"))
DATA = Path("/work/shared/data/train")
VAL_FRACTION = 0.05  # training/configs/compact_cpu.py: the bundled checkpoint's split


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")  # the bundled default weights


def tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(load_image(path).rgb).permute(2, 0, 1)[None]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / float(((a - b) ** 2).mean()))


def gt_hints(rgb: torch.Tensor, count: int, seed: int) -> HintLayer:
    """``count`` random 3x3 squares coloured with the ground truth (in gamut by construction), alpha 1."""
    g = torch.Generator().manual_seed(seed)
    _, _, h, w = rgb.shape
    alpha = torch.zeros(1, 1, h, w)
    for y, x in zip(torch.randint(0, h - 2, (count,), generator=g).tolist(), torch.randint(0, w - 2, (count,), generator=g).tolist()):
        alpha[..., y : y + 3, x : x + 3] = 1.0
    return HintLayer(rgb, alpha)


def validation_photos(count: int) -> list[Path]:
    if not DATA.is_dir():
        pytest.skip(f"training data not present at {DATA} (validation photos)")
    sys.path.insert(0, str(ROOT))
    from training.data import split_of

    rel = sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*.jpg"))
    val = [r for r in rel if split_of(r, VAL_FRACTION) == "val"]
    step = max(1, len(val) // count)
    return [DATA / r for r in val[::step][:count]]


# ------------------------------------------------------------------------------------------------ hints


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_hint_pixels_get_the_hint_colour(colorizer, path):
    rgb = tensor(path)
    lab = rgb_to_lab(rgb)
    # ground-truth hints, and one far from the truth: a uniform colour, kept where it is in gamut at the photo's L
    hints = gt_hints(rgb, 10, seed=1)
    out = rgb_to_lab(colorizer.colorize_rgb(rgb, hints=hints))
    at = hints.alpha[0, 0] > 0
    err = (out[0, 1:] - lab[0, 1:]).norm(dim=0)[at]
    assert float(err.max()) < 5.0

    want = torch.tensor([25.0, -30.0]).view(1, 2, 1, 1).expand(1, 2, *rgb.shape[-2:])
    roundtrip = rgb_to_lab(lab_to_rgb(torch.cat((lab[:, :1], want), 1)))[:, 1:]
    in_gamut = (roundtrip - want).norm(dim=1)[0] < 0.5
    alpha = torch.zeros_like(hints.alpha)
    h, w = rgb.shape[-2:]
    alpha[..., h // 3 : h // 3 + 5, w // 3 : w // 3 + 5] = 1.0
    alpha[0, 0] *= in_gamut
    assert alpha.sum() > 0
    colour = lab_to_rgb(torch.cat((lab[:, :1], want), 1))
    before = rgb_to_lab(colorizer.colorize_rgb(rgb))
    out = rgb_to_lab(colorizer.colorize_rgb(rgb, hints=HintLayer(colour, alpha)))
    at = alpha[0, 0] > 0
    assert float((out[0, 1:] - want[0]).norm(dim=0)[at].max()) < 5.0
    assert float((before[0, 1:] - want[0]).norm(dim=0)[at].mean()) > 10.0  # the hint did change something


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_hint_stops_at_a_strong_lightness_edge(colorizer, path):
    """Left half brightened (L >= 63), right half darkened (L <= 33): a straight edge of >= 30 L through a real
    photo. An orange hint next to it on the left recolours the left side, not the right."""
    rgb = tensor(path)
    mid = rgb.shape[-1] // 2
    rgb[..., :mid] = rgb[..., :mid] * 0.4 + 0.6
    rgb[..., mid:] = rgb[..., mid:] * 0.3
    h = rgb.shape[-2]
    colour = torch.tensor([1.0, 0.55, 0.2]).view(1, 3, 1, 1).expand_as(rgb).contiguous()
    alpha = torch.zeros(1, 1, *rgb.shape[-2:])
    alpha[..., h // 2 - 2 : h // 2 + 3, mid - 7 : mid - 2] = 1.0
    base = rgb_to_lab(colorizer.colorize_rgb(rgb))[:, 1:]
    out = rgb_to_lab(colorizer.colorize_rgb(rgb, hints=HintLayer(colour, alpha)))[:, 1:]
    moved = out - base
    other_side = float(moved[..., mid:].mean((-2, -1)).norm())
    near_edge = float(moved[..., mid : mid + 16].mean((-2, -1)).norm())
    own_side = float(moved[..., :mid].mean((-2, -1)).norm())
    assert other_side < 2.0 and near_edge < 2.0
    assert own_side > 2.0  # the hint did spread on its own side


def test_ten_ground_truth_hints_raise_psnr_on_validation_photos(colorizer):
    photos = [tensor(p) for p in validation_photos(8)]
    gains = []
    for i, rgb in enumerate(photos):
        base = psnr(colorizer.colorize_rgb(rgb), rgb)
        hinted = [psnr(colorizer.colorize_rgb(rgb, hints=gt_hints(rgb, 10, seed=100 * i + s)), rgb) for s in range(2)]
        gains.append(float(np.mean(hinted)) - base)
    assert float(np.mean(gains)) >= 1.5, gains


def test_hints_far_away_leave_the_prediction(colorizer):
    """Away from any hint (and across edges) the network's prediction stands: a hint in one corner of a 384 px photo
    changes pixels there, while the median change over the photo stays small."""
    rgb = tensor(SAMPLES[0])
    alpha = torch.zeros(1, 1, *rgb.shape[-2:])
    alpha[..., 2:5, 2:5] = 1.0
    colour = torch.tensor([0.1, 0.3, 1.0]).view(1, 3, 1, 1).expand_as(rgb).contiguous()
    base = rgb_to_lab(colorizer.colorize_rgb(rgb))[:, 1:]
    out = rgb_to_lab(colorizer.colorize_rgb(rgb, hints=HintLayer(colour, alpha)))[:, 1:]
    change = (out - base).norm(dim=1)[0]
    assert float(change[2:5, 2:5].mean()) > 10.0
    assert float(change.median()) < 2.0


def test_hint_layer_scaling_keeps_small_hints():
    """A 3x3 hint on a 4x larger layer still counts fully at the working size, with its own colour."""
    rgb = torch.zeros(1, 3, 64, 96)
    rgb[:, 0] = 1.0  # red everywhere, but only one 3x3 hint is opaque
    alpha = torch.zeros(1, 1, 64, 96)
    alpha[..., 30:33, 40:43] = 1.0
    ab, conf = HintLayer(rgb, alpha).at_size(16, 24)
    red = rgb_to_lab(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))[0, 1:, 0, 0]
    hit = conf[0, 0] > 0
    assert int(hit.sum()) in (1, 2, 4) and float(conf[0, 0][hit].min()) == 1.0
    assert torch.allclose(ab[0, :, hit].T, red.expand(int(hit.sum()), 2), atol=1e-3)
    assert float(ab[0, :, ~hit].abs().max()) == 0.0
    small_ab, small_conf = HintLayer(rgb[..., ::8, ::8].contiguous(), alpha[..., ::8, ::8].contiguous()).at_size(64, 96)
    assert small_ab.shape[-2:] == (64, 96) and small_conf.shape[-2:] == (64, 96)
    with pytest.raises(HintError, match="aspect ratio"):  # checked against the photo, before any work
        check_hints_fit(HintLayer(rgb, alpha), 1, (64, 64))


def test_hint_image_without_alpha_is_refused(colorizer, tmp_path):
    Image.new("RGB", (20, 10), (255, 0, 0)).save(tmp_path / "flat.png")
    with pytest.raises(HintError, match="no alpha"):
        colorizer.colorize_image(SAMPLES[0], hints=tmp_path / "flat.png")


# ------------------------------------------------------------------------------------------------ mask


def test_mask_keeps_every_pixel_outside_exactly_and_blends_soft_values_in_lab(colorizer):
    rgb = tensor(SAMPLES[1])
    grey = rgb_to_lab(rgb)
    grey = lab_to_rgb(torch.cat((grey[:, :1], torch.zeros_like(grey[:, 1:])), 1))
    h, w = rgb.shape[-2:]
    mask = torch.zeros(1, 1, h, w)
    mask[..., h // 4 : h // 2, w // 4 : 3 * w // 4] = 1.0
    mask[..., h // 2 : h // 2 + 20, :] = 0.5
    for photo in (rgb, grey):
        full = colorizer.colorize_rgb(photo)
        out = colorizer.colorize_rgb(photo, mask=mask)
        keep, inside, soft = mask[0, 0] == 0, mask[0, 0] == 1, mask[0, 0] == 0.5
        assert torch.equal(out[0][:, keep], photo[0][:, keep])  # bit for bit: colour stays colour, grey stays grey
        assert torch.equal(out[0][:, inside], full[0][:, inside])
        lab_in, lab_full, lab_out = rgb_to_lab(photo), rgb_to_lab(full), rgb_to_lab(out)
        assert float((lab_out[0, 0][soft] - lab_in[0, 0][soft]).abs().max()) < 0.5  # L kept
        mid = (lab_in[0, 1:] + lab_full[0, 1:]) / 2
        assert float((lab_out[0, 1:][:, soft] - mid[:, soft]).norm(dim=0).max()) < 1.5


def test_mask_picture_of_another_size_is_scaled(colorizer, tmp_path):
    photo = load_image(SAMPLES[2], keep_uint8=True)
    h, w = photo.rgb.shape[:2]
    mask = np.zeros((h // 2, w // 2), np.uint8)
    mask[:, : w // 4] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    out = colorizer.colorize_image(SAMPLES[2], mask=tmp_path / "m.png")
    assert out.rgb.dtype == np.uint8  # an 8-bit photo gives an 8-bit result, mask or not (as the README says)
    assert np.array_equal(out.rgb[:, w // 2 + 2 :], photo.rgb[:, w // 2 + 2 :])  # kept bit for bit
    assert not np.array_equal(out.rgb[:, : w // 2 - 2], photo.rgb[:, : w // 2 - 2])


# ------------------------------------------------------------------------------------------------ transfer


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_chroma_transfer_from_a_4x_smaller_copy_beats_bilinear(path):
    src = load_image(path)
    rgb = torch.from_numpy(src.rgb).permute(2, 0, 1)[None]
    h, w = rgb.shape[-2:]
    small = Image.fromarray((src.rgb * 255 + 0.5).astype(np.uint8)).resize((w // 4, h // 4), Image.BOX)
    color = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    guided = psnr(transfer_chroma_rgb(rgb, color), rgb)
    # the independent baseline: ab resized bilinearly with torch, composed with the reference Lab conversion
    lab = rgb_to_lab(rgb)
    ab = torch.nn.functional.interpolate(rgb_to_lab(color)[:, 1:], size=(h, w), mode="bilinear", align_corners=False)
    bilinear = psnr(lab_to_rgb(torch.cat((lab[:, :1], ab), 1)), rgb)
    assert guided > bilinear
    assert guided > 30.0


def test_transfer_chroma_image_api_sizes_and_alpha(tmp_path):
    luma = Image.open(SAMPLES[0]).convert("L").convert("RGBA")
    colour = Image.open(SAMPLES[0]).resize((luma.width * 2, luma.height * 2))  # larger colour image is averaged down
    out = transfer_chroma(luma, colour)
    assert out.size == luma.size and out.mode == "RGBA"
    lab_out = rgb_to_lab(torch.from_numpy(np.asarray(out.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None])
    lab_ref = rgb_to_lab(tensor(SAMPLES[0]))
    assert float((lab_out[:, 1:] - lab_ref[:, 1:]).abs().mean()) < 3.0  # the colours came across
    with pytest.raises(HintError, match="aspect ratio"):
        transfer_chroma(luma, colour.resize((50, 50)))


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_hints_and_mask(tmp_path, capsys):
    photo = SAMPLES[3]
    src = load_image(photo)
    h, w = src.rgb.shape[:2]
    hints = np.zeros((h, w, 4), np.uint8)
    hints[h // 2 : h // 2 + 4, w // 4 : w // 4 + 4] = (40, 90, 230, 255)
    Image.fromarray(hints, "RGBA").save(tmp_path / "h.png")
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    out_dir = tmp_path / "out"
    code = main(["colorize", str(photo), "-o", str(out_dir), "--hints", str(tmp_path / "h.png"),
                 "--mask", str(tmp_path / "m.png"), "-q"])
    assert code == EXIT_OK
    result = np.asarray(Image.open(out_dir / f"{photo.stem}.png"), np.float32) / 255
    assert np.abs(result[:, w // 2 :] - src.rgb[:, w // 2 :]).max() < 0.5 / 255  # the input's own 8-bit values
    got = rgb_to_lab(torch.from_numpy(result[h // 2 : h // 2 + 4, w // 4 : w // 4 + 4]).permute(2, 0, 1))
    want = rgb_to_lab(torch.tensor([40, 90, 230], dtype=torch.float32).view(3, 1, 1) / 255)
    assert float((got[1:] - want[1:]).norm(dim=0).mean()) < 25  # hint colour (clipped to gamut at the photo's L)

    Image.new("RGB", (10, 10)).save(tmp_path / "flat.png")
    code = main(["colorize", str(photo), "-o", str(out_dir), "--hints", str(tmp_path / "flat.png"), "-q"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no alpha" in err[0]
