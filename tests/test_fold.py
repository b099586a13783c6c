"""Batch-norm folding (``colornet.fold``) and the fused full-resolution Lab strips (``colornet.fastlab``)."""

import pytest
import torch
from torch import nn

from colornet.fold import FoldedModelCache, fold_batchnorm
from colornet.lab import lab_to_rgb, rgb_to_luminance
from colornet.model import ColorNet, compact_config
from colornet.fastlab import compose_rgb, image_strips, luminance, split_lab, strips
from colornet.pipeline import Colorizer
from helpers import lively_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> ColorNet:
    net = lively_model(compact_config(["a", "b"]))
    with torch.no_grad():  # BN affine parameters away from (1, 0), so folding has something to get wrong
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net


def test_folded_model_matches_unfolded(model):
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    lightness = torch.rand(2, 1, 72, 100) * 100
    with torch.inference_mode():
        prior = model.encode_global(lightness)
        folded_prior = folded.encode_global(lightness)
        assert torch.allclose(prior.fusion, folded_prior.fusion, rtol=1e-4, atol=1e-3)
        assert torch.allclose(prior.logits, folded_prior.logits, rtol=1e-4, atol=1e-3)
        ab, ab_folded = model.predict_ab_half(lightness, prior), folded.predict_ab_half(lightness, prior)
    assert ab.std() > 1.0  # the network's output does depend on the input
    assert (ab - ab_folded).abs().max() < 1e-2  # ab spans [-110, 110]: float round-off only


def test_fold_leaves_the_original_alone_and_shares_fc_weights(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert folded.global_features.fc1[0].weight is model.global_features.fc1[0].weight  # not copied


def test_cache_refolds_after_the_weights_change():
    net = lively_model(compact_config())
    cache = FoldedModelCache()
    first = cache.get(net)
    assert cache.get(net) is first
    with torch.no_grad():
        net.mid_level.conv1[0].weight.mul_(2.0)  # in place, as an optimizer step
    assert cache.get(net) is not first


def test_colorizer_optimized_equals_plain_model(model):
    rgb = torch.rand(1, 3, 50, 70)
    fast = Colorizer(model, torch.device("cpu"), working_size=32).colorize_rgb(rgb)
    plain = Colorizer(model, torch.device("cpu"), working_size=32, optimize=False).colorize_rgb(rgb)
    assert (fast - plain).abs().max() < 1e-3  # RGB in [0, 1]: a quarter of an 8-bit step


def test_fused_luminance_and_compose_match_the_reference_lab():
    rgb = torch.rand(2, 3, 37, 301)
    rgb[0, :, 0, :5] = torch.tensor([0.0, 1.0, 0.02, 0.04045, 0.5])[:, None].T.expand(3, 5)  # branch edges
    assert (luminance(rgb) - rgb_to_luminance(rgb)).abs().max() < 1e-3
    lab = torch.cat((rgb_to_luminance(rgb), (torch.rand(2, 2, 37, 301) - 0.5) * 220), 1)
    assert (compose_rgb(lab[:, :1], lab[:, 1:]) - lab_to_rgb(lab)).abs().max() < 1e-4


def test_fused_split_lab_matches_skimage_across_strips():
    """Tall enough for several strips (a strip is 64 rows at this width): every strip boundary is crossed."""
    from skimage import color

    rgb = torch.rand(1, 3, 150, 2048)
    rgb[0, :, 0, :5] = torch.tensor([0.0, 1.0, 0.02, 0.04045, 0.5])[:, None].T.expand(3, 5)  # branch edges
    assert len(list(image_strips(rgb))) == 3
    lightness, ab = split_lab(rgb)
    ref = torch.from_numpy(color.rgb2lab(rgb[0].permute(1, 2, 0).double().numpy())).permute(2, 0, 1).float()
    assert (lightness[0] - ref[:1]).abs().max() < 1e-3 and (ab[0] - ref[1:]).abs().max() < 2e-3
    assert (compose_rgb(lightness, ab) - rgb).abs().max() < 1e-4  # the inverse


def test_strips_cover_every_row_once():
    assert [(s.start, s.stop) for s in strips(10, 4)] == [(0, 4), (4, 8), (8, 10)]
    assert list(strips(0, 4)) == []


def test_model_loaded_under_inference_mode_can_be_folded_and_run(tmp_path):
    """ComfyUI executes nodes under torch.inference_mode: weights loaded there are inference tensors."""
    from colornet.checkpoint import load_checkpoint, save_checkpoint
    from colornet.pipeline import Colorizer

    path = save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path)
    with torch.inference_mode():
        model, _ = load_checkpoint(path)
        out = Colorizer(model, torch.device("cpu")).colorize_rgb(torch.rand(1, 3, 40, 52))
    assert out.shape == (1, 3, 40, 52) and torch.isfinite(out).all()
