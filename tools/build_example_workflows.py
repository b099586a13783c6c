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

# slug -> (title, description, nodes). A node: (id, class_type, inputs, pos, title); an input value of the form
# ("@", node_id, slot) is a link. The title is the UI file's name: ComfyUI's template browser (frontend 1.27) shows a
# custom node pack's template by its file name (as title and, with - and _ as spaces, as description) and its
# thumbnail <file name>.jpg; the slug names the API file.
L = lambda node, slot=0: ("@", node, slot)  # noqa: E731
LOADER = {"weights": DEFAULT_WEIGHTS, "device": "auto", "dtype": "auto"}
WORKFLOWS = {
    "colornet_auto_colorize": (
        "Colorize a black and white photo",
        "Auto-colorize a photo: each image's own global prior (the paper's default). ColorNet Grayscale Extract previews the "
        "greyscale the network sees.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 310), "Photo to colorize"),
            (2, "ColorNetLoader", LOADER, (40, 120), None),
            (3, "ColorNetFuseColorize", {"colornet_model": L(2), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (420, 120), None),
            (4, "SaveImage", {"images": L(3), "filename_prefix": "colornet_auto"}, (800, 120), None),
            (5, "ColorNetLumaExtract", {"image": L(1)}, (420, 470), None),
            (6, "PreviewImage", {"images": L(5)}, (800, 510), "Greyscale input (L)"),
        ],
    ),
    "colornet_reference_prior": (
        "Colorize in the style of a reference photo",
        "Style transfer, as in the paper: colorize a photo with the global prior of ANOTHER photo. Compare with "
        "the photo's own prior (preview).",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 310), "Photo to colorize"),
            (2, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 730), "Reference photo"),
            (3, "ColorNetLoader", LOADER, (40, 120), None),
            (4, "ColorNetGlobalPrior", {"colornet_model": L(3), "reference": L(2), "batch": "mix into one prior"},
             (420, 540), None),
            (5, "ColorNetFuseColorize", {"colornet_model": L(3), "image": L(1), "strength": 1.0,
                                         "working_size": 512, "global_prior": L(4)}, (800, 120),
             "ColorNet Colorize (reference prior)"),
            (6, "SaveImage", {"images": L(5), "filename_prefix": "colornet_reference"}, (1180, 120), None),
            (7, "ColorNetFuseColorize", {"colornet_model": L(3), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (800, 470), "ColorNet Colorize (own prior)"),
            (8, "PreviewImage", {"images": L(7)}, (1180, 470), "Own prior, for comparison"),
        ],
    ),
    "colornet_prior_mix": (
        "Mix the styles of two reference photos",
        "Mix two references with ColorNet Prior Mix (70 % / 30 %) and colorize with the mixed global prior.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Photo to colorize"),
            (2, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 540), "Reference A"),
            (3, "LoadImage", {"image": "forest_path.jpg", "upload": "image"}, (40, 960), "Reference B"),
            (4, "ColorNetLoader", LOADER, (800, 310), None),
            (5, "ColorNetGlobalPrior", {"colornet_model": L(4), "reference": L(2), "batch": "mix into one prior"},
             (420, 540), "ColorNet Global Prior A"),
            (6, "ColorNetGlobalPrior", {"colornet_model": L(4), "reference": L(3), "batch": "mix into one prior"},
             (420, 960), "ColorNet Global Prior B"),
            (7, "ColorNetPriorMix", {"prior_1": L(5), "weight_1": 0.7, "prior_2": L(6), "weight_2": 0.3},
             (1180, 470), None),
            (8, "ColorNetFuseColorize", {"colornet_model": L(4), "image": L(1), "strength": 1.0,
                                         "working_size": 512, "global_prior": L(7)}, (1180, 120), None),
            (9, "SaveImage", {"images": L(8), "filename_prefix": "colornet_prior_mix"}, (1560, 120), None),
        ],
    ),
    "colornet_scene_classify": (
        "Scene classification of a photo",
        "Scene classification from the global features: top-5 classes with probabilities and the top-1 label, shown "
        "with Preview Any; the photo is colorized alongside.",
        [
            (1, "LoadImage", {"image": "mountain_aitzgorri.jpg", "upload": "image"}, (40, 310), "Photo"),
            (2, "ColorNetLoader", LOADER, (40, 120), None),
            (3, "ColorNetSceneClassify", {"colornet_model": L(2), "top_k": 5, "image": L(1)}, (420, 120), None),
            (4, "PreviewAny", {"source": L(3, 0)}, (800, 120), "Top-5 classes"),
            (5, "PreviewAny", {"source": L(3, 1)}, (800, 390), "Top-1 label"),
            (6, "ColorNetFuseColorize", {"colornet_model": L(2), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (420, 390), None),
            (7, "SaveImage", {"images": L(6), "filename_prefix": "colornet_scene"}, (800, 660), None),
        ],
    ),
    "colornet_hints": (
        "Colour hints painted in the mask editor",
        "Colour hints painted in the mask editor. Right-click the Load Image node > Open in MaskEditor, pick the "
        "paint brush (the second tool), choose a colour and dab it where you want that colour on the black and "
        "white photo; Save, Run. The same picture goes to 'image' and to 'hints': the colour you painted is the "
        "hint (nothing else to wire), and it spreads through regions of similar lightness and stops at edges. The "
        "sample already has seven dots painted (sky blue, grass green, ochre tower, terracotta roofs). On a colour "
        "photo, also mask the painted dots (mask pen) and connect Load Image's MASK to 'hints_mask'.",
        [
            (1, "LoadImage", {"image": "street_village_painted.png", "upload": "image"}, (40, 310),
             "Black and white photo with painted colours"),
            (2, "ColorNetLoader", LOADER, (40, 120), None),
            (3, "ColorNetFuseColorize", {"colornet_model": L(2), "image": L(1), "strength": 1.0,
                                         "working_size": 512, "hints": L(1)},
             (420, 120), "ColorNet Colorize (painted hints)"),
            (4, "SaveImage", {"images": L(3), "filename_prefix": "colornet_hints"}, (800, 120), None),
            (5, "ColorNetFuseColorize", {"colornet_model": L(2), "image": L(1), "strength": 1.0,
                                         "working_size": 512}, (420, 510), "ColorNet Colorize (automatic)"),
            (6, "PreviewImage", {"images": L(5)}, (800, 510), "Without hints, for comparison"),
        ],
    ),
    "colornet_mask": (
        "Colorize only inside a mask",
        "Mask-limited colorization: only the village (white in street_village_mask.png) is colorized; mountain and "
        "sky (black) keep the input's own pixels, unchanged (here the greyscale L from LumaExtract, so they stay "
        "grey; a colour input would keep its colours). ImageToMask turns the black-and-white picture into a MASK.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 310), "Photo to colorize"),
            (2, "LoadImage", {"image": "street_village_mask.png", "upload": "image"}, (40, 730), "Mask (white = colorize)"),
            (3, "ImageToMask", {"image": L(2), "channel": "red"}, (420, 450), None),
            (4, "ColorNetLoader", LOADER, (40, 120), None),
            (5, "ColorNetLumaExtract", {"image": L(1)}, (420, 310), "ColorNet Grayscale Extract"),
            (6, "ColorNetFuseColorize", {"colornet_model": L(4), "image": L(5), "strength": 1.0,
                                         "working_size": 512, "mask": L(3)}, (800, 120), None),
            (7, "SaveImage", {"images": L(6), "filename_prefix": "colornet_mask"}, (1180, 120), None),
        ],
    ),
    "colornet_chroma_transfer": (
        "Chroma transfer from a small colour render",
        "ColorNet Chroma Transfer: the colours of a small picture onto the full-resolution lightness of the same picture. Here "
        "the small colour picture is the photo scaled to 1/4 (stand-in for a diffusion model's small render); the "
        "result has the photo's full detail with colours brought up guided by its edges.",
        [
            (1, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 120), "Full-resolution photo"),
            (2, "ImageScaleBy", {"image": L(1), "upscale_method": "area", "scale_by": 0.25}, (420, 560),
             "Small colour render (1/4)"),
            (3, "ColorNetChromaTransfer", {"luma": L(1), "color": L(2), "upsample": "guided"}, (800, 120), None),
            (4, "SaveImage", {"images": L(3), "filename_prefix": "colornet_chroma_transfer"}, (1180, 120), None),
            (5, "PreviewImage", {"images": L(2)}, (800, 560), "The small colour input"),
        ],
    ),
    "colornet_video_frames": (
        "Colorize video frames as one clip",
        "Frames in, frames out: a batch of video frames colorized as ONE clip. Here the frames are made from two "
        "photos (four crops panning across the first = shot 1, one crop of the second = shot 2); with a video "
        "loader (e.g. Video Helper Suite's Load Video) connect its IMAGE batch to ColorNet Colorize instead. prior_mode "
        "per_shot gives each shot one look (the cut is found from lightness; shot 2 does not inherit shot 1's "
        "colours) and temporal_smoothing 0.8 removes frame-to-frame flicker along the motion.",
        [
            (1, "LoadImage", {"image": "street_village.jpg", "upload": "image"}, (40, 120), "Shot 1 source"),
            (2, "LoadImage", {"image": "sea_bythewater.jpg", "upload": "image"}, (40, 900), "Shot 2 source"),
            (3, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 0, "y": 20}, (600, 40), "Frame 1"),
            (4, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 12, "y": 20}, (600, 260), "Frame 2"),
            (5, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 24, "y": 20}, (600, 480), "Frame 3"),
            (6, "ImageCrop", {"image": L(1), "width": 288, "height": 200, "x": 36, "y": 20}, (600, 700), "Frame 4"),
            (7, "ImageCrop", {"image": L(2), "width": 288, "height": 200, "x": 0, "y": 20}, (600, 920), "Frame 5"),
            (8, "ImageBatch", {"image1": L(3), "image2": L(4)}, (1000, 200), None),
            (9, "ImageBatch", {"image1": L(8), "image2": L(5)}, (1000, 320), None),
            (10, "ImageBatch", {"image1": L(9), "image2": L(6)}, (1000, 440), None),
            (11, "ImageBatch", {"image1": L(10), "image2": L(7)}, (1000, 560), "Frames (batch of 5)"),
            (12, "ColorNetLoader", LOADER, (1000, 40), None),
            (13, "ColorNetFuseColorize", {"colornet_model": L(12), "image": L(11), "strength": 1.0,
                                          "working_size": 512, "prior_mode": "per_shot",
                                          "temporal_smoothing": 0.8}, (1380, 120), "ColorNet Colorize (clip)"),
            (14, "SaveImage", {"images": L(13), "filename_prefix": "colornet_frames"}, (1760, 120), None),
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


SLOT_H, WIDGET_H = 20, 24  # the frontend's (1.27) row heights: a socket row, a widget row
IMAGE_ROOM = {"LoadImage": 250, "PreviewImage": 250, "SaveImage": 250, "PreviewAny": 110}  # the picture / text shown
NODE_W = 340


def node_size(class_type: str, sockets: int, widgets: int) -> list[int]:
    """Width, height (without the title bar) of a node as the frontend lays it out (its computeSize, measured in
    1.27: socket rows of 20 px beside each other, widget rows of 24 px below), plus room for the picture or text a
    node shows after a run, so that nothing is hidden or resized on load."""
    height = SLOT_H * sockets + WIDGET_H * widgets + (14 if widgets else 6) + IMAGE_ROOM.get(class_type, 0)
    return [NODE_W, height]


def slot_pos(node: dict, slot: int, output: bool) -> tuple[float, float]:
    """Canvas position of a node's input or output socket (the frontend's slot rows, 20 px apart)."""
    x, y = node["pos"]
    return (x + node["size"][0] if output else x), y + SLOT_H * (slot + 0.5)


def link_points(src: dict, src_slot: int, dst: dict, dst_slot: int, samples: int = 40) -> list[tuple[float, float]]:
    """Points along a link as the frontend draws it: a cubic spline leaving the output and entering the input
    horizontally, with control points a quarter of the distance out."""
    x0, y0 = slot_pos(src, src_slot, True)
    x3, y3 = slot_pos(dst, dst_slot, False)
    d = 0.25 * ((x3 - x0) ** 2 + (y3 - y0) ** 2) ** 0.5
    x1, y1, x2, y2 = x0 + d, y0, x3 - d, y3
    points = []
    for i in range(1, samples):
        t = i / samples
        u = 1 - t
        points.append((u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
                       u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3))
    return points


def hidden_links(ui: dict) -> list[str]:
    """Links that run behind a node other than their own two (the frontend draws links under nodes)."""
    nodes = {n["id"]: n for n in ui["nodes"]}
    problems = []
    for link_id, src, src_slot, dst, dst_slot, _kind in ui["links"]:
        for point in link_points(nodes[src], src_slot, nodes[dst], dst_slot):
            for nid, node in nodes.items():
                x0, y0, x1, y1 = bounds(node)
                if nid not in (src, dst) and x0 + 2 < point[0] < x1 - 2 and y0 + 2 < point[1] < y1 - 2:
                    problems.append(f"link {link_id} ({src} -> {dst}) runs behind node {nid}")
                    break
            else:
                continue
            break
    return problems


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
            "size": node_size(class_type, max(len(link_inputs), len(outputs)), len(widgets)),
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
        "widgets_values": [description + " The sample pictures were copied into ComfyUI's input folder when the "
                           "pack loaded; pick your own with 'choose file to upload' in a Load Image node."],
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


def ui_path(slug: str) -> Path:
    """The UI-format file of a workflow: named by its title, which the template browser shows."""
    return OUT / f"{WORKFLOWS[slug][0]}.json"


def api_path(slug: str) -> Path:
    return OUT / "api" / f"{slug}_api.json"


def thumbnail_path(slug: str) -> Path:
    """The template browser's card picture for a workflow (``<UI file name>.jpg``)."""
    return OUT / f"{WORKFLOWS[slug][0]}.jpg"


def render() -> dict[Path, str]:
    mappings = load_pack().NODE_CLASS_MAPPINGS
    files = {}
    for slug, (_title, description, nodes) in WORKFLOWS.items():
        files[ui_path(slug)] = json.dumps(ui_format(description, nodes, mappings), indent=2) + "\n"
        files[api_path(slug)] = json.dumps(api_format(nodes, mappings), indent=2) + "\n"
    return files


def main() -> None:
    stale = {p for p in OUT.glob("*.json")} | {p for p in (OUT / "api").glob("*_api.json")}
    for path in stale - set(render()):
        path.unlink()  # a renamed workflow leaves no old copy behind
        print("removed", path.relative_to(ROOT))
    for path, text in render().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
