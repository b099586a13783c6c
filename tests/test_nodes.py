"""The ComfyUI nodes on real tensors, without ComfyUI: shapes, ranges, batches, RGBA, priors, errors, loader cache.

The pack is imported the way ComfyUI imports it: its root ``__init__.py`` by file path under a made-up package name
(relative imports inside). A random-init network with calibrated batch norm stands in for trained weights: the tests
check behaviour, never colour quality.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from helpers import ROOT, lively_model, load_pack, torch_threads

from colornet.checkpoint import save_checkpoint
from colornet.model import compact_config
from colornet.pipeline import Colorizer

CLASSES = ["beach", "forest", "street", "kitchen", "mountain"]


PACK = load_pack()
N = PACK.NODE_CLASS_MAPPINGS
common = sys.modules[f"{PACK.__name__}.nodes._common"]
loader_mod = sys.modules[f"{PACK.__name__}.nodes.loader"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def net():
    return lively_model(compact_config(CLASSES), seed=0)


@pytest.fixture(scope="module")
def model(net):
    return common.ColorNetModel(Colorizer(model=net, device=torch.device("cpu")), name="test")


def photo(batch=1, h=40, w=56, c=3, seed=0):
    """Smooth, structured test images [B,H,W,C] in 0..1 (not noise: the network should see a scene)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, h).view(1, h, 1, 1)
    x = torch.linspace(0, 1, w).view(1, 1, w, 1)
    base = torch.rand(batch, 1, 1, c, generator=g)
    img = (base + 0.6 * y * torch.rand(batch, 1, 1, c, generator=g) + 0.4 * torch.sin(6 * x + 3 * base)).clamp(0, 1)
    return img.float()


def run(node: str, *args, **kwargs):
    cls = N[node]
    return getattr(cls(), cls.FUNCTION)(*args, **kwargs)


# ------------------------------------------------------------------------------------------------ pack contract


def test_mappings_names_categories_tooltips():
    assert set(N) == set(PACK.NODE_DISPLAY_NAME_MAPPINGS)
    names = PACK.NODE_DISPLAY_NAME_MAPPINGS
    assert all(name.startswith("ColorNet ") for name in names.values())  # one readable, consistent family
    assert names["ColorNetFuseColorize"].startswith("ColorNet Colorize")
    for key, cls in N.items():
        assert key.startswith("ColorNet") and key == cls.__name__
        assert cls.CATEGORY.split("/")[0] == "ColorNet" and len(cls.CATEGORY.split("/")) == 2  # one tree, no root
        assert cls.DESCRIPTION and len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
        spec = cls.INPUT_TYPES()
        for section in (spec.get("required", {}), spec.get("optional", {})):  # hidden inputs have no widget
            for name, (kind, *opts) in section.items():
                assert opts and opts[0].get("tooltip"), f"{key}.{name} has no tooltip"
        assert callable(getattr(cls, cls.FUNCTION))


SEARCHES = ["colorization", "colorize", "black and white", "grayscale", "old photo"]


def test_search_words_are_early_in_a_display_name():
    """ComfyUI's node search (frontend 1.27: Fuse over the node id and display name, threshold 0.3, location 0,
    distance 100) only counts a word found within about the first 30 characters; tools/browser_check.py types these
    into the real search box, this keeps the names honest without a browser."""
    names = [name.lower() for name in PACK.NODE_DISPLAY_NAME_MAPPINGS.values()]
    for query in SEARCHES:
        assert any(all(0 <= name.find(word) <= 30 for word in query.split()) for name in names), query


def test_registry_metadata_is_complete():
    """What `comfy node publish` reads: name, version, licence file, repository, publisher, display name, icon."""
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, comfy = meta["project"], meta["tool"]["comfy"]
    assert project["name"] and project["version"] and project["description"]
    assert (ROOT / project["license"]["file"]).is_file()
    assert project["urls"]["Repository"].startswith("https://")
    assert comfy["PublisherId"] and comfy["DisplayName"] and comfy["Icon"].endswith(".png")
    assert (ROOT / "docs" / comfy["Icon"].rsplit("/", 1)[-1]).is_file()
    requirements = (ROOT / "requirements.txt").read_text()
    assert "torch" not in [line.split(">")[0].split("=")[0].strip() for line in requirements.splitlines()]
    for path in (ROOT / "nodes").glob("*.py"):  # no pip at run time: nothing there starts a process or imports pip
        code = path.read_text()
        assert "import subprocess" not in code and "import pip" not in code and "os.system" not in code, path.name


def test_node_list_json_matches_the_mappings():
    """ComfyUI-Manager's scanner reads node_list.json ({node id: description}) to map node ids to this pack."""
    assert json.loads((ROOT / "node_list.json").read_text()) == PACK.NODE_DISPLAY_NAME_MAPPINGS


def test_pack_import_is_light_and_works_without_comfyui(tmp_path):
    code = (
        "import importlib.util, sys, json\n"
        f"spec = importlib.util.spec_from_file_location('somepack', {str(ROOT / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(ROOT)!r}])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['somepack'] = m; spec.loader.exec_module(m)\n"
        "heavy = [k for k in ('colornet', 'huggingface_hub', 'safetensors', 'PIL', 'folder_paths', 'comfy') "
        "if k in sys.modules]\n"
        "print(json.dumps({'nodes': sorted(m.NODE_CLASS_MAPPINGS), 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert "ColorNetFuseColorize" in result["nodes"]


def test_colornet_fallback_appends_pack_root(monkeypatch):
    nodes_pkg = sys.modules[f"{PACK.__name__}.nodes"]
    monkeypatch.setattr(nodes_pkg.importlib.util, "find_spec", lambda name: None)
    path = [p for p in sys.path if p != str(ROOT)]
    monkeypatch.setattr(sys, "path", path)
    nodes_pkg.ensure_colornet_importable()
    assert sys.path[-1] == str(ROOT)  # appended: never shadows ComfyUI's own modules


# ------------------------------------------------------------------------------------------------ LumaExtract


def test_luma_extract_batch_rgba_and_recombine():
    img = photo(batch=2, c=4)
    grey, ab = run("ColorNetLumaExtract", img)
    assert grey.shape == (2, 40, 56, 3) and grey.dtype == torch.float32 and grey.device.type == "cpu"
    assert ab.shape == (2, 2, 40, 56)
    assert 0 <= grey.min() and grey.max() <= 1
    assert torch.allclose(grey[..., 0], grey[..., 1], atol=1e-4) and torch.allclose(grey[..., 1], grey[..., 2], atol=1e-4)
    (back,) = run("ColorNetLabCombine", grey, ab)  # L of the grey preview + original ab = original RGB
    assert back.shape == (2, 40, 56, 3)
    assert torch.allclose(back, img[..., :3], atol=2e-3)


def test_luma_extract_single_channel_and_unbatched():
    grey, ab = run("ColorNetLumaExtract", photo(c=1)[0])
    assert grey.shape == (1, 40, 56, 3) and ab.abs().max() < 0.05  # Lab units: neutral grey


def test_lab_combine_broadcasts_and_resizes_ab():
    _, ab = run("ColorNetLumaExtract", photo(h=20, w=28))
    (out,) = run("ColorNetLabCombine", photo(batch=3), ab)
    assert out.shape == (3, 40, 56, 3)


# ------------------------------------------------------------------------------------------------ GlobalPrior / PriorMix


def test_global_prior_batch_modes(model):
    refs = photo(batch=3, h=32, w=32, seed=5)
    (mixed,) = run("ColorNetGlobalPrior", model, refs, "mix into one prior")
    (rows,) = run("ColorNetGlobalPrior", model, refs, "one prior per image")
    assert len(mixed) == 1 and len(rows) == 3
    assert mixed.fusion.dtype == torch.float32 and mixed.fusion.device.type == "cpu"
    assert torch.allclose(mixed.fusion, rows.fusion.mean(0, keepdim=True), atol=1e-5)
    assert mixed.class_names == tuple(CLASSES)


def test_prior_mix_weight_one_is_the_single_prior(model):
    (a,) = run("ColorNetGlobalPrior", model, photo(seed=1))
    (b,) = run("ColorNetGlobalPrior", model, photo(seed=2))
    (m,) = run("ColorNetPriorMix", a, 1.0, b, 0.0)
    assert torch.equal(m.fusion, a.fusion) and torch.equal(m.logits, a.logits)
    img = photo(seed=3)
    assert torch.equal(run("ColorNetFuseColorize", model, img, 1.0, 512, m)[0],
                       run("ColorNetFuseColorize", model, img, 1.0, 512, a)[0])
    (half,) = run("ColorNetPriorMix", a, 2.0, b, 2.0)
    assert torch.allclose(half.fusion, (a.fusion + b.fusion) / 2, atol=1e-6)
    (three,) = run("ColorNetPriorMix", a, 1.0, b, 1.0, prior_3=a, weight_3=2.0)
    assert torch.allclose(three.fusion, 0.75 * a.fusion + 0.25 * b.fusion, atol=1e-6)


def test_prior_mix_per_frame_and_errors(model):
    (rows,) = run("ColorNetGlobalPrior", model, photo(batch=2, seed=4), "one prior per image")
    (single,) = run("ColorNetGlobalPrior", model, photo(seed=1))
    (m,) = run("ColorNetPriorMix", rows, 1.0, single, 1.0)
    assert len(m) == 2
    assert torch.allclose(m.fusion[1], (rows.fusion[1] + single.fusion[0]) / 2, atol=1e-6)
    (three,) = run("ColorNetGlobalPrior", model, photo(batch=3, seed=4), "one prior per image")
    with pytest.raises(ValueError, match="rows"):
        run("ColorNetPriorMix", rows, 1.0, three, 1.0)
    with pytest.raises(ValueError, match="weight"):
        run("ColorNetPriorMix", single, 0.0, single, 0.0)
    with pytest.raises(ValueError, match="GLOBAL_PRIOR"):
        run("ColorNetPriorMix", single, 1.0, photo(), 1.0)


# ------------------------------------------------------------------------------------------------ FuseColorize


def test_fuse_colorize_shapes_ranges_rgba(model):
    img = photo(batch=2, c=4)
    (out,) = run("ColorNetFuseColorize", model, img, 1.0, 512)
    assert out.shape == img.shape and out.dtype == torch.float32 and out.device.type == "cpu"
    assert 0 <= out.min() and out.max() <= 1
    assert torch.equal(out[..., 3], img[..., 3])  # alpha passed through
    (full,) = run("ColorNetFuseColorize", model, img[..., :3], 1.0, 0)  # 0 = full resolution
    assert full.shape == (2, 40, 56, 3)
    (small,) = run("ColorNetFuseColorize", model, img[..., :3], 1.0, 16)  # working size below the photo size
    assert small.shape == (2, 40, 56, 3)


def test_fuse_colorize_old_input_name_working_resolution_still_works(model):
    """API prompts saved before the rename carry ``working_resolution``: ComfyUI passes it as the hidden input."""
    spec = N["ColorNetFuseColorize"].INPUT_TYPES()
    assert "working_size" in spec["optional"] and spec["hidden"] == {"working_resolution": "INT"}
    img = photo(h=64, w=96, seed=3)
    (new,) = run("ColorNetFuseColorize", model, img, 1.0, 16)
    (old,) = run("ColorNetFuseColorize", model, img, 1.0, working_resolution=16)
    (default,) = run("ColorNetFuseColorize", model, img, 1.0)
    assert torch.equal(new, old) and not torch.equal(new, default)


def test_fuse_colorize_keeps_lightness_and_strength(model):
    img = photo(seed=7)
    (grey,) = run("ColorNetFuseColorize", model, img, 0.0, 512)
    assert (grey.max(-1).values - grey.min(-1).values).max() < 2e-3  # strength 0 = greyscale
    l_in, _ = run("ColorNetLumaExtract", img)
    l_out, _ = run("ColorNetLumaExtract", grey)
    assert torch.allclose(l_in, l_out, atol=2e-3)
    (one,) = run("ColorNetFuseColorize", model, img, 1.0, 512)
    (two,) = run("ColorNetFuseColorize", model, img, 2.0, 512)
    chroma = lambda x: run("ColorNetLumaExtract", x)[1].abs().mean()  # noqa: E731
    assert chroma(two) > chroma(one) > chroma(grey)


def test_prior_from_a_different_image_changes_the_colours(model):
    img = photo(seed=10)
    (own,) = run("ColorNetFuseColorize", model, img, 1.0, 512)
    (own_prior,) = run("ColorNetGlobalPrior", model, img)
    (explicit_own,) = run("ColorNetFuseColorize", model, img, 1.0, 512, own_prior)
    assert torch.allclose(own, explicit_own, atol=1e-5)  # default = the image's own prior
    (other_prior,) = run("ColorNetGlobalPrior", model, photo(seed=11, h=64, w=48))
    (other,) = run("ColorNetFuseColorize", model, img, 1.0, 512, other_prior)
    assert (other - own).abs().mean() > 1e-3
    ab_own = run("ColorNetLumaExtract", own)[1]
    ab_other = run("ColorNetLumaExtract", other)[1]
    assert (ab_own - ab_other).abs().mean() > 0.1  # the colours (ab), not the lightness, changed


def test_fuse_colorize_prior_broadcast_and_per_frame(model):
    frames = photo(batch=3, seed=20)
    (single,) = run("ColorNetGlobalPrior", model, photo(seed=21))
    (batch_out,) = run("ColorNetFuseColorize", model, frames, 1.0, 512, single)
    for i in range(3):
        (one,) = run("ColorNetFuseColorize", model, frames[i : i + 1], 1.0, 512, single)
        assert torch.allclose(batch_out[i : i + 1], one, atol=1e-5)
    (per_frame,) = run("ColorNetGlobalPrior", model, photo(batch=3, seed=22), "one prior per image")
    (out,) = run("ColorNetFuseColorize", model, frames, 1.0, 512, per_frame)
    for i in range(3):
        (prior_i,) = run("ColorNetGlobalPrior", model, photo(batch=3, seed=22)[i : i + 1])
        (one,) = run("ColorNetFuseColorize", model, frames[i : i + 1], 1.0, 512, prior_i)
        assert torch.allclose(out[i : i + 1], one, atol=1e-5)
    (two,) = run("ColorNetGlobalPrior", model, photo(batch=2), "one prior per image")
    with pytest.raises(ValueError, match="one per image"):
        run("ColorNetFuseColorize", model, frames, 1.0, 512, two)


@pytest.mark.parametrize(
    "args, match",
    [
        (("not an image",), "must be an IMAGE"),
        ((torch.zeros(0, 8, 8, 3),), "empty batch"),
        ((torch.zeros(1, 8, 8),), r"1\|3\|4 channels\], got \(1, 1, 8, 8\)"),  # 3-D = one [H,W,C] image, C=8
        ((torch.zeros(2, 8, 8, 2),), "channels"),
    ],
)
def test_fuse_colorize_input_errors(model, args, match):
    with pytest.raises(ValueError, match=match):
        run("ColorNetFuseColorize", model, *args, 1.0, 512)


def test_wrong_model_and_prior_types(model):
    with pytest.raises(ValueError, match="ColorNet Loader"):
        run("ColorNetFuseColorize", photo(), photo(), 1.0, 512)
    with pytest.raises(ValueError, match="GLOBAL_PRIOR"):
        run("ColorNetFuseColorize", model, photo(), 1.0, 512, photo())
    with pytest.raises(ValueError, match="strength"):
        run("ColorNetFuseColorize", model, photo(), -1.0, 512)
    with pytest.raises(ValueError, match="COLORNET_AB"):
        run("ColorNetLabCombine", photo(), photo())


# ------------------------------------------------------------------------------------------------ SceneClassify


def test_scene_classify_image_prior_and_batch(model):
    text, label = run("ColorNetSceneClassify", model, 3, image=photo(seed=30))
    lines = text.splitlines()
    assert len(lines) == 3 and label == lines[0].split(":")[0]
    probs = [float(line.split(": ")[1]) for line in lines]
    assert all(line.split(": ")[0] in CLASSES for line in lines) and probs == sorted(probs, reverse=True)
    (prior,) = run("ColorNetGlobalPrior", model, photo(seed=30))
    assert run("ColorNetSceneClassify", model, 3, global_prior=prior) == (text, label)
    text_b, labels_b = run("ColorNetSceneClassify", model, 2, image=photo(batch=2, seed=31))
    assert text_b.count("# image") == 2 and len(labels_b.splitlines()) == 2
    text_all, _ = run("ColorNetSceneClassify", model, 99, image=photo())
    assert len(text_all.splitlines()) == len(CLASSES)


def test_scene_classify_errors(model):
    with pytest.raises(ValueError, match="connect an 'image' or a 'global_prior'"):
        run("ColorNetSceneClassify", model, 5)
    plain = lively_model(compact_config([]), seed=1)
    no_classes = common.ColorNetModel(Colorizer(model=plain, device=torch.device("cpu")), name="plain")
    with pytest.raises(ValueError, match="no scene classes"):
        run("ColorNetSceneClassify", no_classes, 5, image=photo())


# ------------------------------------------------------------------------------------------------ ComfyUI hooks


@pytest.fixture
def fake_comfy(monkeypatch, tmp_path):
    """Minimal stand-ins for folder_paths, comfy.utils.ProgressBar and comfy.model_management."""
    fp = types.ModuleType("folder_paths")
    fp.models_dir = str(tmp_path / "models")
    user_dir = str(tmp_path / "user_models")
    fp.folder_names_and_paths = {"colornet": ([user_dir], set())}  # as extra_model_paths.yaml leaves it

    def get_folder_paths(name):
        return list(fp.folder_names_and_paths[name][0])

    def get_filename_list(name):
        paths, exts = fp.folder_names_and_paths[name]
        found = []
        for d in paths:
            for p in sorted(Path(d).rglob("*")) if Path(d).is_dir() else []:
                if p.is_file() and (not exts or p.suffix in exts):
                    found.append(str(p.relative_to(d)))
        return found

    def get_full_path(name, filename):
        for d in fp.folder_names_and_paths[name][0]:
            if (Path(d) / filename).is_file():
                return str(Path(d) / filename)
        return None

    fp.get_folder_paths, fp.get_filename_list, fp.get_full_path = get_folder_paths, get_filename_list, get_full_path

    class Interrupted(Exception):
        pass

    state = {"bars": [], "checks": 0, "interrupt_after": None}

    class ProgressBar:
        def __init__(self, total, node_id=None):
            self.total, self.current, self.history, self.steps = total, 0, [], []
            state["bars"].append(self)

        def update_absolute(self, value, total=None, preview=None):
            self.total = total if total is not None else self.total
            self.current = value
            self.history.append(value)
            self.steps.append((self.current, self.total))

        def update(self, value):
            self.update_absolute(self.current + value)

    def throw_exception_if_processing_interrupted():
        state["checks"] += 1
        if state["interrupt_after"] is not None and state["checks"] > state["interrupt_after"]:
            raise Interrupted()

    comfy = types.ModuleType("comfy")
    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = ProgressBar
    mm = types.ModuleType("comfy.model_management")
    mm.throw_exception_if_processing_interrupted = throw_exception_if_processing_interrupted
    mm.get_torch_device = lambda: torch.device("cpu")
    mm.should_use_fp16 = lambda *a, **k: False
    mm.should_use_bf16 = lambda *a, **k: False
    comfy.utils, comfy.model_management = utils, mm
    for name, mod in {"folder_paths": fp, "comfy": comfy, "comfy.utils": utils, "comfy.model_management": mm}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    loader_mod.clear_cache()
    yield types.SimpleNamespace(fp=fp, state=state, Interrupted=Interrupted, user_dir=Path(user_dir),
                                default_dir=Path(fp.models_dir) / "colornet")
    loader_mod.clear_cache()


def test_progress_bar_and_interrupt_between_items(model, fake_comfy):
    run("ColorNetFuseColorize", model, photo(batch=3), 1.0, 512)
    bar = fake_comfy.state["bars"][-1]
    assert (bar.current, bar.total) == (300, 300) and bar.history == sorted(bar.history)
    assert {100, 200} <= set(bar.history)  # each image ends on its own mark
    fake_comfy.state["checks"], fake_comfy.state["interrupt_after"] = 0, 1
    with pytest.raises(fake_comfy.Interrupted):
        run("ColorNetFuseColorize", model, photo(batch=3), 1.0, 512)
    assert fake_comfy.state["bars"][-1].current < 100  # stopped within the first image


def test_progress_within_one_large_image(net, fake_comfy):
    """One image in network tiles shows progress while it runs (tiles, then Lab strips), not only at its end."""
    tiled = common.ColorNetModel(Colorizer(model=net, device=torch.device("cpu"), tile=256), name="tiled")
    run("ColorNetFuseColorize", tiled, photo(h=600, w=700), 1.0, 0)  # working_size 0: full size, 3x3 tiles
    bar = fake_comfy.state["bars"][-1]
    inside = [v for v in bar.history if 0 < v < 100]
    assert len(set(inside)) >= 8 and bar.history == sorted(bar.history) and bar.current == 100


def test_loader_registers_folder_lists_files_and_caches(net, fake_comfy, tmp_path):
    comfy_nodes = sys.modules[f"{PACK.__name__}.nodes._comfy"]
    folders = comfy_nodes.register_models_folder()
    assert folders == [str(fake_comfy.user_dir), str(fake_comfy.default_dir)]  # the user's folder kept first
    assert ".safetensors" in fake_comfy.fp.folder_names_and_paths["colornet"][1]
    weights = save_checkpoint(net, tmp_path / "tmpckpt")
    (fake_comfy.default_dir / "my-finetune.safetensors").write_bytes(weights.read_bytes())
    choices = N["ColorNetLoader"].INPUT_TYPES()["required"]["weights"][0]
    from colornet.manifest import load_manifest

    assert choices[0] == load_manifest().default and "my-finetune.safetensors" in choices  # the default first
    (m1,) = run("ColorNetLoader", "my-finetune.safetensors", "auto", "auto")
    (m2,) = run("ColorNetLoader", "my-finetune.safetensors", "cpu", "float32")
    assert m1 is m2  # cached, not reloaded
    assert m1.class_names == CLASSES and m1.dtype == torch.float32
    assert fake_comfy.state["bars"][-1].current == 100
    (out,) = run("ColorNetFuseColorize", m1, photo(), 1.0, 512)
    assert out.shape == (1, 40, 56, 3)


def test_loader_manifest_name_found_in_models_folder(net, fake_comfy, tmp_path):
    """A manifest name is looked up in ComfyUI's models/colornet folders first (passed as models_dir)."""
    fake_comfy.user_dir.mkdir(parents=True)
    save_checkpoint(net, fake_comfy.user_dir / "colornet-compact-places39")
    (m,) = run("ColorNetLoader", "colornet-compact-places39", "auto", "auto")
    assert Path(m.source).parent == fake_comfy.user_dir / "colornet-compact-places39"
    assert m.class_names == CLASSES


def test_loader_offline_without_weights_says_what_to_do(fake_comfy, tmp_path, monkeypatch):
    from colornet import constants

    manifest = json.loads((ROOT / "colornet" / "weights_manifest.json").read_text())
    entry = dict(next(iter(manifest["models"].values())), bundled=None, revision=None)
    manifest = {"default": "ghost", "models": {"ghost": entry}}
    path = tmp_path / "weights_manifest.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", path)
    monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", tmp_path / "nothing-here")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as err:
        run("ColorNetLoader", "ghost", "auto", "auto")
    message = str(err.value)
    assert "ghost" in message and str(fake_comfy.user_dir) in message  # where to put the file
    assert "not published" in message and "In ComfyUI" in message


def test_loader_bad_choices(fake_comfy):
    with pytest.raises(ValueError, match="device"):
        run("ColorNetLoader", "colornet-compact-places39", "tpu", "auto")
    if not torch.cuda.is_available():  # a workflow saved on a GPU machine says what this one has
        with pytest.raises(ValueError, match="no GPU torch can use: choose one of"):
            run("ColorNetLoader", "colornet-compact-places39", "gpu", "auto")
        with pytest.raises(ValueError, match="This machine offers: auto, cpu"):
            run("ColorNetLoader", "colornet-compact-places39", "cuda:0 (NVIDIA H100)", "auto")
    assert N["ColorNetLoader"].VALIDATE_INPUTS(device="cuda:1 (elsewhere)") is True  # loads; the run explains


def test_loader_device_list_and_truthful_weights_tooltip():
    loader = sys.modules[f"{PACK.__name__}.nodes.loader"]
    choices = N["ColorNetLoader"].INPUT_TYPES()["required"]["device"][0]
    assert choices[:2] == ["auto", "cpu"] and "gpu" not in choices
    assert len(choices) == 2 + (torch.cuda.device_count() if torch.cuda.is_available() else 0) + (
        1 if torch.backends.mps.is_available() else 0)
    tooltip = loader.weights_tooltip()
    from colornet.weights import list_weights

    for info in list_weights():  # each checkpoint on its own line, with where its file really comes from
        line = next(t for t in tooltip.splitlines() if t.startswith(f"- {info.name}"))
        assert ("Bundled with the pack" in line) == (info.bundled is not None)
        assert ("Downloaded from the Hub" in line) == (info.bundled is None and info.published)


def test_loader_error_names_the_chosen_checkpoint(fake_comfy, tmp_path):
    fake_comfy.user_dir.mkdir(parents=True)
    (fake_comfy.user_dir / "broken.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="checkpoint 'broken.safetensors'"):
        run("ColorNetLoader", "broken.safetensors", "cpu", "auto")


def test_vividness_toggle_and_saved_workflows(model):
    colorize = sys.modules[f"{PACK.__name__}.nodes.colorize"]
    assert colorize.chosen_vividness(0.3, True) is None  # "checkpoint default"
    assert colorize.chosen_vividness(0.3, False) == 0.3  # "this slider"
    assert colorize.chosen_vividness(-1.0, None) is None and colorize.chosen_vividness(0.4, None) == 0.4  # old prompts
    assert colorize.chosen_vividness(-1.0, False) is None  # an old UI workflow's -1 under the new toggle
    cls = N["ColorNetFuseColorize"]
    spec = cls.INPUT_TYPES()["optional"]
    assert spec["vividness"][1]["min"] == 0.0 and list(spec)[-1] == "vividness_from"  # appended: old values keep place
    assert cls.VALIDATE_INPUTS(vividness=-1.0) is True and cls.VALIDATE_INPUTS(vividness=0.5) is True
    assert "between 0 and 1" in cls.VALIDATE_INPUTS(vividness=1.5)


def test_example_pictures_copied_into_input_without_overwriting(fake_comfy, tmp_path):
    comfy = sys.modules[f"{PACK.__name__}.nodes._comfy"]
    input_dir = tmp_path / "input"
    fake_comfy.fp.get_input_directory = lambda: str(input_dir)
    input_dir.mkdir()
    (input_dir / "street_village.jpg").write_bytes(b"the artist's own picture")
    copied = comfy.install_example_inputs(ROOT / "colornet" / "samples")
    samples = {p.name for p in (ROOT / "colornet" / "samples").iterdir() if p.suffix in (".jpg", ".png")}
    assert set(copied) == samples - {"street_village.jpg"}
    assert (input_dir / "street_village.jpg").read_bytes() == b"the artist's own picture"
    assert (input_dir / "forest_path.jpg").read_bytes() == (ROOT / "colornet" / "samples" / "forest_path.jpg").read_bytes()
    assert comfy.install_example_inputs(ROOT / "colornet" / "samples") == []  # second start: nothing to do
    workflows = ROOT / "example_workflows" / "api"
    for path in workflows.glob("*_api.json"):  # every picture an example loads is one of them
        for node in json.loads(path.read_text()).values():
            if node["class_type"] == "LoadImage":
                assert (input_dir / node["inputs"]["image"]).is_file(), (path.name, node["inputs"]["image"])


def test_gpu_runs_free_memory_first_and_leave_nothing_on_the_gpu(fake_comfy):
    """The way core nodes run upscale models: ask model management to free what the run needs on the device, move
    the network there, run, move it back and drop the folded copy (no GPU here: the moves are recorded)."""
    comfy = sys.modules[f"{PACK.__name__}.nodes._comfy"]
    calls = []
    fake_comfy_mm = sys.modules["comfy.model_management"]
    fake_comfy_mm.free_memory = lambda needed, device: calls.append(("free_memory", needed, str(device)))
    fake_comfy_mm.soft_empty_cache = lambda: calls.append(("soft_empty_cache",))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 8, 3)

        def to(self, device):
            calls.append(("to", str(device)))
            return self

    colorizer = types.SimpleNamespace(device=torch.device("cuda", 0), model=Net(), working_size=512, tile=1024,
                                      release_device_copies=lambda: calls.append(("release",)))
    model = types.SimpleNamespace(colorizer=colorizer)
    with comfy.on_device(model, (3000, 4000)):
        calls.append(("run",))
    names = [c[0] for c in calls]
    assert names == ["free_memory", "to", "run", "to", "release", "soft_empty_cache"]
    needed = calls[0][1]
    assert calls[0][2] == "cuda:0" and needed >= comfy.BYTES_PER_PIXEL * 3000 * 4000  # the full-size Lab work at least
    assert calls[1] == ("to", "cuda:0") and calls[3] == ("to", "cpu")
    calls.clear()
    with pytest.raises(RuntimeError):  # moved back even when the run fails
        with comfy.on_device(model, (64, 64)):
            raise RuntimeError("boom")
    assert ("to", "cpu") in calls and ("release",) in calls
    calls.clear()
    cpu_model = types.SimpleNamespace(colorizer=types.SimpleNamespace(device=torch.device("cpu")))
    with comfy.on_device(cpu_model, (64, 64)):  # on the CPU: nothing to free or move
        pass
    assert calls == []


def test_out_of_memory_retries_with_smaller_tiles(model, fake_comfy):
    comfy = sys.modules[f"{PACK.__name__}.nodes._comfy"]
    tiles = []

    def run_with(runner):
        tiles.append(runner.tile)
        if runner.tile is None or runner.tile > 300:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "done"

    colorizer = model.colorizer
    assert comfy.retry_smaller_tiles_on_oom(colorizer, run_with) == "done"
    assert tiles[0] == colorizer.tile and tiles == sorted(tiles, key=lambda t: -(t or 10**6)) and tiles[-1] <= 300
    assert colorizer.tile == tiles[0]  # the cached model is not changed
    with pytest.raises(RuntimeError, match="even in 256 px tiles"):
        comfy.retry_smaller_tiles_on_oom(colorizer, lambda r: (_ for _ in ()).throw(MemoryError("out of memory")))
    with pytest.raises(ValueError, match="not memory"):  # other errors pass through untouched
        comfy.retry_smaller_tiles_on_oom(colorizer, lambda r: (_ for _ in ()).throw(ValueError("not memory")))
    with pytest.raises(ValueError, match="dtype"):
        run("ColorNetLoader", "colornet-compact-places39", "cpu", "float8")


def test_loader_reduced_precision_runs_or_falls_back_to_float32(fake_comfy, net):
    fake_comfy.user_dir.mkdir(parents=True)
    save_checkpoint(net, fake_comfy.user_dir / "colornet-compact-places39")
    with torch.inference_mode():  # as ComfyUI runs nodes
        (m,) = run("ColorNetLoader", "colornet-compact-places39", "cpu", "bfloat16")
        assert m.dtype in (torch.bfloat16, torch.float32)
        (prior,) = run("ColorNetGlobalPrior", m, photo(seed=40))
        (out,) = run("ColorNetFuseColorize", m, photo(batch=2), 1.0, 512, prior)
    assert prior.fusion.dtype == torch.float32
    assert out.dtype == torch.float32 and out.shape == (2, 40, 56, 3) and 0 <= out.min() and out.max() <= 1


def test_loader_download_progress_reaches_comfy_bar(fake_comfy, net, tmp_path, monkeypatch):
    import colornet.weights as weights

    path = save_checkpoint(net, tmp_path / "downloaded")
    calls = []

    def fake_resolve(name, *, models_dir=None, progress=None, **_):
        calls.append((name, models_dir))
        for done in (0, 40, 100) if progress else ():
            progress(done, 100)
        return weights.ResolvedWeights(path, name or "colornet-compact-places39", "hub", None)

    monkeypatch.setattr(weights, "resolve_weights", fake_resolve)
    bars = fake_comfy.state["bars"]
    (m,) = run("ColorNetLoader", "colornet-compact-places39", "cpu", "float32")
    assert calls[0] == ("colornet-compact-places39", [str(fake_comfy.user_dir)])  # ComfyUI's folders searched
    assert bars[0].current == 100 and bars[0].total == 100 and m.class_names == CLASSES


def test_loader_downloads_from_the_hub_and_comfy_bar_follows(fake_comfy, net, tmp_path, monkeypatch):
    """A manifest name neither in ComfyUI's folders nor bundled: the Loader downloads it with the real
    huggingface_hub client from a local Hub (a slow link), and ComfyUI's bar moves while the file arrives --
    through ``tqdm_class`` (huggingface_hub >= 1.1) or by watching the partial file (0.x and 1.0; the host check
    runs this test with both)."""
    from hub_server import HubServer, point_huggingface_hub_at, set_hub_settings

    from colornet import constants
    from colornet.manifest import sha256_file

    weights = save_checkpoint(net, tmp_path / "published")
    files = {name: (weights.parent / name).read_bytes() for name in (weights.name, "config.json")}
    size = len(files[weights.name])
    with HubServer() as hub:
        point_huggingface_hub_at(monkeypatch, hub.url, tmp_path / "hf")
        revision = hub.commit_files("colornet-tests/hubbed", files)
        entry = {"repo_id": "colornet-tests/hubbed", "revision": revision, "filename": weights.name,
                 "config_filename": "config.json", "sha256": sha256_file(weights), "size": size, "config": "compact",
                 "bundled": None, "description": "test", "license": "mit"}
        manifest = tmp_path / "weights_manifest.json"
        manifest.write_text(json.dumps({"default": "hubbed", "models": {"hubbed": entry}}))
        monkeypatch.setattr(constants, "COLORNET_MANIFEST", manifest)
        monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", tmp_path / "no-models")
        hub.throttle_bps, hub.throttle_chunk = size / 1.5, size // 24  # ~1.5 s
        set_hub_settings(monkeypatch, {"DOWNLOAD_CHUNK_SIZE": size // 24})  # the client reads 10 MB at a time
        (m,) = run("ColorNetLoader", "hubbed", "cpu", "float32")
    assert Path(m.source).is_relative_to(tmp_path / "hf" / "hub") and m.class_names == CLASSES
    steps = fake_comfy.state["bars"][0].steps
    download = [(done, total) for done, total in steps if total == size]
    assert download[-1] == (size, size) and [d for d, _ in download] == sorted(d for d, _ in download)
    assert len({d for d, _ in download if 0 < d < size}) >= 2, steps  # moved while the file arrived
    assert steps[-1] == (100, 100)
