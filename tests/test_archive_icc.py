"""Colour management on input: embedded profiles -> sRGB before L is taken, checked against LittleCMS."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from colornet.archive.icc import from_srgb, is_srgb, parse_profile, srgb_decode, srgb_profile_bytes, to_srgb
from colornet.images import load_image
from colornet.lab import rgb_to_lab
from icc_profiles import adobe_rgb, build_profile, grey_gamma, grey_table

SRGB_D50 = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))  # HP's sRGB profile


def _littlecms(pixels: np.ndarray, profile: bytes, mode: str, out: str = "RGB") -> np.ndarray:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB" if out == "RGB" else "LAB"))
    img = ImageCms.profileToProfile(Image.fromarray(pixels, mode), source, target, outputMode=out,
                                    renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return np.asarray(img).astype(np.float64)


def _lightness(rgb01: np.ndarray) -> np.ndarray:
    """CIE L* of sRGB pixels, by the project's one Lab conversion."""
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb01, np.float32)).permute(2, 0, 1))[0].numpy()


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_adobe_rgb_matches_littlecms(pixels):
    ours = to_srgb(pixels, parse_profile(adobe_rgb())) * 255
    ref = _littlecms(pixels, adobe_rgb(), "RGB")
    assert np.abs(ours - ref).max() <= 1.0
    assert np.abs(ours - ref).mean() < 0.35


def test_grey_gamma_18_matches_littlecms():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ours = to_srgb(grey, parse_profile(grey_gamma(1.8))) * 255
    ref = _littlecms(grey, grey_gamma(1.8), "L")
    assert np.abs(ours - ref).max() <= 1.5
    assert np.abs(ours[..., 0] - ours[..., 2]).max() == 0  # neutral stays neutral


def test_sampled_curve_matches_littlecms():
    curve = list(np.linspace(0, 1, 33) ** 2.0)
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ours = to_srgb(grey, parse_profile(grey_table(curve))) * 255
    assert np.abs(ours - _littlecms(grey, grey_table(curve), "L")).max() <= 1.5


def test_srgb_profiles_are_recognised():
    from icc_profiles import _desc, _table, _text, _xyz, D50

    curve = _table(list(srgb_decode(np.linspace(0, 1, 1024, dtype=np.float32))))
    hp_like = build_profile(b"RGB ", [
        (b"desc", _desc("sRGB IEC61966-2.1")), (b"cprt", _text("test")), (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(SRGB_D50[0])), (b"gXYZ", _xyz(SRGB_D50[1])), (b"bXYZ", _xyz(SRGB_D50[2])),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ])
    assert is_srgb(srgb_profile_bytes())
    assert is_srgb(hp_like)
    assert not is_srgb(adobe_rgb())
    assert not is_srgb(grey_gamma(1.8))
    assert not is_srgb(b"not a profile at all")


@pytest.mark.parametrize("bits", [8, 16])
def test_grey_gamma_18_scan_keeps_its_brightness(tmp_path, bits):
    """L of what the network sees equals the scan's L* as its own profile defines it (LittleCMS -> Lab)."""
    ramp8 = np.tile(np.arange(0, 256, 5, dtype=np.uint8), (4, 1))
    path = tmp_path / f"scan{bits}.png"
    if bits == 8:
        Image.fromarray(ramp8, "L").save(path, icc_profile=grey_gamma(1.8))
    else:
        Image.fromarray(ramp8.astype(np.uint16) * 257).save(path, icc_profile=grey_gamma(1.8))
    image = load_image(path)
    assert image.bit_depth == bits and image.metadata.colour == "converted"
    expected = _littlecms(ramp8, grey_gamma(1.8), "L", out="LAB")[..., 0] * 100 / 255
    got = _lightness(image.as_float())
    assert np.abs(got - expected).max() < 0.8  # L* units; untreated (as sRGB) mid grey is off by ~7
    untreated = _lightness(np.repeat(ramp8[..., None], 3, axis=2) / 255.0)
    assert np.abs(untreated - expected).max() > 5  # what the old loader did: the test can fail


def test_adobe_rgb_scan_keeps_its_lightness(tmp_path, pixels):
    path = tmp_path / "adobe.png"
    Image.fromarray(pixels).save(path, icc_profile=adobe_rgb())
    for lean in (False, True):
        image = load_image(path, keep_uint8=lean)
        assert image.metadata.icc == adobe_rgb()
        expected = _littlecms(pixels, adobe_rgb(), "RGB") / 255
        assert np.abs(image.as_float() - expected).max() <= 1.01 / 255


def test_untagged_and_srgb_files_are_left_alone(tmp_path, pixels):
    for name, kwargs in (("plain.png", {}), ("srgb.png", {"icc_profile": srgb_profile_bytes()})):
        Image.fromarray(pixels).save(tmp_path / name, **kwargs)
        image = load_image(tmp_path / name, keep_uint8=True)
        assert np.array_equal(image.rgb, pixels)
        assert image.metadata.colour == ("none" if not kwargs else "srgb")


def test_corrupt_profile_is_ignored_not_fatal(tmp_path, pixels):
    Image.fromarray(pixels).save(tmp_path / "bad.png", icc_profile=b"garbage" * 20)
    image = load_image(tmp_path / "bad.png", keep_uint8=True)
    assert np.array_equal(image.rgb, pixels)
    assert image.metadata.colour.startswith("ignored")


def test_back_into_the_input_profile_round_trips(pixels):
    profile = parse_profile(adobe_rgb())
    srgb = to_srgb(pixels, profile)
    inside = (srgb > 0.002).all(-1) & (srgb < 0.998).all(-1)  # clipped colours cannot come back
    back = from_srgb(srgb, profile) * 255
    assert inside.mean() > 0.5
    assert np.abs(back - pixels)[inside].max() < 0.05


def test_cmyk_with_a_profile_that_does_not_fit_is_loaded_unmanaged(tmp_path):
    px = np.random.default_rng(1).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    Image.fromarray(px, "CMYK").save(tmp_path / "cmyk.jpg", icc_profile=adobe_rgb())
    image = load_image(tmp_path / "cmyk.jpg")
    assert image.rgb.shape == (16, 16, 3) and image.metadata.colour.startswith("ignored")
