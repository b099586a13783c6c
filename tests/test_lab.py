"""colornet.lab against scikit-image, the independent reference (same sRGB/D65 constants)."""

import numpy as np
import pytest
import torch
from skimage import color

from colornet.lab import (
    lab_to_rgb,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
    rgb_to_luminance,
    unnormalize_ab,
)

EDGE_COLOURS = np.array(
    [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [0, 1, 1],
        [1, 0, 1],
        [0.5, 0.5, 0.5],
        [0.04045, 0.04045, 0.04045],  # at the sRGB gamma knee
        [0.0031308 * 12.92, 0.001, 0.9],
        [1e-4, 1e-4, 1e-4],
    ],
    dtype=np.float64,
)


def _to_torch(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))).float()[None]


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).double().numpy()


def _random_images(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((2, 3, 17, 23))


def test_rgb_to_lab_matches_skimage_on_random_images():
    batch = _random_images(0)
    ours = rgb_to_lab(torch.from_numpy(batch).float()).double().numpy()
    for i in range(batch.shape[0]):
        ref = color.rgb2lab(batch[i].transpose(1, 2, 0))
        assert np.abs(ours[i].transpose(1, 2, 0) - ref).max() < 1e-3


def test_rgb_to_lab_matches_skimage_on_edge_colours():
    img = EDGE_COLOURS.reshape(1, -1, 3)
    ours = _to_numpy(rgb_to_lab(_to_torch(img)))
    ref = color.rgb2lab(img)
    assert np.abs(ours - ref).max() < 1e-3


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(1)
    lab = np.stack(
        [rng.uniform(0, 100, (9, 11)), rng.uniform(-128, 127, (9, 11)), rng.uniform(-128, 127, (9, 11))], axis=-1
    )
    # extremes: saturated corners far outside sRGB, and L at its ends
    lab[0, :4] = [[50, 127, 127], [50, -128, -128], [100, 0, 0], [0, 0, 0]]
    with pytest.warns(UserWarning):  # skimage warns about the clipped negative Z values
        ref = color.lab2rgb(lab)
    ours = _to_numpy(lab_to_rgb(_to_torch(lab)))
    assert ours.min() >= 0.0 and ours.max() <= 1.0  # clipped back into valid RGB
    assert np.abs(ours - ref).max() < 1e-4


@pytest.mark.parametrize("seed", [2, 3])
def test_round_trip(seed):
    rgb = torch.from_numpy(_random_images(seed)).float()
    back = lab_to_rgb(rgb_to_lab(rgb))
    assert (back - rgb).abs().max().item() < 1e-4
    edges = _to_torch(EDGE_COLOURS.reshape(1, -1, 3))
    assert (lab_to_rgb(rgb_to_lab(edges)) - edges).abs().max().item() < 1e-4


def test_unbatched_and_luminance_shapes():
    rgb = torch.rand(3, 5, 7)
    assert rgb_to_lab(rgb).shape == (3, 5, 7)
    assert rgb_to_luminance(rgb[None]).shape == (1, 1, 5, 7)


def test_gradients_are_finite_everywhere():
    rgb = torch.cat([torch.zeros(1, 3, 2, 2), torch.rand(1, 3, 2, 2), torch.ones(1, 3, 2, 2)]).requires_grad_()
    lab = rgb_to_lab(rgb)
    lab.sum().backward()
    assert torch.isfinite(rgb.grad).all()
    lab_in = torch.tensor([[[[0.0]], [[0.0]], [[0.0]]]]).requires_grad_()
    lab_to_rgb(lab_in).sum().backward()
    assert torch.isfinite(lab_in.grad).all()


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        rgb_to_lab(torch.rand(1, 4, 5, 5))


def test_scaling_helpers_invert_each_other():
    assert normalize_l(torch.tensor(0.0)) == -1 and normalize_l(torch.tensor(100.0)) == 1
    ab = torch.linspace(-110, 110, 11)
    assert torch.allclose(unnormalize_ab(normalize_ab(ab)), ab, atol=1e-4)
    assert normalize_ab(torch.tensor(-110.0)) == 0 and normalize_ab(torch.tensor(110.0)) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(rgb_to_lab(rgb.cuda()).cpu(), rgb_to_lab(rgb), atol=1e-3)
