"""FuseColorize's artist inputs (hints, hints_mask, mask) and the ChromaTransfer node, on real tensors without
ComfyUI (the pack imported as ComfyUI imports it). A random-init network stands in: behaviour, not colour quality."""

from __future__ import annotations

import pytest
import torch
from test_nodes import PACK, model, net, photo, run  # noqa: F401  (fixtures shared with the node tests)

from colornet.lab import rgb_to_lab

common = __import__("sys").modules[f"{PACK.__name__}.nodes._common"]


def test_fuse_colorize_mask_keeps_pixels_outside_exactly(model):  # noqa: F811
    img = photo(batch=2, h=40, w=56)
    mask = torch.zeros(1, 40, 56)
    mask[:, 10:30, 10:40] = 1.0
    (out,) = run("ColorNetFuseColorize", model, img, mask=mask)
    keep = mask[0] == 0
    assert torch.equal(out[:, keep], img[:, keep])
    (plain,) = run("ColorNetFuseColorize", model, img)
    inside = mask[0] == 1
    assert torch.allclose(out[:, inside], plain[:, inside])


def test_fuse_colorize_hints_from_rgba_and_from_hints_mask(model):  # noqa: F811
    img = photo(h=40, w=56)
    hint = torch.zeros(1, 40, 56, 4)
    hint[..., :3] = torch.tensor([0.2, 0.4, 0.9])
    hint[:, 18:22, 26:30, 3] = 1.0
    (with_alpha,) = run("ColorNetFuseColorize", model, img, hints=hint)
    (with_mask,) = run("ColorNetFuseColorize", model, img, hints=hint[..., :3], hints_mask=hint[..., 3])
    assert torch.allclose(with_alpha, with_mask)
    want = rgb_to_lab(torch.tensor([0.2, 0.4, 0.9]).view(1, 3, 1, 1))[0, 1:, 0, 0]
    got = rgb_to_lab(with_alpha.permute(0, 3, 1, 2))[0, 1:, 19:21, 27:29].mean((-2, -1))
    (plain,) = run("ColorNetFuseColorize", model, img)
    before = rgb_to_lab(plain.permute(0, 3, 1, 2))[0, 1:, 19:21, 27:29].mean((-2, -1))
    assert float((got - want).norm()) < float((before - want).norm()) - 5


@pytest.mark.parametrize("kwargs, match", [
    ({"hints_mask": torch.ones(1, 40, 56)}, "'hints' is not"),
    ({"hints": torch.rand(1, 40, 56, 3)}, "no alpha"),
    ({"hints": torch.rand(1, 40, 56, 4), "hints_mask": torch.ones(1, 20, 20)}, "same picture"),
    ({"hints": torch.rand(1, 30, 90, 4)}, "aspect ratio"),
    ({"mask": torch.ones(3, 40, 56)}, "3 masks"),
    ({"mask": "white"}, "must be a MASK"),
])
def test_fuse_colorize_control_input_errors(model, kwargs, match):  # noqa: F811
    with pytest.raises(common.ColorNetInputError, match=match):
        run("ColorNetFuseColorize", model, photo(batch=2, h=40, w=56), **kwargs)


def test_chroma_transfer_node_sizes_batch_and_alpha():
    luma = torch.cat((photo(batch=2, h=64, w=96), torch.full((2, 64, 96, 1), 0.5)), -1)  # RGBA batch of 2
    color = photo(batch=1, h=16, w=24, seed=3)
    (out,) = run("ColorNetChromaTransfer", luma, color)
    assert out.shape == (2, 64, 96, 4) and torch.equal(out[..., 3], luma[..., 3])
    l_in = rgb_to_lab(luma[..., :3].permute(0, 3, 1, 2))[:, 0]
    l_out = rgb_to_lab(out[..., :3].permute(0, 3, 1, 2))[:, 0]
    assert float((l_in - l_out).abs().mean()) < 1.0  # lightness is the luma image's
    with pytest.raises(common.ColorNetInputError, match="'color' holds 3"):
        run("ColorNetChromaTransfer", luma, photo(batch=3, h=16, w=24))
    with pytest.raises(common.ColorNetInputError, match="aspect ratio"):
        run("ColorNetChromaTransfer", luma, photo(batch=1, h=16, w=16))
