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


def grey_photo(h=64, w=96):
    return photo(h=h, w=w).mean(-1, keepdim=True).expand(-1, -1, -1, 3).contiguous()


DOTS = {(12, 20): (0.85, 0.15, 0.1), (40, 70): (0.1, 0.35, 0.9), (44, 20): (0.2, 0.7, 0.2)}  # centre -> RGB


def painted(img, radius=3):
    """The photo with colour dots painted on it, as the mask editor's paint brush leaves it; and the dots' mask."""
    out, mask = img.clone(), torch.zeros(img.shape[:3])
    for (y, x), colour in DOTS.items():
        out[:, y - radius : y + radius, x - radius : x + radius] = torch.tensor(colour)
        mask[:, y - radius : y + radius, x - radius : x + radius] = 1.0
    return out, mask


def delta_ab_at_dots(out):
    lab = rgb_to_lab(out[..., :3].permute(0, 3, 1, 2))
    errors = []
    for (y, x), colour in DOTS.items():
        want = rgb_to_lab(torch.tensor(colour).view(1, 3, 1, 1))[0, 1:, 0, 0]
        errors.append(float((lab[0, 1:, y - 1 : y + 1, x - 1 : x + 1].mean((-2, -1)) - want).norm()))
    return sum(errors) / len(errors)


def test_painted_hints_give_the_painted_colours(model):  # noqa: F811
    """The mask-editor flow: colour painted on the black-and-white photo, the same Load Image feeding 'image' and
    'hints' (no mask): the output has the painted colours at the dots; with the dots masked (hints_mask) too."""
    img, mask = painted(grey_photo())
    (plain,) = run("ColorNetFuseColorize", model, img)
    (by_paint,) = run("ColorNetFuseColorize", model, img, hints=img)
    (by_mask,) = run("ColorNetFuseColorize", model, img, hints=img, hints_mask=mask)
    assert delta_ab_at_dots(plain) > 20  # the network alone does not paint these colours
    assert delta_ab_at_dots(by_paint) <= 5 and delta_ab_at_dots(by_mask) <= 5


def test_toned_print_is_not_taken_for_paint(model):  # noqa: F811
    """A sepia photo's own tone is not paint: only the dots are hints, so the picture away from them is unchanged
    from the run with the dots given by a mask."""
    sepia = grey_photo() * torch.tensor([1.0, 0.88, 0.7])
    img, mask = painted(sepia)
    (by_paint,) = run("ColorNetFuseColorize", model, img, hints=img)
    (by_mask,) = run("ColorNetFuseColorize", model, img, hints=img, hints_mask=mask)
    assert delta_ab_at_dots(by_paint) <= 5
    assert float((by_paint - by_mask).abs().mean()) < 0.01


@pytest.mark.parametrize("make, match", [
    (lambda img, mask: {"hints": img, "hints_mask": torch.zeros_like(mask)}, "empty"),
    (lambda img, mask: {"hints": img, "hints_mask": torch.zeros(1, 64, 64)}, "empty"),  # Load Image's "no mask"
    (lambda img, mask: {"mask": torch.zeros(1, 64, 64)}, "nothing would be colorized"),
    (lambda img, mask: {"hints": img, "hints_mask": 1.0 - mask}, "inverted"),  # the old example's mistake
    (lambda img, mask: {"hints": grey_photo()}, "no painted colour"),
    (lambda img, mask: {"hints": photo(h=64, w=96)}, "colour picture"),
    (lambda img, mask: {"hints": torch.cat((img, torch.zeros_like(img[..., :1])), -1)}, "empty"),
])
def test_hints_that_cannot_be_meant_fail_loudly(model, make, match):  # noqa: F811
    img, mask = painted(grey_photo())
    with pytest.raises(common.ColorNetInputError, match=match):
        run("ColorNetFuseColorize", model, img, **make(img, mask))


@pytest.mark.parametrize("kwargs, match", [
    ({"hints_mask": torch.ones(1, 40, 56)}, "'hints' is not"),
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
