"""Tiled full-resolution mode: tiles overlap and blend, and the result equals the untiled pass."""

import pytest
import torch

from colornet.model import compact_config
from colornet.pipeline import Colorizer
from colornet.tiling import DEFAULT_HALO, RECEPTIVE_RADIUS, _spans, half_size, predict_ab_half_tiled
from helpers import lively_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return lively_model(compact_config())


def _photo_l(h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    smooth = 50 + 30 * torch.sin(7 * x + 3 * y) * torch.cos(5 * y)
    return (smooth + 15 * torch.rand(h, w, generator=g)).clamp(0, 100)[None, None]


@pytest.mark.parametrize("shape,tile", [((333, 517), 200), ((256, 300), 176), ((181, 403), 256)])
def test_tiled_equals_untiled(model, shape, tile):
    lightness = _photo_l(*shape)
    with torch.inference_mode():
        prior = model.encode_global(lightness)
        whole = model.predict_ab_half(lightness, prior)
        tiled = predict_ab_half_tiled(model, lightness, prior, tile=tile)
    assert len(_spans(shape[0], tile, 80)) * len(_spans(shape[1], tile, 80)) > 1  # really tiled
    assert tiled.shape == whole.shape == (1, 2, half_size(shape[0]), half_size(shape[1]))
    assert whole.std() > 1.0
    assert (tiled - whole).abs().max() < 1e-2  # ab spans [-110, 110]: float round-off only


def test_a_halo_below_the_receptive_field_still_blends_without_a_seam(model):
    lightness = _photo_l(240, 400)
    with torch.inference_mode():
        prior = model.encode_global(lightness)
        whole = model.predict_ab_half(lightness, prior)
        tiled = predict_ab_half_tiled(model, lightness, prior, tile=96, halo=16, ramp=8)
    err = (tiled - whole).abs()
    assert err.max() < 0.25 * whole.abs().max()  # approximate, but no tile is off on its own
    # no seam: the tiled result is as smooth across a tile border as the untiled one
    jump = lambda ab: (ab[..., 1:] - ab[..., :-1]).abs().amax(dim=(0, 1, 2))  # noqa: E731
    assert jump(tiled).max() <= 1.5 * jump(whole).max()


def test_receptive_radius_is_the_measured_reach_of_the_local_path():
    """Which input pixels an output pixel depends on, read from the gradients: the farthest is RECEPTIVE_RADIUS away
    (output pixel j covers input pixels 2j and 2j+1), over every phase of the stride-2 grids."""
    net = lively_model(compact_config()).double()
    lightness = _photo_l(256, 256).double()
    with torch.no_grad():
        prior = net.encode_global(lightness)
    reach = []
    for j in range(56, 64):  # 8 consecutive output pixels: every alignment with the 1/8 grid
        l_in = lightness.clone().requires_grad_()
        net.predict_ab_half(l_in, prior)[0, :, j, j].sum().backward()
        rows = torch.nonzero(l_in.grad[0, 0].abs().sum(1) > 0)[:, 0]
        reach.append(max(2 * j - int(rows.min()), int(rows.max()) - (2 * j + 1)))
    assert max(reach) == RECEPTIVE_RADIUS and DEFAULT_HALO >= RECEPTIVE_RADIUS


def test_colorizer_full_mode_tiles_and_matches_one_pass(model):
    rgb = torch.rand(1, 3, 150, 340)
    tiled = Colorizer(model, torch.device("cpu"), working_size=None, tile=176).colorize_rgb(rgb)
    whole = Colorizer(model, torch.device("cpu"), working_size=None, tile=None).colorize_rgb(rgb)
    assert Colorizer(model, torch.device("cpu"), working_size=None).working_size is None
    assert (tiled - whole).abs().max() < 1e-3  # RGB in [0, 1]


def test_bad_halo_and_tile_are_refused(model):
    lightness = _photo_l(300, 300)
    with torch.inference_mode():
        prior = model.encode_global(lightness)
        with pytest.raises(ValueError, match="multiple of 8"):
            predict_ab_half_tiled(model, lightness, prior, tile=200, halo=20)
        with pytest.raises(ValueError, match="too small"):
            predict_ab_half_tiled(model, lightness, prior, tile=120)
