#!/usr/bin/env python3
"""Write the ComfyUI example workflows in both formats from one description.

    python tools/build_example_workflows.py        # rewrites example_workflows/*.json and example_workflows/api/*

UI format (``example_workflows/<name>.json``: what the ComfyUI menu's Templates lists and what drag-and-drop loads)
and API format (``example_workflows/api/<name>_api.json``: what ``POST /prompt`` takes) come from the same node list,
so they cannot drift apart. Our nodes' sockets and widgets are read from ``NODE_CLASS_MAPPINGS``; the few ComfyUI core
nodes used are described below. tests/test_nodes_workflows.py checks the files are up to date.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "example_workflows"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
DEFAULT_WEIGHTS = json.loads((ROOT / "weights_manifest.json").read_text())["default"]  # the Loader's first choice
TITLE_H = 30  # the frontend draws a node's title bar above its pos

# ComfyUI core nodes: (inputs [(name, type)], widgets [(name, default)], outputs [(name, type)])
CORE = {
    "LoadImage": ([], [("image", None), ("upload", "image")], [("IMAGE", "IMAGE"), ("MASK", "MASK")]),
    "SaveImage": ([("images", "IMAGE")], [("filename_prefix", "ComfyUI")], []),
    "PreviewImage": ([("images", "IMAGE")], [], []),
    "PreviewAny": ([("source", "*")], [], []),
    "InvertMask": ([("mask", "MASK")], [], [("MASK", "MASK")]),
    "ImageToMask": ([("image", "IMAGE")], [("channel", "red")], [("MASK", "MASK")]),
    "ImageScaleBy": ([("image", "IMAGE")], [("upscale_method", "nearest-exact"), ("scale_by", 1.0)],
                     [("IMAGE", "IMAGE")]),
    "ImageCrop": ([("image", "IMAGE")], [("width", 512), ("height", 512), ("x", 0), ("y", 0)], [("IMAGE", "IMAGE")]),
    "ImageBatch": ([("image1", "IMAGE"), ("image2", "IMAGE")], [], [("IMAGE", "IMAGE")]),
}

# name -> (title, description, nodes). A node: (id, class_type, inputs, pos, title); an input value of the form
# ("@", node_id, slot) is a link.
L = lambda node, slot=0: ("@", node, slot)  # noqa: E731
LOADER = {"weights": DEFAULT_WEIGHTS, "device": "auto", "dtype": "auto"}
WORKFLOWS = {
    "colornet_auto_colorize": (
        "Auto-colorize a photo: each image's own global prior (the paper's default). LumaExtract previews the "
        "greyscale the network sees.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Photo to colorize"),
            (2, "ColorNetLoader", LOADER, (40, 500), None),
            (3, "ColorNetFuseColorize", {"colornet_model": L(2), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (420, 120), None),
            (4, "SaveImage", {"images": L(3), "filename_prefix": "colornet_auto"}, (800, 120), None),
            (5, "ColorNetLumaExtract", {"image": L(1)}, (420, 540), None),
            (6, "PreviewImage", {"images": L(5)}, (800, 540), "Greyscale input (L)"),
        ],
    ),
    "colornet_reference_prior": (
        "Style transfer, as in the paper: colorize a photo with the global prior of ANOTHER photo. Compare with "
        "the photo's own prior (preview).",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Photo to colorize"),
            (2, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 500), "Reference photo"),
            (3, "ColorNetLoader", LOADER, (40, 880), None),
            (4, "ColorNetGlobalPrior", {"colornet_model": L(3), "reference": L(2), "batch": "mix into one prior"},
             (420, 500), None),
            (5, "ColorNetFuseColorize", {"colornet_model": L(3), "image": L(1), "strength": 1.0,
                                         "working_size": 512, "global_prior": L(4)}, (800, 120),
             "FuseColorize (reference prior)"),
            (6, "SaveImage", {"images": L(5), "filename_prefix": "colornet_reference"}, (1180, 120), None),
            (7, "ColorNetFuseColorize", {"colornet_model": L(3), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (800, 540), "FuseColorize (own prior)"),
            (8, "PreviewImage", {"images": L(7)}, (1180, 540), "Own prior, for comparison"),
        ],
    ),
    "colornet_prior_mix": (
        "Mix two references with PriorMix (70 % / 30 %) and colorize with the mixed global prior.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Photo to colorize"),
            (2, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 500), "Reference A"),
            (3, "LoadImage", {"image": "forest_path.jpg", "upload": "image"}, (40, 880), "Reference B"),
            (4, "ColorNetLoader", LOADER, (420, 120), None),
            (5, "ColorNetGlobalPrior", {"colornet_model": L(4), "reference": L(2), "batch": "mix into one prior"},
             (420, 500), "GlobalPrior A"),
            (6, "ColorNetGlobalPrior", {"colornet_model": L(4), "reference": L(3), "batch": "mix into one prior"},
             (420, 760), "GlobalPrior B"),
            (7, "ColorNetPriorMix", {"prior_1": L(5), "weight_1": 0.7, "prior_2": L(6), "weight_2": 0.3},
             (800, 500), None),
            (8, "ColorNetFuseColorize", {"colornet_model": L(4), "image": L(1), "strength": 1.0,
                                         "working_size": 512, "global_prior": L(7)}, (1180, 120), None),
            (9, "SaveImage", {"images": L(8), "filename_prefix": "colornet_prior_mix"}, (1560, 120), None),
        ],
    ),
    "colornet_scene_classify": (
        "Scene classification from the global features: top-5 classes with probabilities and the top-1 label, shown "
        "with Preview Any; the photo is colorized alongside.",
        [
            (1, "LoadImage", {"image": "mountain_aitzgorri.jpg", "upload": "image"}, (40, 120), "Photo"),
            (2, "ColorNetLoader", LOADER, (40, 500), None),
            (3, "ColorNetSceneClassify", {"colornet_model": L(2), "top_k": 5, "image": L(1)}, (420, 120), None),
            (4, "PreviewAny", {"source": L(3, 0)}, (800, 60), "Top-5 classes"),
            (5, "PreviewAny", {"source": L(3, 1)}, (800, 340), "Top-1 label"),
            (6, "ColorNetFuseColorize", {"colornet_model": L(2), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (420, 500), None),
            (7, "SaveImage", {"images": L(6), "filename_prefix": "colornet_scene"}, (800, 620), None),
        ],
    ),
    "colornet_hints": (
        "Colour hints: a few painted dots (an RGBA layer, street_village_hints.png) ask for their colour; it spreads "
        "through regions of similar lightness and stops at edges. Load Image's MASK is 1 - alpha, so InvertMask "
        "turns it into 'where the hints are'. Painting in the mask editor over the hint image works the same way.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Photo to colorize"),
            (2, "LoadImage", {"image": "street_village_hints.png", "upload": "image"}, (40, 500), "Hint layer (RGBA)"),
            (3, "InvertMask", {"mask": L(2, 1)}, (420, 620), "Hints where alpha > 0"),
            (4, "ColorNetLoader", LOADER, (40, 880), None),
            (5, "ColorNetFuseColorize", {"colornet_model": L(4), "image": L(1), "strength": 1.0,
                                         "working_size": 512, "hints": L(2), "hints_mask": L(3)},
             (800, 120), "FuseColorize (with hints)"),
            (6, "SaveImage", {"images": L(5), "filename_prefix": "colornet_hints"}, (1180, 120), None),
            (7, "ColorNetFuseColorize", {"colornet_model": L(4), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (800, 560), "FuseColorize (automatic)"),
            (8, "PreviewImage", {"images": L(7)}, (1180, 560), "Without hints, for comparison"),
        ],
    ),
    "colornet_mask": (
        "Mask-limited colorization: only the village (white in street_village_mask.png) is colorized; mountain and "
        "sky (black) keep the input's own pixels, unchanged (here the greyscale L from LumaExtract, so they stay "
        "grey; a colour input would keep its colours). ImageToMask turns the black-and-white picture into a MASK.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Photo to colorize"),
            (2, "LoadImage", {"image": "street_village_mask.png", "upload": "image"}, (40, 500), "Mask (white = colorize)"),
            (3, "ImageToMask", {"image": L(2), "channel": "red"}, (420, 560), None),
            (4, "ColorNetLoader", LOADER, (40, 880), None),
            (5, "ColorNetLumaExtract", {"image": L(1)}, (420, 120), "LumaExtract (greyscale input)"),
            (6, "ColorNetFuseColorize", {"colornet_model": L(4), "image": L(5), "strength": 1.0,
                                         "working_size": 512, "mask": L(3)}, (800, 120), None),
            (7, "SaveImage", {"images": L(6), "filename_prefix": "colornet_mask"}, (1180, 120), None),
        ],
    ),
    "colornet_chroma_transfer": (
        "ChromaTransfer: the colours of a small picture onto the full-resolution lightness of the same picture. Here "
        "the small colour picture is the photo scaled to 1/4 (stand-in for a diffusion model's small render); the "
        "result has the photo's full detail with colours brought up guided by its edges.",
        [
            (1, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 120), "Full-resolution photo"),
            (2, "ImageScaleBy", {"image": L(1), "upscale_method": "area", "scale_by": 0.25}, (420, 500),
             "Small colour render (1/4)"),
            (3, "ColorNetChromaTransfer", {"luma": L(1), "color": L(2), "upsample": "guided"}, (800, 120), None),
            (4, "SaveImage", {"images": L(3), "filename_prefix": "colornet_chroma_transfer"}, (1180, 120), None),
            (5, "PreviewImage", {"images": L(2)}, (800, 500), "The small colour input"),
        ],
    ),
    "colornet_video_frames": (
        "Frames in, frames out: a batch of video frames colorized as ONE clip. Here the frames are made from two "
        "photos (four crops panning across the first = shot 1, one crop of the second = shot 2); with a video "
        "loader (e.g. Video Helper Suite's Load Video) connect its IMAGE batch to FuseColorize instead. prior_mode "
        "per_shot gives each shot one look (the cut is found from lightness; shot 2 does not inherit shot 1's "
        "colours) and temporal_smoothing 0.8 removes frame-to-frame flicker along the motion.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Shot 1 source"),
            (2, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 760), "Shot 2 source"),
            (3, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 0, "y": 20}, (420, 40), "Frame 1"),
            (4, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 12, "y": 20}, (420, 300), "Frame 2"),
            (5, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 24, "y": 20}, (420, 560), "Frame 3"),
            (6, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 36, "y": 20}, (420, 820), "Frame 4"),
            (7, "ImageCrop", {"image": L(2), "width": 288, "height": 200, "x": 0, "y": 20}, (420, 1080), "Frame 5"),
            (8, "ImageBatch", {"image1": L(3), "image2": L(4)}, (800, 120), None),
            (9, "ImageBatch", {"image1": L(8), "image2": L(5)}, (800, 310), None),
            (10, "ImageBatch", {"image1": L(9), "image2": L(6)}, (800, 500), None),
            (11, "ImageBatch", {"image1": L(10), "image2": L(7)}, (800, 690), "Frames (batch of 5)"),
            (12, "ColorNetLoader", LOADER, (800, 900), None),
            (13, "ColorNetFuseColorize", {"colornet_model": L(12), "image": L(11), "strength": 1.0,
                                          "working_size": 512, "prior_mode": "per_shot",
                                          "temporal_smoothing": 0.8}, (1180, 120), "FuseColorize (clip)"),
            (14, "SaveImage", {"images": L(13), "filename_prefix": "colornet_frames"}, (1560, 120), None),
        ],
    ),
}


def load_pack():
    spec = importlib.util.spec_from_file_location(
        "colornet_comfy_pack", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def node_spec(class_type: str, mappings: dict) -> tuple[list, list, list]:
    """(link inputs [(name, type)], widgets [(name, default)], outputs [(name, type)]) of a node class."""
    if class_type in CORE:
        return CORE[class_type]
    cls = mappings[class_type]
    spec = cls.INPUT_TYPES()
    inputs, widgets = [], []
    for section in ("required", "optional"):
        for name, (kind, *opts) in spec.get(section, {}).items():
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                default = (opts[0] if opts else {}).get("default", kind[0] if isinstance(kind, list) else None)
                widgets.append((name, default))
            else:
                inputs.append((name, kind))
    names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
    return inputs, widgets, list(zip(names, cls.RETURN_TYPES))


def input_order(class_type: str, mappings: dict) -> list[str]:
    if class_type in CORE:
        return [name for name, _ in CORE[class_type][0] + CORE[class_type][1]]
    spec = mappings[class_type].INPUT_TYPES()
    return [name for section in ("required", "optional") for name in spec.get(section, {})]


def api_format(nodes: list, mappings: dict) -> dict:
    """What the ComfyUI frontend's graphToPrompt makes of the UI format: every widget (defaults included, the
    upload button left out) and the connected links, in the node's declaration order."""
    out = {}
    for nid, class_type, inputs, _pos, title in nodes:
        widget_defaults = dict(node_spec(class_type, mappings)[1])
        values = {}
        for name in input_order(class_type, mappings):
            value = inputs.get(name, widget_defaults.get(name))
            if isinstance(value, tuple):
                values[name] = [str(value[1]), value[2]]
            elif name in widget_defaults and name != "upload":
                values[name] = value
        title = title or display_name(class_type, mappings)
        out[str(nid)] = {"inputs": values, "class_type": class_type, "_meta": {"title": title}}
    return out


def display_name(class_type: str, mappings: dict) -> str:
    names = getattr(sys.modules.get("colornet_comfy_pack"), "NODE_DISPLAY_NAME_MAPPINGS", {})
    return names.get(class_type, {"PreviewAny": "Preview Any", "LoadImage": "Load Image", "SaveImage": "Save Image",
                                  "PreviewImage": "Preview Image", "ImageCrop": "Image Crop",
                                  "ImageBatch": "Batch Images"}.get(class_type, class_type))


def node_size(class_type: str, rows: int) -> list[int]:
    """Width, height (without the title bar) of a node: its sockets/widgets plus room for an image or text preview."""
    extra = 190 if class_type in ("LoadImage", "PreviewImage", "SaveImage") else 90 if class_type == "PreviewAny" else 0
    return [340, 60 + 26 * (rows + 1) + extra]


def bounds(node: dict) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of a UI node on the canvas, title bar (drawn above ``pos``) included."""
    x, y = node["pos"]
    w, h = node["size"]
    return x, y - TITLE_H, x + w, y + h


def initial_view(ui_nodes: list) -> dict:
    """The canvas view on load (``extra.ds``, restored by drag-and-drop): the top-left of the graph, the Note with
    the instructions included, at the canvas' top-left corner, zoomed to fit a ~1600x850 canvas (but not below
    0.65, where the frontend starts drawing nodes without text)."""
    boxes = [bounds(n) for n in ui_nodes]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    scale = round(min(1.0, max(0.65, min(1600 / (x1 - x0 + 40), 850 / (y1 - y0 + 40)))), 2)
    return {"scale": scale, "offset": [round(20 / scale - x0, 1), round(20 / scale - y0, 1)]}


def ui_format(description: str, nodes: list, mappings: dict) -> dict:
    links, ui_nodes = [], []
    out_links: dict[tuple[int, int], list[int]] = {}
    specs = {nid: node_spec(ct, mappings) for nid, ct, *_ in nodes}
    for nid, class_type, inputs, _pos, _title in nodes:
        link_inputs = specs[nid][0]
        for slot, (name, kind) in enumerate(link_inputs):
            value = inputs.get(name)
            if isinstance(value, tuple):
                src, src_slot = value[1], value[2]
                src_type = specs[src][2][src_slot][1]
                link_id = len(links) + 1
                links.append([link_id, src, src_slot, nid, slot, src_type])
                out_links.setdefault((src, src_slot), []).append(link_id)
    link_by_target = {(lk[3], lk[4]): lk[0] for lk in links}
    for order, (nid, class_type, inputs, pos, title) in enumerate(nodes):
        link_inputs, widgets, outputs = specs[nid]
        node = {
            "id": nid,
            "type": class_type,
            "pos": list(pos),
            "size": node_size(class_type, len(link_inputs) + len(widgets)),
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": [
                {"name": name, "type": kind, "link": link_by_target.get((nid, slot))}
                for slot, (name, kind) in enumerate(link_inputs)
            ],
            "outputs": [
                {"name": name, "type": kind, "links": out_links.get((nid, slot), []), "slot_index": slot}
                for slot, (name, kind) in enumerate(outputs)
            ],
            "properties": {"Node name for S&R": class_type},
            "widgets_values": [inputs.get(w, default) for w, default in widgets],  # the UI fills every widget
        }
        if title:
            node["title"] = title
        ui_nodes.append(node)
    note_id = max(n["id"] for n in ui_nodes) + 1
    ui_nodes.append({
        "id": note_id, "type": "Note", "pos": [40, -120], "size": [700, 110], "flags": {}, "order": len(ui_nodes),
        "mode": 0, "inputs": [], "outputs": [], "properties": {},
        "widgets_values": [description + " Load the sample photos from the pack's colornet/samples/ folder (or "
                           "your own) in the Load Image nodes."],
    })
    return {
        "last_node_id": note_id,
        "last_link_id": len(links),
        "nodes": ui_nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": initial_view(ui_nodes)},
        "version": 0.4,
    }


def render() -> dict[Path, str]:
    mappings = load_pack().NODE_CLASS_MAPPINGS
    files = {}
    for name, (description, nodes) in WORKFLOWS.items():
        files[OUT / f"{name}.json"] = json.dumps(ui_format(description, nodes, mappings), indent=2) + "\n"
        files[OUT / "api" / f"{name}_api.json"] = json.dumps(api_format(nodes, mappings), indent=2) + "\n"
    return files


def main() -> None:
    for path, text in render().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
