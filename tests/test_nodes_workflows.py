"""The example workflows: both formats agree and are up to date, and the API-format ones run end to end.

A small runner walks each API-format graph the way ComfyUI's executor does (dependencies first, links resolved to
the producing node's outputs, widget values checked against the node's declared inputs) and calls
``NODE_CLASS_MAPPINGS``; ComfyUI's core LoadImage/SaveImage/PreviewImage/PreviewAny are replaced by stand-ins.
The real ComfyUI run is tools/run_comfyui_examples.sh (needs a ComfyUI checkout; see docs/NODES.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import lively_model, load_module, load_pack, torch_threads
from PIL import Image

from colornet.checkpoint import save_checkpoint
from colornet.model import compact_config

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "example_workflows"
SAMPLES = ROOT / "colornet" / "samples"
CORE_NODES = {"LoadImage", "SaveImage", "PreviewImage", "PreviewAny", "InvertMask", "ImageToMask", "ImageScaleBy",
              "ImageCrop", "ImageBatch"}
REQUIRED = {"colornet_auto_colorize", "colornet_reference_prior", "colornet_prior_mix", "colornet_scene_classify"}


PACK = load_pack()
N = PACK.NODE_CLASS_MAPPINGS
BUILDER = load_module("colornet_build_example_workflows", ROOT / "tools" / "build_example_workflows.py")


def api_files() -> list[Path]:
    return sorted((WORKFLOWS / "api").glob("*_api.json"))


# ------------------------------------------------------------------------------------------------ stand-ins


class LoadImage:
    """ComfyUI's LoadImage: RGB float [1,H,W,3] (+ MASK = 1 - alpha); shrunk here to keep the test fast."""

    def run(self, image: str):
        img = Image.open(SAMPLES / image).convert("RGBA")
        img.thumbnail((96, 96))
        rgba = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None]
        return rgba[..., :3].contiguous(), 1.0 - rgba[..., 3]


class SaveImage:
    saved: list = []

    def run(self, images: torch.Tensor, filename_prefix: str = "ComfyUI"):
        assert isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[-1] in (3, 4)
        assert images.dtype == torch.float32 and images.device.type == "cpu"
        assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
        pixels = (images.numpy() * 255.0).clip(0, 255).astype(np.uint8)  # what ComfyUI writes
        SaveImage.saved.append((filename_prefix, pixels))
        return ()


class PreviewImage(SaveImage):
    def run(self, images: torch.Tensor):
        return super().run(images, "preview")


class PreviewAny:
    shown: list = []

    def run(self, source):
        PreviewAny.shown.append(source)
        return ()


class InvertMask:
    def run(self, mask: torch.Tensor):
        return (1.0 - mask,)


class ImageToMask:
    def run(self, image: torch.Tensor, channel: str):
        return (image[..., ["red", "green", "blue", "alpha"].index(channel)],)


class ImageScaleBy:
    def run(self, image: torch.Tensor, upscale_method: str, scale_by: float):
        size = (round(image.shape[1] * scale_by), round(image.shape[2] * scale_by))
        out = torch.nn.functional.interpolate(image.movedim(-1, 1), size=size, mode=upscale_method)
        return (out.movedim(1, -1),)


class ImageCrop:
    """ComfyUI's ImageCrop (comfy_extras/nodes_images.py): a slice, the offsets clamped inside the image."""

    def run(self, image: torch.Tensor, width: int, height: int, x: int, y: int):
        x, y = min(x, image.shape[2] - 1), min(y, image.shape[1] - 1)
        return (image[:, y : y + height, x : x + width, :],)


class ImageBatch:
    """ComfyUI's ImageBatch: image2 resized (bilinear) to image1's size if they differ, then concatenated."""

    def run(self, image1: torch.Tensor, image2: torch.Tensor):
        if image1.shape[1:] != image2.shape[1:]:
            image2 = torch.nn.functional.interpolate(image2.movedim(-1, 1), size=image1.shape[1:3],
                                                     mode="bilinear").movedim(1, -1)
        return (torch.cat((image1, image2)),)


STAND_INS = {"LoadImage": LoadImage, "SaveImage": SaveImage, "PreviewImage": PreviewImage, "PreviewAny": PreviewAny,
             "InvertMask": InvertMask, "ImageToMask": ImageToMask, "ImageScaleBy": ImageScaleBy,
             "ImageCrop": ImageCrop, "ImageBatch": ImageBatch}


def check_widget(class_type: str, name: str, value, spec) -> None:
    kind, *opts = spec
    opts = opts[0] if opts else {}
    if isinstance(kind, list):
        assert value in kind, f"{class_type}.{name}={value!r} is not one of {kind}"
    elif kind in ("INT", "FLOAT"):
        assert opts.get("min", -1e18) <= value <= opts.get("max", 1e18), f"{class_type}.{name}={value} out of range"


def run_api_workflow(graph: dict) -> dict:
    """Execute an API-format graph; returns {node_id: outputs}."""
    results: dict[str, tuple] = {}

    def execute(node_id: str, stack=()) -> tuple:
        if node_id in results:
            return results[node_id]
        assert node_id not in stack, f"cycle through node {node_id}"
        node = graph[node_id]
        class_type = node["class_type"]
        kwargs = {}
        spec = {}
        if class_type in N:
            declared = N[class_type].INPUT_TYPES()
            spec = {**declared.get("required", {}), **declared.get("optional", {})}
            missing = set(declared.get("required", {})) - set(node["inputs"])
            assert not missing, f"node {node_id} ({class_type}) lacks required inputs {missing}"
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                src_id, slot = value
                outputs = execute(src_id, stack + (node_id,))
                if class_type in N and graph[src_id]["class_type"] in N:  # link types must match, as ComfyUI checks
                    src_cls = N[graph[src_id]["class_type"]]
                    assert src_cls.RETURN_TYPES[slot] == spec[name][0], f"bad link into {class_type}.{name}"
                kwargs[name] = outputs[slot]
            else:
                if class_type in N:
                    assert name in spec, f"{class_type} has no input {name!r}"
                    check_widget(class_type, name, value, spec[name])
                kwargs[name] = value
        with torch.inference_mode():  # as ComfyUI's executor runs every node
            if class_type in STAND_INS:
                out = STAND_INS[class_type]().run(**kwargs)
            else:
                cls = N[class_type]
                out = getattr(cls(), cls.FUNCTION)(**kwargs)
                assert isinstance(out, tuple) and len(out) == len(cls.RETURN_TYPES)
        results[node_id] = out
        return out

    for node_id in graph:
        execute(node_id)
    return results


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory):
    """ComfyUI's models/colornet with a random-init checkpoint under the default name: the workflows' Loader
    finds it there first (as a user's file), so this test does not depend on the bundled checkpoint."""
    folder = tmp_path_factory.mktemp("models") / "colornet"
    net = lively_model(compact_config(["beach", "forest", "street", "kitchen", "mountain"]), seed=0)
    save_checkpoint(net, folder / BUILDER.DEFAULT_WEIGHTS)
    return folder


@pytest.fixture
def in_comfy_models(monkeypatch, models_folder):
    comfy = sys.modules[f"{PACK.__name__}.nodes._comfy"]
    loader = sys.modules[f"{PACK.__name__}.nodes.loader"]
    monkeypatch.setattr(comfy, "models_folders", lambda: [str(models_folder)])
    loader.clear_cache()
    with torch_threads(1):
        yield
    loader.clear_cache()


# ------------------------------------------------------------------------------------------------ tests


def ui_file(api_file: Path) -> Path:
    return BUILDER.ui_path(api_file.name[: -len("_api.json")])


def test_required_workflows_exist_in_both_formats():
    ui = {p.name for p in WORKFLOWS.glob("*.json")}
    api = {p.name[: -len("_api.json")] for p in api_files()}
    assert REQUIRED <= api and ui == {BUILDER.ui_path(slug).name for slug in api}


def test_workflow_files_are_up_to_date():
    for path, text in BUILDER.render().items():
        assert path.read_text() == text, f"{path} is stale: run python tools/build_example_workflows.py"


@pytest.mark.parametrize("path", api_files(), ids=lambda p: p.stem)
def test_ui_format_matches_api_format(path):
    api = json.loads(path.read_text())
    ui = json.loads(ui_file(path).read_text())
    assert ui["version"] == 0.4 and ui["last_link_id"] == len(ui["links"])
    nodes = {str(n["id"]): n for n in ui["nodes"] if n["type"] != "Note"}
    assert set(nodes) == set(api)
    for nid, node in api.items():
        assert nodes[nid]["type"] == node["class_type"]
        assert node["class_type"] in N or node["class_type"] in CORE_NODES
    links = {(str(lk[1]), lk[2], str(lk[3])) for lk in ui["links"]}
    api_links = {(v[0], v[1], nid) for nid, n in api.items() for v in n["inputs"].values() if isinstance(v, list)}
    assert links == api_links
    for link_id, src, src_slot, dst, dst_slot, kind in ui["links"]:
        assert link_id in nodes[str(src)]["outputs"][src_slot]["links"]
        assert nodes[str(dst)]["inputs"][dst_slot]["link"] == link_id
        assert nodes[str(dst)]["inputs"][dst_slot]["type"] in (kind, "*")
    for nid, node in api.items():  # every widget value of the API file is in the UI node's widgets_values
        scalars = [v for k, v in node["inputs"].items() if not isinstance(v, list)]
        assert all(v in nodes[nid]["widgets_values"] for v in scalars)


@pytest.mark.parametrize("path", api_files(), ids=lambda p: p.stem)
def test_ui_format_converts_to_the_api_file(path):
    """What the frontend's graphToPrompt makes of the UI file (each widgets_values entry under its widget's name,
    the upload button dropped, connected inputs as [node id, slot]) is exactly the API file's inputs. Checked
    against the real frontend (comfyui-frontend-package 1.27.10): it also adds PreviewAny's display-only
    "preview": "" input, which the server ignores."""
    api = json.loads(path.read_text())
    ui = json.loads(ui_file(path).read_text())
    links = {lk[0]: lk for lk in ui["links"]}
    for node in ui["nodes"]:
        if node["type"] == "Note":
            continue
        _inputs, widgets, _outputs = BUILDER.node_spec(node["type"], N)
        assert len(node["widgets_values"]) == len(widgets), f"node {node['id']}: one value per widget"
        prompt = {name: v for (name, _), v in zip(widgets, node["widgets_values"]) if name != "upload"}
        for slot in node["inputs"]:
            if slot["link"] is not None:
                prompt[slot["name"]] = [str(links[slot["link"]][1]), links[slot["link"]][2]]
        assert prompt == api[str(node["id"])]["inputs"], f"node {node['id']} ({node['type']})"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.json")), ids=lambda p: p.stem)
def test_ui_layout_is_readable_on_load(path):
    """Nodes (title bar included) do not overlap, no link runs behind a node, and the view restored on load
    (extra.ds) starts at the graph's
    top-left corner (the Note with the instructions) at a zoom where the frontend still draws text (>= 0.65)."""
    ui = json.loads(path.read_text())
    boxes = {n["id"]: BUILDER.bounds(n) for n in ui["nodes"]}
    for a, (ax0, ay0, ax1, ay1) in boxes.items():
        for b, (bx0, by0, bx1, by1) in boxes.items():
            if a < b:
                assert min(ax1, bx1) <= max(ax0, bx0) or min(ay1, by1) <= max(ay0, by0), f"nodes {a} and {b} overlap"
    assert BUILDER.hidden_links(ui) == []  # links are drawn under nodes: none may run behind a third node
    ds = ui["extra"]["ds"]
    assert ds["scale"] >= 0.65
    left = min(b[0] for b in boxes.values()) + ds["offset"][0]
    top = min(b[1] for b in boxes.values()) + ds["offset"][1]
    assert 0 <= left * ds["scale"] <= 60 and 0 <= top * ds["scale"] <= 60


@pytest.mark.parametrize("path", api_files(), ids=lambda p: p.stem)
def test_api_workflow_runs(path, in_comfy_models):
    SaveImage.saved.clear()
    PreviewAny.shown.clear()
    graph = json.loads(path.read_text())
    for node in graph.values():
        if node["class_type"] == "LoadImage":
            assert (SAMPLES / node["inputs"]["image"]).is_file()
    results = run_api_workflow(graph)
    assert any(p != "preview" for p, _ in SaveImage.saved), "the workflow saves no image"
    frames = sum(1 for n in graph.values() if n["class_type"] == "ImageCrop") or 1  # the frames workflow batches 5
    for prefix, pixels in SaveImage.saved:
        assert pixels.ndim == 4 and pixels.shape[0] == frames and pixels.shape[-1] == 3
    if "scene_classify" in path.stem:
        text, label = PreviewAny.shown
        assert text.splitlines()[0].startswith(label + ": ") and len(text.splitlines()) == 5
    assert all(isinstance(out, tuple) for out in results.values())


def test_reference_workflow_changes_colours(in_comfy_models):
    """The style-transfer example really uses the reference: its saved image differs from the own-prior preview."""
    SaveImage.saved.clear()
    run_api_workflow(json.loads((WORKFLOWS / "api" / "colornet_reference_prior_api.json").read_text()))
    saved = dict(SaveImage.saved)
    diff = np.abs(saved["colornet_reference"].astype(int) - saved["preview"].astype(int)).mean()
    assert diff > 0.5


def test_default_weights_name_is_a_loader_choice():
    choices = N["ColorNetLoader"].INPUT_TYPES()["required"]["weights"][0]
    assert BUILDER.DEFAULT_WEIGHTS in choices
