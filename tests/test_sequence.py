"""Sequences on small synthetic clips: motion, cuts, per-shot priors, smoothing, resets, streaming."""

import math

import numpy as np
import pytest
import torch
from helpers import lively_model
from skimage import color

from colornet.flow import estimate_flow
from colornet.model import compact_config
from colornet.pipeline import Colorizer
from colornet.prior import mix_priors
from colornet.sequence import CutDetector, colorize_frames, plan_shots
from colornet.pipeline import luminance

torch.set_num_threads(1)
H, W = 36, 64


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(lively_model(compact_config(["a", "b", "c"])), torch.device("cpu"), working_size=64)


def scene(kind: int, dx: float = 0.0, dy: float = 0.0, h: int = H, w: int = W) -> np.ndarray:
    """A smooth analytic picture seen through a camera shifted by (dx, dy) px: f(x + dx, y + dy), exactly."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = x + dx, y + dy
    if kind == 0:
        v = 0.5 + 0.25 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.2 * np.sin((x + 2 * y) / 11.0)
        rgb = np.stack([v, 0.8 * v + 0.1, 0.5 * v + 0.2 * np.cos(x / 9.0) + 0.2], -1)
    else:  # a different picture with a similar spread of tones
        v = 0.5 + 0.25 * np.cos(x / 4.0 + y / 3.0) + 0.2 * np.sin(y / 6.0)
        rgb = np.stack([0.6 * v + 0.3, v, 0.9 * v], -1)
    return np.clip(rgb, 0, 1).astype(np.float32)


def frames_of(pictures, noise=0.0, seed=0) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    out = []
    for p in pictures:
        p = np.clip(p + rng.normal(0, noise, p.shape), 0, 1).astype(np.float32) if noise else p
        out.append(torch.from_numpy(p).permute(2, 0, 1)[None])
    return out


def pan(kind, n, step=(1.3, 0.4), start=0, noise=0.0, seed=0):
    return frames_of([scene(kind, step[0] * (start + t), step[1] * (start + t)) for t in range(n)], noise, seed)


def test_flow_recovers_a_known_camera_shift():
    prev = torch.from_numpy(color.rgb2lab(scene(0, 0, 0, 72, 128))[..., 0]).float()[None, None]
    cur = torch.from_numpy(color.rgb2lab(scene(0, 1.7, -0.8, 72, 128))[..., 0]).float()[None, None]
    flow = estimate_flow(prev, cur)[0, :, 8:-8, 8:-8]
    # cur(x) = f(x + d) = prev(x + d): the flow must say (1.7, -0.8) everywhere
    assert abs(float(flow[0].median()) - 1.7) < 0.1 and abs(float(flow[1].median()) + 0.8) < 0.1


def test_cut_detector_ignores_motion_and_noise_but_finds_cuts():
    clip = pan(0, 6, noise=0.03) + pan(1, 5, noise=0.03, seed=1) + frames_of([scene(1, 0, 0, H + 2, W)])
    detector = CutDetector()
    cuts = [i for i, f in enumerate(clip) if detector(luminance(f))]
    assert cuts == [0, 6, 11]  # the first frame, the change of picture, the change of size


def test_per_shot_prior_is_the_mix_of_the_shots_frame_priors(colorizer):
    clip = pan(0, 4) + pan(1, 3)
    out = list(colorize_frames(colorizer, clip, prior_mode="per_shot", temporal_smoothing=0.0))
    for shot in (clip[:4], clip[4:]):
        mix = mix_priors([colorizer.prior_from_rgb(f) for f in shot])
        for frame in shot:
            ref = colorizer.colorize_rgb(frame, mix)
            got = out[[i for i, f in enumerate(clip) if f is frame][0]]
            assert torch.allclose(got, ref, atol=1e-4)  # the shot mix is accumulated frame by frame: round-off
    plan = plan_shots(colorizer, clip)
    assert plan.starts == (0, 4) and len(plan.priors) == 2


def test_whole_batch_uses_one_prior_for_every_frame(colorizer):
    clip = pan(0, 3) + pan(1, 2)
    out = list(colorize_frames(colorizer, clip, prior_mode="whole_batch", temporal_smoothing=0.0))
    mix = mix_priors([colorizer.prior_from_rgb(f) for f in clip])
    for got, frame in zip(out, clip):
        assert torch.allclose(got, colorizer.colorize_rgb(frame, mix), atol=1e-4)


def test_per_image_without_smoothing_is_plain_per_frame_colorization(colorizer):
    clip = pan(0, 3, noise=0.02)
    out = list(colorize_frames(colorizer, clip, prior_mode="per_image", temporal_smoothing=0.0))
    for got, frame in zip(out, clip):
        assert torch.equal(got, colorizer.colorize_rgb(frame))


def test_frames_after_a_cut_come_out_as_the_shot_alone(colorizer):
    first, second = pan(0, 5, noise=0.02), pan(1, 4, noise=0.02, seed=3)
    together = list(colorize_frames(colorizer, first + second, temporal_smoothing=0.9))
    alone = list(colorize_frames(colorizer, second, temporal_smoothing=0.9))
    for a, b in zip(together[5:], alone):
        assert torch.allclose(a, b, atol=1e-5)
    # and the smoothing did act inside the first shot (otherwise the test above proves nothing)
    plain = list(colorize_frames(colorizer, first, temporal_smoothing=0.0))
    assert not torch.allclose(together[3], plain[3], atol=1e-3)


def _ab(rgb: torch.Tensor) -> np.ndarray:
    return color.rgb2lab(rgb[0].permute(1, 2, 0).numpy())[..., 1:]


@pytest.fixture(scope="module")
def trained() -> Colorizer:
    """The bundled trained checkpoint: smoothing is about a real model's frame-to-frame jitter (a random network's
    ab is saturated to +-110 and flips between neighbouring pixels, nothing like a trained model's)."""
    return Colorizer.from_pretrained(device="cpu", working_size=64)


def test_smoothing_cuts_flicker_on_a_noisy_static_shot_and_keeps_lightness(trained):
    clip = frames_of([scene(0)] * 10, noise=0.04, seed=5)

    def flicker(out):
        return np.mean([np.hypot(*(_ab(out[t]) - _ab(out[t - 1])).transpose(2, 0, 1)).mean() for t in range(1, 10)])

    off = list(colorize_frames(trained, clip, temporal_smoothing=0.0, strength=0.5))
    on = list(colorize_frames(trained, clip, temporal_smoothing=0.8, strength=0.5))
    assert flicker(on) < 0.3 * flicker(off)
    for got, frame in zip(on, clip):  # half strength keeps colours inside sRGB, where clipping cannot move L
        l_in = color.rgb2lab(frame[0].permute(1, 2, 0).numpy())[..., 0]
        l_out = color.rgb2lab(got[0].permute(1, 2, 0).numpy())[..., 0]
        assert np.median(np.abs(l_in - l_out)) < 0.05


def test_smoothing_follows_a_pan(trained):
    """Camera pans 2 px per frame: the colours move with the content (compensated flicker drops) and stay within the
    per-frame colours' own frame-to-frame jitter of each frame's own colours (no smearing along the pan)."""
    clip = pan(0, 10, step=(2.0, 0.0), noise=0.04)
    plain = list(colorize_frames(trained, clip, temporal_smoothing=0.0))
    smooth = list(colorize_frames(trained, clip, temporal_smoothing=0.8))

    def moved_flicker(out):  # frame t at x shows what frame t-1 showed at x + 2
        return np.mean([np.abs(_ab(out[t])[:, 4:-4] - _ab(out[t - 1])[:, 6:-2]).mean() for t in range(1, 10)])

    def distance(out, ref):
        return np.mean([np.abs(_ab(o)[:, 8:-8] - _ab(r)[:, 8:-8]).mean() for o, r in zip(out, ref)])

    assert moved_flicker(smooth) < 0.25 * moved_flicker(plain)  # ~0.11x; smoothing blind to motion gives ~0.4x
    assert distance(smooth, plain) < moved_flicker(plain)


def test_streams_one_frame_at_a_time_from_a_generator(colorizer):
    produced = []

    def source():
        for t, frame in enumerate(pan(0, 6) + pan(1, 4)):
            produced.append(t)
            yield frame

    outputs = 0
    first = None
    for out in colorize_frames(colorizer, source(), prior_mode="per_shot", temporal_smoothing=0.5):
        outputs += 1
        assert len(produced) == outputs  # nothing read ahead: memory does not grow with the clip
        first = out if first is None else first
    assert outputs == 10
    # single pass: the first frame's shot prior is its own prior so far
    assert torch.allclose(first, colorizer.colorize_rgb(pan(0, 1)[0]), atol=1e-5)


def test_colorize_sequence_image_api_keeps_alpha_and_order(colorizer):
    frames = [np.dstack([scene(0, t, 0), np.full((H, W), 0.5, np.float32)]) for t in range(3)]
    out = list(colorizer.colorize_sequence(frames))
    assert len(out) == 3 and all(o.alpha is not None and np.allclose(o.alpha, 0.5) for o in out)
    ref = list(colorize_frames(colorizer, [torch.from_numpy(f[..., :3]).permute(2, 0, 1)[None] for f in frames]))
    assert all(np.allclose(o.rgb, r[0].permute(1, 2, 0).numpy(), atol=1e-6) for o, r in zip(out, ref))


@pytest.mark.parametrize("kwargs, match", [
    ({"prior_mode": "per_scene"}, "prior_mode"),
    ({"temporal_smoothing": 1.5}, "temporal_smoothing"),
    ({"temporal_smoothing": -0.1}, "temporal_smoothing"),
    ({"strength": -1}, "strength"),
    ({"cut_threshold": 0}, "cut_threshold"),
])
def test_bad_options_say_what_to_do(colorizer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        list(colorize_frames(colorizer, pan(0, 2), **kwargs))


def test_blend_weight_window_grows_evenly():
    from colornet.temporal import blend_weight

    windows = [(1 + blend_weight(s)) / (1 - blend_weight(s)) for s in (0.25, 0.5, 0.75, 1.0)]
    ratios = [b / a for a, b in zip(windows, windows[1:])]
    assert blend_weight(0) == 0 and all(math.isclose(r, ratios[0], rel_tol=0.35) for r in ratios)


@pytest.mark.parametrize("radius", [1, 2, 5])
def test_box_filter_is_the_clipped_window_mean(radius):
    """The running-sum box filter (flow, smoothing, guided upsampling) equals a plain 2-D average pool."""
    from colornet.upsample import box_filter

    x = torch.rand(2, 3, 13, 29) * 100
    ref = torch.nn.functional.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    assert torch.allclose(box_filter(x, radius), ref, atol=1e-4)
