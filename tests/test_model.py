"""The network's structure (paper Table 1), shared low-level weights, priors and checkpoints."""

import json

import pytest
import torch
from torch import nn

from colornet.checkpoint import load_checkpoint, save_checkpoint
from colornet.errors import CheckpointError, CheckpointMismatchError
from colornet.model import ColorNet, ColorNetConfig, compact_config, paper_config
from colornet.prior import GlobalPrior, mix_priors
from helpers import lively_model

torch.set_num_threads(1)
CLASSES = ["beach", "forest", "street"]


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_paper_config_matches_table_1():
    net = ColorNet(paper_config(["c"] * 205))
    low = _convs(net.low_level)
    assert [c.out_channels for c in low] == [64, 128, 128, 256, 256, 512]
    assert [c.stride[0] for c in low] == [2, 1, 2, 1, 2, 1]
    assert [c.out_channels for c in _convs(net.mid_level)] == [512, 256]
    glob = _convs(net.global_features)
    assert [c.out_channels for c in glob] == [512] * 4 and [c.stride[0] for c in glob] == [2, 1, 2, 1]
    fcs = [m for m in net.global_features.modules() if isinstance(m, nn.Linear)]
    assert [f.out_features for f in fcs] == [1024, 512, 256]
    assert fcs[0].in_features == 512 * 7 * 7  # 224 input -> 7x7 after the strided convs
    cls = [m for m in net.classifier.modules() if isinstance(m, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in cls] == [(512, 256), (256, 205)]
    assert _convs(net.fusion)[0].in_channels == 256 + 256 and _convs(net.fusion)[0].out_channels == 256
    assert [c.out_channels for c in _convs(net.colorization)] == [128, 64, 64, 32, 2]
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_low_level_weights_are_shared_by_both_paths():
    net = ColorNet(compact_config(CLASSES)).eval()
    # exactly one set of low-level weights exists: one conv in the whole network reads the 1-channel L
    assert [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.in_channels == 1] == ["low_level.conv1.0"]
    # gradients from the global path alone and the local path alone both reach the same tensors
    lightness = torch.rand(1, 1, 64, 64) * 100
    net.encode_global(lightness).fusion.sum().backward()
    g_global = net.low_level.conv1[0].weight.grad.clone()
    net.zero_grad()
    prior = net.encode_global(lightness)
    prior = GlobalPrior(prior.fusion.detach())
    net.colorize(lightness, prior).sum().backward()
    g_local = net.low_level.conv1[0].weight.grad
    assert g_global.abs().sum() > 0 and g_local.abs().sum() > 0


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (37, 91), (64, 64), (3, 200)])
def test_any_input_size(size):
    net = lively_model(compact_config(CLASSES))
    lightness = torch.rand(2, 1, *size) * 100
    lightness[1] = 100 - lightness[1]
    with torch.no_grad():
        ab, logits = net(lightness)
        alone, alone_logits = net(lightness[1:])
    assert ab.shape == (2, 2, *size) and logits.shape == (2, 3)
    # each photo is coloured from itself only: the same result alone as in a batch (to float round-off, in ab units
    # of a +-110 range), and two photos differ
    assert torch.allclose(ab[1:], alone, atol=0.1) and torch.allclose(logits[1:], alone_logits, rtol=1e-3, atol=1e-3)
    assert not torch.allclose(ab[0], ab[1], atol=1e-2)


def test_half_resolution_output():
    net = ColorNet(compact_config()).eval()
    with torch.no_grad():
        lightness = torch.rand(1, 1, 64, 96) * 100
        ab_half = net.predict_ab_half(lightness, net.encode_global(lightness))
    assert ab_half.shape == (1, 2, 32, 48)
    assert net.classifier is None  # no class names -> no head (alpha = 0 training)


def test_prior_from_another_image_changes_colours_and_own_prior_is_default():
    net = lively_model(compact_config(CLASSES))
    a = torch.rand(1, 1, 48, 48) * 100
    b = torch.linspace(0, 100, 48 * 48).view(1, 1, 48, 48)
    with torch.no_grad():
        own, _ = net(a)
        same = net.colorize(a, net.encode_global(a))
        other = net.colorize(a, net.encode_global(b))
    assert torch.equal(own, same)
    assert (own - other).abs().max() > 1e-3


def test_mix_weight_one_reproduces_reference_exactly_and_mix_is_convex():
    net = lively_model(compact_config(CLASSES))
    with torch.no_grad():
        pa = net.encode_global(torch.rand(1, 1, 40, 40) * 100)
        pb = net.encode_global(torch.rand(1, 1, 40, 40) * 100)
        target = torch.rand(1, 1, 40, 40) * 100
        mixed = mix_priors([pa, pb], [1.0, 0.0])
        assert torch.equal(mixed.fusion, pa.fusion) and torch.equal(mixed.logits, pa.logits)
        assert torch.equal(net.colorize(target, mixed), net.colorize(target, pa))
        half = mix_priors([pa, pb], [2.0, 2.0])  # weights are normalised
    assert torch.allclose(half.fusion, (pa.fusion + pb.fusion) / 2, atol=1e-6)


def test_mix_rejects_bad_weights():
    p = GlobalPrior(torch.ones(1, 4))
    with pytest.raises(ValueError, match=">= 0"):
        mix_priors([p, p], [1.0, -1.0])
    with pytest.raises(ValueError, match="one weight per prior"):
        mix_priors([p, p], [1.0])
    with pytest.raises(ValueError, match="> 0"):
        mix_priors([p, p], [0.0, 0.0])
    with pytest.raises(ValueError, match="different models"):
        mix_priors([p, GlobalPrior(torch.ones(1, 5))])


def test_prior_broadcast_and_per_frame():
    p = GlobalPrior(torch.rand(1, 8))
    assert p.fusion_for_batch(4).shape == (4, 8)
    per_frame = GlobalPrior.concat([p, p, p])
    assert per_frame.fusion_for_batch(3).shape == (3, 8)
    with pytest.raises(ValueError, match="one per image"):
        per_frame.fusion_for_batch(2)


def test_config_json_round_trip_ignores_unknown_keys():
    cfg = compact_config(CLASSES)
    assert ColorNetConfig.from_json(cfg.to_json()) == cfg
    data = json.loads(cfg.to_json()) | {"added_in_a_future_version": 1}
    assert ColorNetConfig.from_dict(data) == cfg


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    net = ColorNet(compact_config(CLASSES))
    net.train()(torch.rand(2, 1, 32, 32) * 100)  # move BN running stats away from their init
    net.eval()
    path = save_checkpoint(net, tmp_path / "ckpt", training={"steps": 3})
    assert (tmp_path / "ckpt" / "config.json").is_file()
    loaded, doc = load_checkpoint(path)
    assert doc["training"] == {"steps": 3} and loaded.config == net.config
    for (k, v), (k2, v2) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    # the .safetensors alone is self-contained (config in its header)
    (tmp_path / "ckpt" / "config.json").unlink()
    load_checkpoint(path)


def test_checkpoint_mismatch_names_the_tensor(tmp_path):
    net = ColorNet(compact_config(CLASSES))
    path = save_checkpoint(net, tmp_path / "a")
    # a config.json from another architecture, beside a bare safetensors file without header config
    from safetensors.torch import save_file

    bare = tmp_path / "b" / "model.safetensors"
    bare.parent.mkdir()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(bare))
    other = compact_config(CLASSES + ["extra"])
    (bare.parent / "config.json").write_text(json.dumps({"architecture": other.to_dict()}))
    with pytest.raises(CheckpointMismatchError, match=r"classifier\.fc2\.weight"):
        load_checkpoint(bare)
    assert path.is_file()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_gives_clear_error(tmp_path, damage):
    path = save_checkpoint(ColorNet(compact_config()), tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 100, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="download it again|corrupt|truncated"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
