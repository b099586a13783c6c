#!/usr/bin/env python3
"""The node pack as an artist meets it: the REAL ComfyUI frontend in a real headless Chromium, driven by Playwright.

    python tools/browser_check.py --comfy-mirror <ComfyUI git dir>            # starts ComfyUI with this checkout
    python tools/browser_check.py --url http://127.0.0.1:8188                 # or uses a server already running

Needs Chromium (``apt-get install chromium``) and Playwright (``pip install playwright``: no browser download, the
system's Chromium is launched by path), and, unless --url is given, the ComfyUI harness of ../shared/tools/comfy
(``setup.sh``). The pack is copied as a user's clone would be and the server gets a fresh, empty input folder, so
nothing here relies on files a developer left behind. Checks, each a line PASS/FAIL in the summary:

* search: "colorization", "colorize", "black and white", "grayscale", "old photo" typed into the node search box
  list a ColorNet node;
* templates: the template browser lists every example with its thumbnail;
* every example, loaded as the template browser loads it: no missing node types, Run on the first click succeeds,
  and the saved picture has colour (mean chroma) where it should;
* painted hints: a black-and-white photo uploaded into the hints example, colour dots painted with the mask
  editor's paint brush (and the mask pen over them), Run: mean |delta ab| at the painted dots <= 5;
* mask: the mask painted in the mask editor limits colorization (outside: the input's own pixels);
* loud errors: hints_mask connected to an empty mask stops the run with the pack's one-line message.

Screenshots of every step go to --shots (default /tmp/colornet_browser); exit status 0 only if every check passes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SEARCHES = ["colorization", "colorize", "black and white", "grayscale", "old photo"]
# painted dots on the 341x256 sample: (x, y, hex colour); far from each other and from the borders
DOTS = [(60, 40, "#2f6fd8"), (280, 30, "#2f6fd8"), (60, 140, "#3c9a32"), (265, 172, "#d8a040"), (50, 214, "#c04a2a")]
MAX_DELTA_AB = 5.0


# ------------------------------------------------------------------------------------------------ colour maths


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 [..., 3] -> CIE Lab (D65) [..., 3], the textbook formulas (independent of colornet's code)."""
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def chroma(rgb: np.ndarray) -> float:
    ab = lab(rgb)[..., 1:]
    return float(np.linalg.norm(ab, axis=-1).mean())


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


# ------------------------------------------------------------------------------------------------ harness


@dataclass
class Report:
    checks: list = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        return ok


def copy_pack(dest: Path) -> Path:
    """The files git tracks or would track, as a user's clone (build outputs and the venv left out)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    pack = dest / "ComfyUI-ColorNet"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (pack / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, pack / name)
    return pack


def start_server(args, work: Path) -> tuple[int, str, str]:
    """setup.sh with the copied pack, a fresh input and output folder; -> (pid, url, pack folder name)."""
    pack = Path(args.pack).resolve() if args.pack else copy_pack(work)
    inputs, outputs = work / "input", work / "output"
    inputs.mkdir()
    outputs.mkdir()
    env = dict(os.environ, PACK=str(pack), PORT=str(args.port), COMFY_MIRROR=args.comfy_mirror or "",
               EXTRA_ARGS=f"--input-directory {inputs} --output-directory {outputs}")
    if args.comfy_dir:
        env["COMFY_DIR"] = args.comfy_dir
    if args.comfy_env:
        env["COMFY_ENV"] = args.comfy_env
    setup = subprocess.run(["bash", str(Path(args.harness) / "setup.sh")], env=env, capture_output=True, text=True)
    sys.stderr.write(setup.stderr[-2000:])
    if setup.returncode != 0:
        raise SystemExit(f"setup.sh failed ({setup.returncode})")
    return int(setup.stdout.strip().splitlines()[-1]), f"http://127.0.0.1:{args.port}", pack.name


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def view(base: str, ref: dict) -> np.ndarray:
    query = urllib.parse.urlencode({"filename": ref["filename"], "subfolder": ref.get("subfolder", ""),
                                    "type": ref.get("type", "output")})
    return np.asarray(Image.open(io.BytesIO(fetch(f"{base}/view?{query}"))).convert("RGB"))


# ------------------------------------------------------------------------------------------------ the page

PAGE_HOOKS = """() => {
  window.__cn = {events: []};
  for (const type of ['execution_start', 'executed', 'execution_success', 'execution_error', 'progress',
                      'execution_interrupted']) {
    app.api.addEventListener(type, (e) => window.__cn.events.push({type, detail: e.detail}));
  }
  LiteGraph.Canvas && (LiteGraph.Canvas.MinFontSizeForLOD = 0);
}"""


class Page:
    def __init__(self, page, base: str, shots: Path) -> None:
        self.page, self.base, self.shots = page, base, shots

    def shot(self, name: str) -> Path:
        self.page.mouse.move(2, 600)  # no hover tooltip over the picture
        time.sleep(0.4)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def node_centre(self, node_id: int, dy: float = 0.5) -> tuple[float, float]:
        return tuple(self.page.evaluate("""([id, dy]) => { const n = app.graph.getNodeById(id);
            const r = app.canvas.canvas.getBoundingClientRect();
            const p = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + n.size[1] * dy]);
            return [p[0] + r.left, p[1] + r.top]; }""", [node_id, dy]))

    def close_dialogs(self) -> None:
        for _ in range(3):
            self.page.keyboard.press("Escape")
            time.sleep(0.2)

    def load_workflow(self, workflow: dict) -> None:
        self.close_dialogs()
        self.page.evaluate("wf => app.loadGraphData(wf)", workflow)
        time.sleep(1.5)
        self.page.evaluate("() => { app.canvas.ds.scale = Math.min(app.canvas.ds.scale, 0.8); app.canvas.setDirty(true, true); }")

    def missing_types(self) -> list[str]:
        return self.page.evaluate("""() => app.graph._nodes.filter(n => n.type !== 'Note' &&
            !LiteGraph.registered_node_types[n.type]).map(n => n.type)""")

    def run(self, timeout: float = 600) -> dict:
        """Click Run (as an artist does) and wait for the prompt to finish; -> {ok, error, outputs}."""
        self.page.evaluate("() => { window.__cn.events = []; }")
        self.close_dialogs()
        with self.page.expect_response(lambda r: r.url.endswith("/prompt") and r.request.method == "POST",
                                       timeout=60000) as queued:
            self.page.get_by_role("button", name="Run", exact=True).click()
        if queued.value.status != 200:  # rejected before running (e.g. a Load Image whose file is missing)
            time.sleep(1.5)  # the frontend's error dialog, for the screenshot
            body = queued.value.json()
            details = [f"{e.get('message', '')}: {e.get('details', '')}" for n in body.get("node_errors", {}).values()
                       for e in n.get("errors", [])] or [str(body.get("error", body))]
            return {"ok": False, "error": {"exception_message": "prompt rejected: " + "; ".join(details)},
                    "outputs": {}, "progress": 0}
        deadline = time.time() + timeout
        while time.time() < deadline:
            events = self.page.evaluate("() => window.__cn.events")
            kinds = {e["type"] for e in events}
            if "execution_error" in kinds or "execution_success" in kinds or "execution_interrupted" in kinds:
                break
            time.sleep(0.5)
        else:
            return {"ok": False, "error": f"no result after {timeout} s", "outputs": {}, "progress": 0}
        error = next((e["detail"] for e in events if e["type"] == "execution_error"), None)
        outputs = {}
        for e in events:
            if e["type"] == "executed" and e["detail"].get("output", {}).get("images"):
                outputs[str(e["detail"]["node"])] = e["detail"]["output"]["images"]
        progress = sum(1 for e in events if e["type"] == "progress")
        time.sleep(1.0)  # let the canvas draw the results before a screenshot
        return {"ok": error is None and "execution_success" in kinds, "error": error, "outputs": outputs,
                "progress": progress}

    def upload(self, node_id: int, path: Path) -> None:
        """Load Image's "choose file to upload" button and the file chooser, as an artist uploads a picture."""
        self.page.evaluate("() => app.canvas.deselectAll && app.canvas.deselectAll()")
        self.close_dialogs()
        self.page.evaluate("() => { app.canvas.setDirty(true, true); app.canvas.draw(true, true); }")
        time.sleep(0.5)
        target = self.page.evaluate("""(id) => { const n = app.graph.getNodeById(id);
            const w = n.widgets.find(w => w.name === 'upload' || w.type === 'button');
            const r = app.canvas.canvas.getBoundingClientRect();
            const y = n.pos[1] + (w.y ?? w.last_y ?? 0) + (w.computedHeight ?? 20) / 2;
            const p = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, y]);
            return [p[0] + r.left, p[1] + r.top]; }""", node_id)
        with self.page.expect_file_chooser(timeout=15000) as chooser:
            self.page.mouse.click(*target)
        chooser.value.set_files(str(path))
        self.page.wait_for_function("""([id, name]) => { const n = app.graph.getNodeById(id);
            return n.widgets.find(w => w.name === 'image').value.includes(name) && n.imgs && n.imgs.length > 0 &&
            n.imgs[0].complete; }""", arg=[node_id, path.name], timeout=20000)
        time.sleep(0.5)

    def open_mask_editor(self, node_id: int) -> None:
        x, y = self.node_centre(node_id, 0.6)
        self.page.mouse.click(x, y, button="right")
        time.sleep(0.5)
        self.page.locator(".litemenu-entry", has_text="Open in MaskEditor").first.click()
        self.page.wait_for_selector("#maskCanvas", state="visible", timeout=20000)
        time.sleep(1.5)

    def editor_point(self, x: float, y: float) -> tuple[float, float]:
        """Image pixel (x, y) -> page coordinates over the mask editor's canvas."""
        box = self.page.evaluate("""() => { const c = document.getElementById('imageCanvas');
            const r = c.getBoundingClientRect(); return [r.left, r.top, r.width / c.width, r.height / c.height]; }""")
        return box[0] + (x + 0.5) * box[2], box[1] + (y + 0.5) * box[3]

    def select_tool(self, index: int) -> None:
        """The mask editor's tool panel: 0 mask pen, 1 paint brush, 2 eraser, 3 paint bucket, 4 colour select."""
        self.page.locator(".maskEditor_toolPanelContainer").nth(index).click()
        time.sleep(0.3)

    def set_brush(self, thickness: int, colour: str | None = None) -> None:
        self.page.evaluate("""([thickness, colour]) => {
            const set = (el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));
                                     el.dispatchEvent(new Event('change', {bubbles: true})); };
            const ranges = document.querySelectorAll('#maskEditor_brushSettings input[type=range]');
            set(ranges[0], thickness);           // thickness
            set(ranges[1], 1);                   // opacity
            set(ranges[2], 1);                   // hardness
            if (colour) set(document.getElementById('maskEditor_colorPicker'), colour);
        }""", [thickness, colour])
        time.sleep(0.2)

    def dab(self, x: float, y: float) -> None:
        """A short stroke around image pixel (x, y)."""
        px, py = self.editor_point(x, y)
        self.page.mouse.move(px - 1, py)
        self.page.mouse.down()
        for dx in (0, 1, 2, 1, 0):
            self.page.mouse.move(px + dx - 1, py + dx % 2)
            time.sleep(0.03)
        self.page.mouse.up()
        time.sleep(0.15)

    def save_mask_editor(self) -> None:
        self.page.locator("#maskEditor_topBarSaveButton").click()
        self.page.wait_for_selector("#maskCanvas", state="detached", timeout=30000)
        time.sleep(2.0)


# ------------------------------------------------------------------------------------------------ checks


def check_search(p: Page, report: Report) -> None:
    p.close_dialogs()
    p.page.evaluate("() => app.graph.clear()")
    for query in SEARCHES:
        p.close_dialogs()
        box = p.page.evaluate("() => { const r = app.canvas.canvas.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }")
        p.page.mouse.dblclick(box[0] + box[2] * 0.5, box[1] + box[3] * 0.55)
        p.page.wait_for_selector("[role=option], .comfy-vue-node-search-container input", timeout=10000)
        time.sleep(0.4)
        p.page.keyboard.type(query, delay=30)
        time.sleep(1.2)
        options = p.page.evaluate("""() => Array.from(document.querySelectorAll('[role=option]'))
            .map(e => e.innerText.replace(/\\s+/g, ' ').trim()).filter(t => t)""")
        ours = [o for o in options if "ColorNet" in o]
        if query == "black and white":
            p.shot("search_black_and_white")
        report.add(f"search '{query}'", bool(ours), (ours[0] if ours else f"no ColorNet node among {options[:5]}"))
        p.page.keyboard.press("Escape")
        time.sleep(0.3)


def check_templates(p: Page, report: Report, module: str, names: list[str]) -> None:
    p.close_dialogs()
    listed = p.page.evaluate("() => app.api.getWorkflowTemplates()")
    report.add("templates listed", sorted(listed.get(module, [])) == sorted(names),
               f"{module}: {sorted(listed.get(module, []))}")
    sizes = []
    for name in names:
        url = f"{p.base}/api/workflow_templates/{urllib.parse.quote(module)}/{urllib.parse.quote(name)}.jpg"
        try:
            sizes.append(Image.open(io.BytesIO(fetch(url))).size)
        except Exception as exc:  # a missing thumbnail is the failure reported
            sizes.append(f"missing ({exc})")
    report.add("template thumbnails", all(isinstance(s, tuple) for s in sizes), f"{sizes}")
    # the browser as an artist opens it: the Templates button, the pack's entry under Custom Nodes
    try:
        p.page.locator("button", has_text="Templates").first.click()
        p.page.get_by_text(module, exact=True).first.click(timeout=10000)
        # the dialog shows the pack's cards only; the frontend fetches each picture and shows it as a blob: URL
        cards = """() => Array.from(document.querySelectorAll('.p-dialog img'))"""
        # the cards load their pictures lazily (only those in view): wait for the first row, none may be broken
        loaded = f"() => ({cards})().filter(i => i.complete && i.naturalWidth > 0).length"
        try:
            p.page.wait_for_function(f"() => ({loaded})() >= Math.min(3, ({cards})().length) && "
                                     f"({cards})().length > 0", timeout=20000)
        except Exception:  # report what the dialog holds instead
            srcs = p.page.evaluate("() => Array.from(document.querySelectorAll('.p-dialog img')).slice(0, 4)"
                                   ".map(i => (i.currentSrc || i.src || '').slice(-80))")
            raise RuntimeError(f"no template pictures among the dialog's images {srcs}") from None
        time.sleep(1.0)
        shown, total = p.page.evaluate(f"() => [({loaded})(), ({cards})().length]")
        broken = p.page.evaluate(f"() => ({cards})().filter(i => i.complete && i.naturalWidth === 0 && "
                                 f"(i.currentSrc || i.getAttribute('src') || '') !== '').map(i => i.currentSrc || i.src)")
        p.shot("templates")
        report.add("template cards show thumbnails", shown >= 3 and not broken and total == len(names),
                   f"{total} cards, {shown} pictures loaded so far (the rest load when scrolled to), broken: {broken}")
    except Exception as exc:
        p.shot("templates")
        report.add("template cards show thumbnails", False, f"could not open the template browser: {exc}")
    p.close_dialogs()


def colour_outputs(p: Page, result: dict, graph: dict) -> dict[str, float]:
    """Mean chroma of each saved / previewed picture of a run, by the title of the node that showed it."""
    chromas = {}
    for node_id, images in result["outputs"].items():
        title = graph.get(node_id, {}).get("_meta", {}).get("title", node_id)
        chromas[title] = round(chroma(view(p.base, images[0])), 1)
    return chromas


def check_examples(p: Page, report: Report, module: str, names: dict[str, str], api: dict[str, dict]) -> None:
    for slug, name in names.items():
        url = f"{p.base}/api/workflow_templates/{urllib.parse.quote(module)}/{urllib.parse.quote(name)}.json"
        workflow = json.loads(fetch(url))
        p.load_workflow(workflow)
        missing = p.missing_types()
        report.add(f"{slug}: loads", not missing, "all node types known" if not missing else f"missing {missing}")
        result = p.run()
        p.shot(f"example_{slug}")
        if not result["ok"]:
            err = result["error"] or {}
            report.add(f"{slug}: runs on the first click", False,
                       f"{err.get('node_type', '')}: {str(err.get('exception_message', err))[:300]}")
            continue
        chromas = colour_outputs(p, result, api[slug])
        saved = {k: v for k, v in chromas.items() if "Grey" not in k and "small colour" not in k}
        if slug == "colornet_mask":  # colour inside the mask (the village, bottom), none outside (the sky)
            save = next(k for k, v in api[slug].items() if v["class_type"] == "SaveImage")
            out = view(p.base, result["outputs"][save][0])
            inside, outside = chroma(out[-60:]), chroma(out[:40])
            report.add(f"{slug}: runs on the first click", inside > 4.0 and outside < 1.0,
                       f"mean chroma inside the mask {inside:.1f}, outside {outside:.1f}")
            continue
        coloured = all(v > 4.0 for v in saved.values()) if saved else "scene" in slug
        report.add(f"{slug}: runs on the first click", coloured, f"mean chroma of the outputs {chromas}")


def painted_dot_error(p: Page, result: dict, graph: dict, painted: np.ndarray) -> tuple[float, float]:
    """Mean |delta ab| between the painted colours and the hinted output at the dot centres, and the same for the
    automatic output (how far the network alone is from the painted colours)."""
    by_title = {graph[k]["_meta"]["title"]: view(p.base, v[0]) for k, v in result["outputs"].items() if k in graph}
    hinted = next(v for k, v in by_title.items() if "comparison" not in k)
    auto = next((v for k, v in by_title.items() if "comparison" in k), None)
    errors, auto_errors = [], []
    for x, y, colour in DOTS:
        want = lab(hex_rgb(colour)[None, None])[0, 0, 1:]
        patch = (slice(y - 1, y + 2), slice(x - 1, x + 2))
        errors.append(np.linalg.norm(lab(hinted[patch]).reshape(-1, 3)[:, 1:].mean(0) - want))
        if auto is not None:
            auto_errors.append(np.linalg.norm(lab(auto[patch]).reshape(-1, 3)[:, 1:].mean(0) - want))
    del painted
    return float(np.mean(errors)), float(np.mean(auto_errors)) if auto_errors else float("nan")


def paint_dots(p: Page, node_id: int, mask_too: bool) -> None:
    p.open_mask_editor(node_id)
    p.select_tool(1)  # paint brush
    for x, y, colour in DOTS:
        p.set_brush(12, colour)
        p.dab(x, y)
    if mask_too:
        p.select_tool(0)  # mask pen over the same dots
        p.set_brush(12)
        for x, y, _colour in DOTS:
            p.dab(x, y)
    p.shot("hints_mask_editor")
    p.save_mask_editor()


def check_painted_hints(p: Page, report: Report, module: str, name: str, bw_photo: Path) -> None:
    url = f"{p.base}/api/workflow_templates/{urllib.parse.quote(module)}/{urllib.parse.quote(name)}.json"
    workflow = json.loads(fetch(url))
    p.load_workflow(workflow)
    graph = api_graph(p)
    fuse = next(k for k, v in graph.items() if v["class_type"] == "ColorNetFuseColorize" and "hints" in v["inputs"])
    source = int(graph[fuse]["inputs"]["hints"][0])
    while graph[str(source)]["class_type"] != "LoadImage":  # e.g. an InvertMask in between
        source = int(next(v for v in graph[str(source)]["inputs"].values() if isinstance(v, list))[0])
    p.upload(source, bw_photo)
    paint_dots(p, source, mask_too=True)
    result = p.run()
    p.shot("hints_result")
    if not result["ok"]:
        err = result["error"] or {}
        report.add("painted hints give the painted colours", False,
                   f"run failed: {str(err.get('exception_message', err))[:300]}")
        return
    graph = api_graph(p)
    err, auto_err = painted_dot_error(p, result, graph, None)
    chromas = colour_outputs(p, result, graph)
    report.add("painted hints give the painted colours", err <= MAX_DELTA_AB,
               f"mean |delta ab| at the {len(DOTS)} painted dots {err:.1f} (limit {MAX_DELTA_AB}); automatic "
               f"result {auto_err:.1f} from them; mean chroma {chromas}")


def api_graph(p: Page) -> dict:
    """The API-format prompt the frontend would queue now (graphToPrompt)."""
    return p.page.evaluate("async () => (await app.graphToPrompt()).output")


def check_mask(p: Page, report: Report, module: str, name: str, bw_photo: Path) -> None:
    """The mask painted in the mask editor, wired to Colorize's 'mask', limits where colour goes."""
    url = f"{p.base}/api/workflow_templates/{urllib.parse.quote(module)}/{urllib.parse.quote(name)}.json"
    p.load_workflow(json.loads(fetch(url)))
    graph = api_graph(p)
    load = next(int(k) for k, v in graph.items() if v["class_type"] == "LoadImage")
    fuse = next(int(k) for k, v in graph.items() if v["class_type"] == "ColorNetFuseColorize")
    p.upload(load, bw_photo)
    p.open_mask_editor(load)
    p.select_tool(0)
    p.set_brush(60)
    for x in range(20, 170, 12):  # the left half, a broad band across the middle
        for y in (90, 130, 170):
            p.dab(x, y)
    p.shot("mask_mask_editor")
    p.save_mask_editor()
    p.page.evaluate("""([load, fuse]) => { const a = app.graph.getNodeById(load), b = app.graph.getNodeById(fuse);
        a.connect(1, b, b.findInputSlot('mask')); app.canvas.setDirty(true, true); }""", [load, fuse])
    result = p.run()
    p.shot("mask_result")
    if not result["ok"]:
        err = result["error"] or {}
        report.add("mask editor mask limits colorization", False, f"run failed: {str(err)[:300]}")
        return
    out = view(p.base, result["outputs"][str(next(k for k, v in api_graph(p).items() if v["class_type"] == "SaveImage"))][0])
    grey = np.asarray(Image.open(bw_photo).convert("RGB"))
    inside = chroma(out[110:150, 40:140])
    outside_diff = float(np.abs(out[10:60, 240:330].astype(int) - grey[10:60, 240:330].astype(int)).max())
    report.add("mask editor mask limits colorization", inside > 4.0 and outside_diff <= 2,
               f"chroma inside the painted mask {inside:.1f}; outside, max difference from the input {outside_diff:.0f}")


def check_loud_errors(p: Page, report: Report, module: str, name: str) -> None:
    """hints_mask connected to a Load Image whose mask is empty (nothing masked): the run stops with the message."""
    url = f"{p.base}/api/workflow_templates/{urllib.parse.quote(module)}/{urllib.parse.quote(name)}.json"
    p.load_workflow(json.loads(fetch(url)))
    graph = api_graph(p)
    fuse = next(int(k) for k, v in graph.items() if v["class_type"] == "ColorNetFuseColorize" and "hints" in v["inputs"])
    load = int(graph[str(fuse)]["inputs"]["hints"][0])
    p.page.evaluate("""([load, fuse]) => { const a = app.graph.getNodeById(load), b = app.graph.getNodeById(fuse);
        a.connect(1, b, b.findInputSlot('hints_mask')); }""", [load, fuse])
    result = p.run()
    time.sleep(1.0)
    p.shot("error_empty_hints_mask")
    err = result["error"] or {}
    message = str(err.get("exception_message", ""))
    report.add("empty hints mask fails loudly", not result["ok"] and "empty" in message,
               message.strip().splitlines()[0][:200] if message else "no error")


# ------------------------------------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="use a running ComfyUI server with the pack (default: start one)")
    ap.add_argument("--module", help="the pack's folder name in custom_nodes/ (with --url; default: found)")
    ap.add_argument("--comfy-mirror", help="git dir of Comfy-Org/ComfyUI (only needed on the first run)")
    ap.add_argument("--comfy-dir", help="where the harness extracts ComfyUI (setup.sh COMFY_DIR)")
    ap.add_argument("--comfy-env", help="the harness's venv (setup.sh COMFY_ENV)")
    ap.add_argument("--harness", default=str(ROOT.parent / "shared" / "tools" / "comfy"))
    ap.add_argument("--pack", help="pack folder to test instead of a copy of this checkout")
    ap.add_argument("--port", type=int, default=8232)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--shots", default="/tmp/colornet_browser")
    ap.add_argument("--only", default="search,templates,examples,hints,mask,errors")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    shots = Path(args.shots)
    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="colornet-browser-"))
    pid = None
    report = Report()
    try:
        if args.url:
            base, module = args.url.rstrip("/"), args.module
        else:
            pid, base, module = start_server(args, work)
        templates = json.loads(fetch(f"{base}/workflow_templates"))
        if module is None:
            module = next((m for m, names in templates.items() if any("Colorize" in n for n in names)), None)
        names = sorted(templates.get(module, []))
        api_dir = (Path(args.pack) if args.pack else ROOT) / "example_workflows" / "api"
        api = {p.name[: -len("_api.json")]: json.loads(p.read_text()) for p in sorted(api_dir.glob("*_api.json"))}
        by_slug = match_templates(names, api, base, module)
        bw_photo = work / "my_black_and_white_photo.png"
        Image.open(ROOT / "colornet" / "samples" / "street_village.jpg").convert("L").save(bw_photo)
        only = set(args.only.split(","))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda exc: print(f"  (page error: {exc})"))
            page.goto(base + "/")
            page.wait_for_function("window.app && window.app.graph && window.LiteGraph && app.api", timeout=120000)
            time.sleep(4)
            page.evaluate(PAGE_HOOKS)
            p = Page(page, base, shots)
            p.shot("start")
            hints_name, auto_name = by_slug.get("colornet_hints"), by_slug.get("colornet_auto_colorize")
            steps = [("search", lambda: check_search(p, report)),
                     ("templates", lambda: check_templates(p, report, module, names)),
                     ("examples", lambda: check_examples(p, report, module, by_slug, api)),
                     ("hints", lambda: check_painted_hints(p, report, module, hints_name, bw_photo)),
                     ("mask", lambda: check_mask(p, report, module, auto_name, bw_photo)),
                     ("errors", lambda: check_loud_errors(p, report, module, hints_name))]
            for name, step in steps:
                if name not in only:
                    continue
                try:
                    step()
                except Exception as exc:  # one broken step must not hide the others' results
                    p.shot(f"failed_{name}")
                    report.add(f"{name}: the browser steps", False, f"{type(exc).__name__}: {str(exc)[:300]}")
            browser.close()
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)
    (shots / "report.json").write_text(json.dumps(report.checks, indent=2))
    failed = [c["check"] for c in report.checks if not c["ok"]]
    print(f"\n{len(report.checks) - len(failed)}/{len(report.checks)} checks passed; screenshots in {shots}")
    return 1 if failed or not report.checks else 0


def match_templates(names: list[str], api: dict[str, dict], base: str, module: str) -> dict[str, str]:
    """slug (API file) -> template name (UI file), matched on the set of node ids and types."""
    out = {}
    for name in names:
        ui = json.loads(fetch(f"{base}/api/workflow_templates/{urllib.parse.quote(module)}/{urllib.parse.quote(name)}.json"))
        key = sorted((str(n["id"]), n["type"]) for n in ui["nodes"] if n["type"] != "Note")
        for slug, graph in api.items():
            if key == sorted((k, v["class_type"]) for k, v in graph.items()):
                out[slug] = name
    return out


if __name__ == "__main__":
    sys.exit(main())
