"""Issue 19 items 2, 3 and 14: hint layers, masks and colour images under the photos' pixel budget and in bounded
memory; hints on long thin photos; inputs the library refuses (or reads right) instead of spreading NaN or clamping.

Each test failed before the issue: ~140 bytes a pixel for a large hint or colour image, the budget ignored for
--hints/--mask, a RuntimeError from the coarse levels of a 4000x100 photo, an all-NaN picture, a uint8 hint clamped
to white, 1x1 layers accepted on any photo while 1x2 was refused.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_nodes import PACK, model, net, photo, run  # noqa: F401  (fixtures shared with the node tests)

from colornet.cli import main
from colornet.errors import InputError
from colornet.hints import HintError, HintLayer, check_aspect
from colornet.lab import rgb_to_lab
from colornet.masking import mask_from_image
from colornet.pipeline import Colorizer
from colornet.transfer import transfer_chroma, transfer_chroma_rgb

REPO = Path(__file__).resolve().parents[1]
common = sys.modules[f"{PACK.__name__}.nodes._common"]


def _header_only_png(path: Path, width: int, height: int, colour_type: int = 6) -> Path:
    """A PNG whose header claims ``width x height`` (RGBA) and which holds no pixels: judged by its header alone."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def _gradient_rgba(path: Path, width: int, height: int) -> Path:
    """A large opaque RGBA picture that compresses to little (a smooth gradient)."""
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., 0] = y.astype(np.uint8)
    rgba[..., 1] = x.astype(np.uint8)
    rgba[..., 2], rgba[..., 3] = 90, 255
    Image.fromarray(rgba, "RGBA").save(path, compress_level=1)
    return path


PEAK = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import torch
    from PIL import Image
    torch.set_num_threads(1)
    from colornet.hints import hint_layer_from_image
    from colornet.transfer import transfer_chroma
    which, big, small = sys.argv[1:4]
    luma = np.full((300, 400, 3), 128, np.uint8)
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    def work(path):
        if which == "hints":
            hint_layer_from_image(path).at_size(300, 400)  # 12 MP: under the default budget
        else:
            transfer_chroma(luma, path)
    work(small)  # the code paths warmed up on a small picture
    base = peak()
    work(big)
    w, h = Image.open(big).size
    print((peak() - base) / (w * h))
""")


@pytest.mark.parametrize("which", ["hints", "transfer"])
def test_a_large_hint_or_colour_image_costs_a_few_bytes_a_pixel(tmp_path, which):
    """12 MP picture for a 400x300 photo: ~140 bytes a pixel (1.7 GB) before, now what decoding costs (< 40)."""
    big = _gradient_rgba(tmp_path / "big.png", 4000, 3000)
    small = _gradient_rgba(tmp_path / "small.png", 40, 30)
    out = subprocess.run([sys.executable, "-c", PEAK, which, str(big), str(small)], cwd=REPO, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert out.returncode == 0, out.stderr
    per_pixel = float(out.stdout.strip().splitlines()[-1])
    assert per_pixel < 40, f"{which}: {per_pixel:.1f} bytes a pixel"


def test_strip_reduction_equals_the_whole_picture_reduction():
    """The strip-wise reduction is the same area average / max as pooling the whole Lab picture at once."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    rgb = (torch.rand(1, 3, 203, 301, generator=g) * 255).to(torch.uint8)
    alpha = (torch.rand(1, 1, 203, 301, generator=g) > 0.97).to(torch.uint8) * 255
    ab, conf = HintLayer(rgb, alpha).at_size(37, 55)
    lab_ab = rgb_to_lab(rgb.float() / 255)[:, 1:]
    a = alpha.float() / 255
    want_conf = F.adaptive_max_pool2d(a, (37, 55))
    want_ab = F.adaptive_avg_pool2d(lab_ab * a, (37, 55)) / F.adaptive_avg_pool2d(a, (37, 55)).clamp_min(1e-12)
    assert torch.equal(conf, want_conf)
    assert torch.allclose(ab, want_ab * (want_conf > 0), atol=1e-3)
    colour = rgb[..., :150, :220]
    out = transfer_chroma_rgb(torch.rand(1, 3, 50, 73), colour.float() / 255)  # larger colour image: reduced
    assert out.shape == (1, 3, 50, 73) and bool(torch.isfinite(out).all())


def _photo(path: Path, width: int, height: int) -> Path:
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)
    return path


def test_the_budget_applies_to_hints_and_masks_with_the_option_named(tmp_path, capsys):
    photo_path = _photo(tmp_path / "p.png", 400, 300)
    big = _gradient_rgba(tmp_path / "hint.png", 4000, 3000)  # 12 MP
    for option in ("--hints", "--mask"):
        code = main(["colorize", str(photo_path), "-o", str(tmp_path / "out"), option, str(big),
                     "--max-megapixels", "1", "-q"])
        err = capsys.readouterr().err
        assert code == 2 and f"{option}:" in err and "12 megapixels, above the 1 MP limit" in err, err
    # --max-megapixels 0 lifts the limit for them too: an 81 MP header is judged by decoding, not refused by size
    huge = _header_only_png(tmp_path / "huge.png", 9000, 9000)
    code = main(["colorize", str(photo_path), "-o", str(tmp_path / "out"), "--hints", str(huge),
                 "--max-megapixels", "0", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "limit" not in err and "truncated or corrupt" in err, err
    with pytest.raises(ValueError, match="above the 75 MP limit"):  # the library takes the photos' budget too
        mask_from_image(huge, max_megapixels=75)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.mark.parametrize("width, height", [(4000, 100), (6000, 40), (2000, 3), (3, 2000), (1500, 1)])
def test_hints_on_long_thin_photos(colorizer, width, height):
    rgb = torch.full((1, 3, height, width), 0.5)
    hint_rgb = torch.zeros(1, 3, height, width)
    hint_rgb[:, 2] = 1.0  # blue
    alpha = torch.zeros(1, 1, height, width)
    alpha[..., : max(1, height // 2), : max(1, width // 2)] = 1.0
    out = colorizer.colorize_rgb(rgb, hints=HintLayer(hint_rgb, alpha))
    assert out.shape == rgb.shape and bool(torch.isfinite(out).all())
    ab = rgb_to_lab(out)[0, 1:, 0, 0]
    blue = rgb_to_lab(torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1))[0, 1:, 0, 0]
    assert float(torch.cosine_similarity(ab, blue, dim=0)) > 0.8  # the hinted corner turned blue(ish)


def test_one_nan_pixel_of_the_colour_image_is_refused():
    color = torch.rand(1, 3, 20, 30)
    color[0, 1, 7, 9] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        transfer_chroma_rgb(torch.rand(1, 3, 40, 60), color)
    with pytest.raises(common.ColorNetInputError, match="NaN"):
        run("ColorNetChromaTransfer", photo(h=40, w=60), color.permute(0, 2, 3, 1))


@pytest.mark.parametrize("settings, match", [
    ({"reach": 1e-30}, "reach must be a number from"),
    ({"reach": float("nan")}, "reach"),
    ({"hint_weight": float("inf")}, "hint_weight must be a number from"),
    ({"sigma": 1e-200}, "sigma must be a number from"),
    ({"sigma": -1.0}, "sigma"),
])
def test_solver_settings_that_would_make_nan_are_refused(settings, match):
    with pytest.raises(HintError, match=match):
        HintLayer(torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8), **settings)


def test_a_zero_size_hint_layer_is_refused_clearly():
    with pytest.raises(HintError, match="empty"):
        HintLayer(torch.zeros(1, 3, 0, 5), torch.zeros(1, 1, 0, 5))


def test_uint8_hints_mean_0_to_255_and_float_0_to_255_is_refused():
    g = torch.Generator().manual_seed(1)
    rgb8 = (torch.rand(1, 3, 12, 16, generator=g) * 255).to(torch.uint8)
    alpha = torch.zeros(1, 1, 12, 16)
    alpha[..., 3:6, 4:8] = 1.0
    ab8, conf8 = HintLayer(rgb8, alpha).at_size(6, 8)
    abf, conff = HintLayer(rgb8.float() / 255, alpha).at_size(6, 8)
    assert torch.allclose(ab8, abf, atol=1e-4) and torch.equal(conf8, conff)
    with pytest.raises(HintError, match=r"in \[0, 1\]"):
        HintLayer(rgb8.float(), alpha)  # 0..255 as floats was clamped to white


def test_fuse_colorize_reads_a_uint8_image_as_0_to_255(model):  # noqa: F811
    img = photo(h=40, w=56)
    img8 = (img * 255).round().to(torch.uint8)
    (out8,) = run("ColorNetFuseColorize", model, img8)
    (outf,) = run("ColorNetFuseColorize", model, img8.float() / 255)
    assert torch.allclose(out8, outf, atol=1e-5)


def test_lab_combine_refuses_empty_ab_and_ab_of_another_aspect():
    image = photo(h=40, w=60)
    with pytest.raises(common.ColorNetInputError, match="empty"):
        run("ColorNetLabCombine", image, torch.zeros(1, 2, 0, 0))
    with pytest.raises(common.ColorNetInputError, match="aspect ratio"):
        run("ColorNetLabCombine", image, torch.zeros(1, 2, 60, 20))
    (out,) = run("ColorNetLabCombine", image, torch.zeros(1, 2, 20, 30))  # the same picture at half size
    assert out.shape == (1, 40, 60, 3)


@pytest.mark.parametrize("layer, photo_size, ok", [
    ((1, 1), (100, 100), True),   # the photo at 1 px
    ((1, 1), (300, 100), True),   # 100x300 scaled to a 1 px long side is 1x1 (sides are at least 1)
    ((2, 2), (300, 100), False),  # ... and at 2 px it is 1x2, not 2x2
    ((2, 1), (300, 100), True),
    ((1, 2), (100, 100), False),  # a square photo is never 2x1
    ((2, 1), (100, 100), False),
    ((3, 5), (300, 500), True),
    ((4, 5), (300, 500), False),
    ((100, 4000), (97, 4000), False),  # long thin: not within 2 % nor half a pixel
    ((101, 4000), (100, 4000), True),
    ((300, 401), (600, 800), True),    # within 2 %
])
def test_the_one_aspect_rule_for_layers(layer, photo_size, ok):
    if ok:
        check_aspect(layer, photo_size, "layer")
    else:
        with pytest.raises(HintError, match="aspect ratio"):
            check_aspect(layer, photo_size, "layer")


def test_a_wrong_aspect_hint_fails_before_the_network_runs(colorizer, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network ran")

    monkeypatch.setattr(colorizer, "predict_ab_half", no_network)
    with pytest.raises(HintError, match="aspect ratio"):
        colorizer.colorize_rgb(torch.rand(1, 3, 40, 60), hints=HintLayer(torch.rand(1, 3, 2, 1), torch.ones(1, 1, 2, 1)))
    with pytest.raises(HintError, match="aspect ratio"):
        colorizer.colorize_rgb(torch.rand(1, 3, 40, 60), mask=torch.ones(1, 1, 60, 40))


def test_transfer_chroma_refuses_a_colour_file_above_the_budget(tmp_path):
    huge = _header_only_png(tmp_path / "huge.png", 9000, 9000)
    with pytest.raises(ValueError, match="above the 1 MP limit"):
        transfer_chroma(np.zeros((30, 40, 3), np.uint8), huge, max_megapixels=1)
