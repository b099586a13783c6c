"""ONNX export: every bundled checkpoint exports, and onnxruntime running the two graphs reproduces the torch path.

The torch side is the library itself (``Colorizer.predict_ab_half`` and the ``colornet colorize`` CLI); the ONNX side
swaps only the network (``colornet.onnx.runtime.OnnxNetwork``) and mixes priors with ``mix_priors`` outside the
graph. Tolerances from the issue: a*b* max |diff| <= 0.5 and the final RGB >= 45 dB PSNR against the CLI's file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime", reason="the ONNX tests need the test extra: pip install -e \".[test]\"")
pytest.importorskip("onnx", reason="the ONNX tests need the test extra: pip install -e \".[test]\"")

import onnx  # noqa: E402

from colornet import Colorizer, mix_priors  # noqa: E402
from colornet.cli import main  # noqa: E402
from colornet.constants import PACKAGE_DIR  # noqa: E402
from colornet.fastlab import luminance  # noqa: E402
from colornet.images import load_image  # noqa: E402
from colornet.onnx.runtime import OnnxNetwork  # noqa: E402
from onnx_helpers import bundled_names, exported, model_json, psnr_uint8  # noqa: E402

SAMPLES = PACKAGE_DIR / "samples"
NAMES = bundled_names()


def _rgb(path) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(load_image(path).rgb)).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def odd_photo(tmp_path_factory):
    """A photo whose sides are not multiples of 8 (the dynamic height/width and the resizes must agree)."""
    path = tmp_path_factory.mktemp("odd") / "odd.png"
    Image.open(SAMPLES / "mountain_aitzgorri.jpg").convert("RGB").crop((3, 5, 304, 202)).save(path)
    return path


def test_every_bundled_checkpoint_is_shipped_and_listed():
    assert len(NAMES) >= 2  # a regression head and a distribution head at least


@pytest.mark.parametrize("name", NAMES)
def test_export_files_and_model_json(name):
    folder = exported(name)
    doc = model_json(folder)
    colorizer = Colorizer.from_pretrained(name, device="cpu")
    config = colorizer.model.config
    assert doc["format"] == "colornet-onnx" and doc["name"] == name
    assert doc["head"] == config.head and doc["global_size"] == config.global_size
    assert doc["class_names"] == list(config.class_names)
    assert len(doc["checkpoint_sha256"]) == 64
    if config.head == "distribution":
        assert doc["defaults"]["vividness"] == pytest.approx(colorizer.model.default_vividness)
        assert np.allclose(doc["ab_bins"], colorizer.model.colorization.ab_centres.numpy())
    for graph in ("global", "local"):
        proto = onnx.load(folder / doc["graphs"][graph]["file"])
        assert {o.domain: o.version for o in proto.opset_import}.get("", 0) >= 17
        assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in proto.graph.input)
    local = onnx.load(folder / "local.onnx")
    l_work = next(i for i in local.graph.input if i.name == "l_work")
    dims = l_work.type.tensor_type.shape.dim
    assert dims[2].dim_param and dims[3].dim_param  # height and width are dynamic, not baked in


@pytest.mark.parametrize("name", NAMES)
def test_onnx_matches_torch_and_the_cli(name, odd_photo, tmp_path):
    folder = exported(name)
    net = OnnxNetwork(folder)
    colorizer = Colorizer.from_pretrained(name, device="cpu")
    assert net.has_distribution_head == colorizer.model.has_distribution_head
    vivid_values = [None, 0.0, 1.0] if net.has_distribution_head else [None]
    cases = [("forest_path.jpg", None), (odd_photo, None),
             ("street_village.jpg", [("sea_bythewater.jpg", 2.0), ("forest_path.jpg", 1.0)])]
    for photo, refs in cases:
        path = photo if not isinstance(photo, str) else SAMPLES / photo
        rgb = _rgb(path)
        lightness = luminance(rgb)
        if refs is None:
            torch_prior, onnx_prior = None, net.encode_global(lightness)
        else:
            ref_paths, weights = [SAMPLES / r for r, _ in refs], [w for _, w in refs]
            torch_prior = colorizer.prior_from_references(ref_paths, weights)
            onnx_prior = mix_priors([net.encode_global(luminance(_rgb(p))) for p in ref_paths], weights)
            assert (torch_prior.fusion - onnx_prior.fusion).abs().max() < 1e-3
        for vividness in vivid_values:
            full_l, ab_torch = colorizer.predict_ab_half(rgb, torch_prior, vividness=vividness)
            ab_onnx = net.predict_ab_half(colorizer._working_l(full_l), onnx_prior, vividness)
            assert ab_onnx.shape == ab_torch.shape
            off = (ab_onnx - ab_torch).abs()
            where = f"{name} {path.name} vividness={vividness}"
            as_trained = not net.has_distribution_head or (
                (vividness if vividness is not None else colorizer.model.default_vividness)
                == colorizer.model.config.vividness)
            if as_trained:  # the decode as trained: smooth in the logits, so round-off stays round-off
                assert float(off.max()) <= 0.5, f"{where}: a*b* differ by {float(off.max())}"
            else:
                # A chroma quantile climbs through a chroma level in proportion to 1 / that level's probability: where
                # a level is nearly empty the quantile all but jumps to the next one, and the two runtimes' round-off
                # (1e-6 in the CDF) can land a pixel on either side (seen: up to 2.8 units at 0.2 % of the values,
                # different from run to run). Nearly every value must agree, and none may be off by more than one gap
                # between neighbouring chroma levels (at most 10 on the grid-10 lattice).
                share = float((off > 0.5).float().mean())
                assert share <= 0.005, f"{where}: {share:.2%} of the a*b* values differ by more than 0.5"
                assert float(off.max()) <= 10.0, f"{where}: a*b* differ by {float(off.max())}"
            if vividness is not None and vividness != 1.0:
                continue  # the CLI's file for the default vividness and the mode (one CLI run each: CI time)

            # the final RGB: the ONNX a*b* through the library's own upsampling and Lab, against the CLI's file
            out_dir = tmp_path / f"{path.stem}_{vividness}"
            argv = ["colorize", str(path), "-o", str(out_dir), "--weights", name, "-q"]
            for ref, weight in refs or []:
                argv += ["--reference", str(SAMPLES / ref), "--reference-weight", str(weight)]
            if vividness is not None:
                argv += ["--vividness", str(vividness)]
            assert main(argv) == 0
            cli = np.asarray(Image.open(out_dir / f"{path.stem}.png").convert("RGB"))
            ours = colorizer.compose_ab_half(full_l, ab_onnx, out_dtype=torch.uint8)[0].permute(1, 2, 0).numpy()
            score = psnr_uint8(ours, cli)
            assert score >= 45.0, f"{name} {path.name} vividness={vividness}: {score:.1f} dB against colornet colorize"


def test_export_onnx_command(tmp_path, capsys):
    """The exports above are the CLI's (onnx_helpers.exported); a wrong name is one line and exit status 1."""
    assert {p.name for p in exported(NAMES[0]).iterdir()} == {"global.onnx", "local.onnx", "model.json"}
    assert main(["export-onnx", "no-such-checkpoint", "-o", str(tmp_path / "x")]) == 1
    assert "no-such-checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def _distribution_name() -> str:
    return next(n for n in NAMES if Colorizer.from_pretrained(n, device="cpu").model.has_distribution_head)


def _as_format_1(src, dst):
    """A copy of an export that says it was made before vividness moved chroma quantiles (format_version 1: its
    local graph's vividness input was 1 - the decoding temperature)."""
    import json
    import shutil

    shutil.copytree(src, dst)
    doc = model_json(dst)
    doc["format_version"] = 1
    (dst / "model.json").write_text(json.dumps(doc))
    return dst


def test_exports_from_before_the_vividness_change_are_refused_and_the_web_cache_re_exports(tmp_path, monkeypatch):
    """A format-1 export would take the slider's vividness as a temperature: the runtime says to export again, and
    ``colornet web``'s cache exports again instead of serving it."""
    from colornet.errors import InputError
    from colornet.onnx.export import FORMAT_VERSION, load_for_export
    from colornet.web.assets import exported_model

    name = _distribution_name()
    stale = _as_format_1(exported(name), tmp_path / "stale")
    with pytest.raises(InputError, match="export-onnx"):
        OnnxNetwork(stale)
    monkeypatch.setenv("COLORNET_CACHE", str(tmp_path / "cache"))
    sha256 = load_for_export(name)[2]
    cached = _as_format_1(exported(name), tmp_path / "cache" / "onnx" / sha256[:16])
    messages = []
    assert exported_model(name, echo=messages.append) == cached
    assert messages and model_json(cached)["format_version"] == FORMAT_VERSION > 1
    OnnxNetwork(cached)  # the fresh export runs


def test_the_web_cache_re_exports_what_an_older_colornet_exported_and_hosts_still_run_it(tmp_path, monkeypatch):
    """Same format, older exporter: the maths is the same (a host runs it), but a newer release may export faster
    graphs (0.2.1: the local graph's softmax moved to the bins' own axis), so ``colornet web``'s cache exports again."""
    import json
    import shutil

    from colornet.onnx.export import exporter, load_for_export
    from colornet.web.assets import exported_model

    name = _distribution_name()
    monkeypatch.setenv("COLORNET_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "onnx" / load_for_export(name)[2][:16]
    shutil.copytree(exported(name), cached)
    doc = model_json(cached)
    assert doc["exported_by"] == exporter()
    assert exported_model(name, echo=pytest.fail) == cached  # current: served as it is
    doc["exported_by"] = "colornet 0.2.0"
    (cached / "model.json").write_text(json.dumps(doc))
    OnnxNetwork(cached)  # an older exporter's files are still a valid export
    messages = []
    assert exported_model(name, echo=messages.append) == cached
    assert messages and model_json(cached)["exported_by"] == exporter()


@pytest.mark.parametrize("vividness", [1.5, -0.1, float("nan")])
def test_onnx_host_checks_vividness_like_the_library(vividness):
    """The graph takes any float: outside [0, 1] the chroma quantile runs off the distribution (every pixel at the
    extreme chroma, or NaN). The Python host refuses it as ``Colorizer`` does."""
    from colornet.errors import VividnessError

    net = OnnxNetwork(exported(_distribution_name()))
    lightness = torch.rand(1, 1, 32, 32) * 100
    with pytest.raises(VividnessError, match=r"\[0, 1\]"):
        net.predict_ab_half(lightness, net.encode_global(lightness), vividness)
