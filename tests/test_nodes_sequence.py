"""FuseColorize on a batch of video frames: prior_mode and temporal_smoothing (the pack imported as ComfyUI does)."""

import pytest
import torch
from helpers import lively_model

from colornet.model import compact_config
from colornet.pipeline import Colorizer
from colornet.prior import mix_priors
from test_nodes import common, fake_comfy, run  # noqa: F401  (fixture re-used)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return common.ColorNetModel(Colorizer(model=lively_model(compact_config(["a", "b"]), seed=1),
                                          device=torch.device("cpu")), name="test")


def clip(n_first=3, n_second=2, h=32, w=48) -> torch.Tensor:
    """Two shots as a ComfyUI IMAGE batch [B,H,W,3]: a panning pattern, then a different one."""
    y = torch.linspace(0, 1, h).view(h, 1)
    frames = []
    for t in range(n_first + n_second):
        x = torch.linspace(0, 1, w).view(1, w) + 0.03 * t
        v = 0.5 + 0.3 * (torch.sin(9 * x) * torch.cos(7 * y) if t < n_first else torch.cos(13 * x + 11 * y))
        frames.append(torch.stack([v, 0.9 * v, 0.8 * v + 0.1], -1).clamp(0, 1))
    return torch.stack(frames)


def test_default_is_per_image_as_before(model):
    batch = clip()
    out = run("ColorNetFuseColorize", model, batch, 1.0, 64)[0]
    colorizer = model.colorizer.with_working_size(64)
    for i in range(batch.shape[0]):
        ref = colorizer.colorize_rgb(batch[i : i + 1].permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        assert torch.allclose(out[i : i + 1], ref, atol=1e-6)


def test_per_shot_gives_each_shot_the_mix_of_its_frames(model):
    batch = clip()
    out = run("ColorNetFuseColorize", model, batch, 1.0, 64, prior_mode="per_shot", temporal_smoothing=0.0)[0]
    colorizer = model.colorizer.with_working_size(64)
    rgb = batch.permute(0, 3, 1, 2)
    for shot in (range(0, 3), range(3, 5)):
        mix = mix_priors([colorizer.prior_from_rgb(rgb[i : i + 1]) for i in shot])
        for i in shot:
            ref = colorizer.colorize_rgb(rgb[i : i + 1], mix).permute(0, 2, 3, 1)
            assert torch.allclose(out[i : i + 1], ref, atol=1e-4)


def test_smoothing_and_alpha_and_batch_shape(model):
    batch = torch.cat((clip(), torch.full((5, 32, 48, 1), 0.25)), -1)
    out = run("ColorNetFuseColorize", model, batch, 1.0, 64, prior_mode="whole_batch", temporal_smoothing=0.8)[0]
    assert out.shape == batch.shape and torch.equal(out[..., 3], batch[..., 3])
    assert 0 <= float(out.min()) and float(out.max()) <= 1


@pytest.mark.parametrize("kwargs, match", [
    ({"prior_mode": "per_scene"}, "prior_mode"),
    ({"temporal_smoothing": 2.0}, "temporal_smoothing"),
])
def test_bad_inputs_say_which_input(model, kwargs, match):
    with pytest.raises(common.ColorNetInputError, match=match):
        run("ColorNetFuseColorize", model, clip(), 1.0, 64, **kwargs)


def test_per_image_priors_with_a_clip_mode_is_an_input_error(model):
    rgb = clip().permute(0, 3, 1, 2)
    priors = model.colorizer.prior_from_rgb(rgb)  # 5 rows: one per frame
    with pytest.raises(common.ColorNetInputError, match="one per image"):
        run("ColorNetFuseColorize", model, clip(), 1.0, 64, priors, prior_mode="per_shot")


def test_progress_covers_both_passes_and_cancel_stops(model, fake_comfy):  # noqa: F811
    run("ColorNetFuseColorize", model, clip(), 1.0, 64, prior_mode="per_shot", temporal_smoothing=0.5)
    bar = fake_comfy.state["bars"][-1]
    assert (bar.current, bar.total) == (10, 10)
    fake_comfy.state["checks"], fake_comfy.state["interrupt_after"] = 0, 3
    with pytest.raises(fake_comfy.Interrupted):
        run("ColorNetFuseColorize", model, clip(), 1.0, 64, prior_mode="per_shot", temporal_smoothing=0.5)
    assert fake_comfy.state["checks"] == 4  # stopped at the first check after the limit


def test_clip_mode_with_a_mask_is_an_input_error(model):
    mask = torch.ones(1, 32, 48)
    with pytest.raises(common.ColorNetInputError, match="hints/mask"):
        run("ColorNetFuseColorize", model, clip(), 1.0, 64, mask=mask, prior_mode="per_shot")
