"""High-level colorization: sizes, modes, alpha, priors and references, strength, bounded working size."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color

from colornet.model import compact_config
from colornet.pipeline import Colorizer, working_shape
from colornet.upsample import upsample_ab
from helpers import lively_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(lively_model(compact_config(["a", "b", "c"])), torch.device("cpu"), working_size=64)


def _gradient_photo(h=50, w=70) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x / w, y / h, 0.5 * np.ones_like(x)]).astype(np.float32)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (33, 47), (1, 300), (300, 2), (97, 128)])
def test_any_size(colorizer, shape):
    out = colorizer.colorize_image(np.random.default_rng(0).random((*shape, 3)).astype(np.float32))
    assert out.rgb.shape == (*shape, 3)
    assert np.isfinite(out.rgb).all() and out.rgb.min() >= 0 and out.rgb.max() <= 1


def test_output_keeps_input_luminance(colorizer):
    photo = _gradient_photo()
    # a random network predicts extreme ab; a low strength keeps the colours inside sRGB, where no clipping can
    # move L, so the output's L must be the input's own full-resolution L
    out = colorizer.colorize_image(photo, strength=0.05)
    l_in = color.rgb2lab(photo)[..., 0]
    l_out = color.rgb2lab(out.rgb)[..., 0]
    assert np.median(np.abs(l_in - l_out)) < 0.05


def test_strength_zero_is_greyscale_and_larger_strength_is_more_colourful(colorizer):
    photo = _gradient_photo()
    grey = colorizer.colorize_image(photo, strength=0.0).rgb
    assert np.abs(grey[..., 0] - grey[..., 1]).max() < 2e-3 and np.abs(grey[..., 1] - grey[..., 2]).max() < 2e-3
    chroma = lambda rgb: np.hypot(*color.rgb2lab(rgb)[..., 1:].transpose(2, 0, 1)).mean()  # noqa: E731
    assert chroma(colorizer.colorize_image(photo, strength=2.0).rgb) > chroma(colorizer.colorize_image(photo).rgb)
    with pytest.raises(ValueError, match="strength"):
        colorizer.colorize_image(photo, strength=-1)


def test_rgba_alpha_passes_through(colorizer):
    rgba = np.dstack([_gradient_photo(), np.linspace(0, 1, 50 * 70, dtype=np.float32).reshape(50, 70)])
    out = colorizer.colorize_image(rgba)
    assert out.alpha is not None and np.array_equal(out.alpha, rgba[..., 3])


def test_greyscale_pil_input(colorizer):
    grey = Image.fromarray((np.linspace(0, 255, 40 * 30).reshape(30, 40)).astype(np.uint8), "L")
    assert colorizer.colorize_image(grey).rgb.shape == (30, 40, 3)


def test_reference_prior_changes_colours_and_own_reference_is_identity(colorizer):
    photo, other = _gradient_photo(), np.random.default_rng(1).random((60, 40, 3)).astype(np.float32)
    own = colorizer.colorize_image(photo).rgb
    same = colorizer.colorize_image(photo, colorizer.prior_from_references([photo])).rgb
    styled = colorizer.colorize_image(photo, colorizer.prior_from_references([other])).rgb
    assert np.array_equal(own, same)
    assert np.abs(own - styled).max() > 1e-3
    # a 1.0 / 0.0 mix is exactly the first reference
    mixed = colorizer.prior_from_references([other, photo], [1.0, 0.0])
    assert np.array_equal(colorizer.colorize_image(photo, mixed).rgb, styled)


def test_batch_with_one_prior_or_one_per_frame(colorizer):
    frames = torch.rand(3, 3, 24, 32)
    prior = colorizer.prior_from_rgb(frames[:1])
    out = colorizer.colorize_rgb(frames, prior)
    assert out.shape == (3, 3, 24, 32)
    per_frame = colorizer.prior_from_rgb(frames)
    assert torch.allclose(colorizer.colorize_rgb(frames, per_frame), colorizer.colorize_rgb(frames), atol=1e-5)
    with pytest.raises(ValueError, match="empty batch"):
        colorizer.colorize_rgb(torch.rand(0, 3, 8, 8))


def test_working_shape_bounds_the_longer_side():
    assert working_shape(2160, 3840, 512) == (288, 512)
    assert working_shape(100, 80, 512) == (100, 80)  # never upscaled
    assert working_shape(5000, 3, 512) == (512, 1)
    assert working_shape(2160, 3840, None) == (2160, 3840)


def test_working_size_at_least_the_photo_is_the_full_resolution_network(colorizer):
    photo = torch.from_numpy(_gradient_photo(40, 60)).permute(2, 0, 1)[None]
    full = Colorizer(colorizer.model, colorizer.device, working_size=None).colorize_rgb(photo)
    assert torch.equal(colorizer.colorize_rgb(photo), full)  # 60 <= working_size 64: nothing is resized
    smaller = Colorizer(colorizer.model, colorizer.device, working_size=32).colorize_rgb(photo)
    assert smaller.shape == full.shape and not torch.equal(smaller, full)


def test_guided_upsampling_follows_luminance_edges():
    # a sharp vertical edge in L; ab is +40 left / -40 right at low resolution, blurred across the edge
    h, w = 64, 64
    lightness = torch.zeros(1, 1, h, w)
    lightness[..., w // 2 :] = 80.0
    ab_half = torch.zeros(1, 2, h // 4, w // 4)
    ab_half[..., : w // 8] = 40.0
    ab_half[..., w // 8 :] = -40.0
    guided = upsample_ab(ab_half, lightness, mode="guided")
    bilinear = upsample_ab(ab_half, lightness, mode="bilinear")
    edge = slice(w // 2 - 2, w // 2 + 2)
    target = torch.where(lightness > 40, -40.0, 40.0).expand(1, 2, h, w)
    err_guided = (guided - target)[..., edge].abs().mean()
    err_bilinear = (bilinear - target)[..., edge].abs().mean()
    assert err_guided < err_bilinear


def test_strips_equal_whole_image():
    ab_half = torch.randn(1, 2, 20, 30) * 30
    lightness = torch.rand(1, 1, 81, 119) * 100
    whole = upsample_ab(ab_half, lightness)
    strips = upsample_ab(ab_half, lightness, rows_per_strip=7)
    assert torch.equal(whole, strips)


def test_reduced_precision_autocast_gives_float32_results(colorizer):
    frames = torch.rand(2, 3, 40, 56)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prior = colorizer.prior_from_rgb(frames[:1])
        out = colorizer.colorize_rgb(frames, prior)
    assert prior.fusion.dtype == torch.float32 and out.dtype == torch.float32
    assert torch.isfinite(out).all() and (out - colorizer.colorize_rgb(frames, prior)).abs().mean() < 0.05


def test_prior_does_not_depend_on_working_size(colorizer):
    photo = torch.from_numpy(_gradient_photo(90, 120)).permute(2, 0, 1)[None]
    small = Colorizer(colorizer.model, colorizer.device, working_size=32)
    full = Colorizer(colorizer.model, colorizer.device, working_size=None)
    assert torch.equal(small.prior_from_rgb(photo).fusion, full.prior_from_rgb(photo).fusion)
    # and colorize_rgb's own prior is that same prior
    assert torch.equal(small.colorize_rgb(photo), small.colorize_rgb(photo, full.prior_from_rgb(photo)))
