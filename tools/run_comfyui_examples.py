#!/usr/bin/env python3
"""Run every API-format example workflow in a REAL ComfyUI server and build the README's image grid.

    python tools/run_comfyui_examples.py --comfy-mirror <ComfyUI git dir> [--harness ../shared/tools/comfy]
                                         [--out /tmp/colornet_comfy_out] [--grid docs/comfyui_grid.png]
                                         [--thumbnails]   # also (re)write example_workflows/<title>.jpg

Uses the project's ComfyUI harness (``setup.sh`` starts ``main.py --cpu`` with the pack in ``custom_nodes/``,
``run_workflow.py`` submits a workflow over the HTTP API). The pack is copied (the files git tracks or would track)
into a temporary ``ComfyUI-ColorNet`` folder, as a user's clone; ComfyUI itself stays in /tmp. The sample photos are
uploaded for the LoadImage nodes. Prints one exit code per workflow (0 = ran and wrote its images); exits non-zero
if any failed. The grid shows, per workflow, the greyscale input the network sees, the reference photo(s), and the
saved output (plus the scene classes as text).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "colornet" / "samples"


def copy_pack(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    pack = dest / "ComfyUI-ColorNet"
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (pack / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, pack / name)
    return pack


def _order(path: Path) -> tuple[int, str]:
    """The builder's order (simplest workflow first), then any other file by name."""
    names = ["colornet_auto_colorize", "colornet_reference_prior", "colornet_prior_mix", "colornet_scene_classify",
             "colornet_hints", "colornet_mask", "colornet_chroma_transfer",
             "colornet_video_frames"]
    name = path.name[: -len("_api.json")]
    return (names.index(name) if name in names else len(names), name)


def _main_node(graph: dict) -> str:
    """The node a workflow is about: FuseColorize, else the first of ours (e.g. ChromaTransfer)."""
    classes = [node["class_type"] for node in graph.values()]
    return "ColorNetFuseColorize" if "ColorNetFuseColorize" in classes else next(c for c in classes if c.startswith("ColorNet"))


def run_all(args) -> dict[str, dict]:
    harness = Path(args.harness).resolve()
    work = Path(tempfile.mkdtemp(prefix="colornet-comfy-"))
    pack = copy_pack(work)
    env = dict(os.environ, PACK=str(pack), PORT=str(args.port), COMFY_MIRROR=args.comfy_mirror or "")
    env.update({k: v for k, v in (("COMFY_DIR", args.comfy_dir), ("COMFY_ENV", args.comfy_env)) if v})
    setup = subprocess.run(["bash", str(harness / "setup.sh")], env=env, capture_output=True, text=True)
    sys.stderr.write(setup.stderr[-3000:])
    if setup.returncode != 0:
        raise SystemExit(f"setup.sh failed ({setup.returncode})")
    pid = int(setup.stdout.strip().splitlines()[-1])
    results = {}
    try:
        for wf in sorted((pack / "example_workflows" / "api").glob("*_api.json"), key=_order):
            name = wf.name[: -len("_api.json")]
            graph = json.loads(wf.read_text())
            cmd = [sys.executable, str(harness / "run_workflow.py"), str(wf), "--server", f"http://127.0.0.1:{args.port}",
                   "--expect-node", _main_node(graph), "--expect-images", "1", "--timeout", "600",
                   "--out-dir", str(Path(args.out) / name), "--json"]
            inputs = {}
            for nid, node in graph.items():
                if node["class_type"] == "LoadImage":
                    image = node["inputs"]["image"]
                    cmd += ["--upload", str(SAMPLES / image), "--set", f"{nid}.image={image}"]
                    inputs[nid] = image
            proc = subprocess.run(cmd, capture_output=True, text=True)
            history = {}
            if "\n{" in proc.stdout:  # --json: the /history entry, followed by the RESULT line
                try:
                    history = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])[0]
                except ValueError:
                    history = {}
            results[name] = {"rc": proc.returncode, "inputs": inputs, "history": history, "graph": graph}
            print(f"{name}: exit {proc.returncode}", flush=True)
            if proc.returncode != 0:  # the harness's own summary, without the --json dump
                summary = proc.stdout.split("\n{", 1)[0] if "\n{" in proc.stdout else proc.stdout
                print(summary[-3000:], proc.stderr[-1500:])
    finally:
        os.kill(pid, signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)  # the copied pack; ComfyUI's link to it is dropped on the next setup
    return results


def build_grid(results: dict[str, dict], out_dir: Path, grid_path: Path, cell: int = 256, cell_h: int = 176) -> None:
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 15)
        small = ImageFont.truetype("DejaVuSans.ttf", 13)
    except OSError:
        font = small = ImageFont.load_default()

    def thumb(img: Image.Image) -> Image.Image:
        img = img.copy()
        img.thumbnail((cell, cell_h))
        canvas = Image.new("RGB", (cell, cell_h), "white")
        canvas.paste(img, ((cell - img.width) // 2, (cell_h - img.height) // 2))
        return canvas

    rows = []
    for name, res in results.items():
        graph, cells = res["graph"], []
        loads = [nid for nid, n in graph.items() if n["class_type"] == "LoadImage"]
        for i, nid in enumerate(loads):
            img = Image.open(SAMPLES / res["inputs"][nid])
            if i == 0:
                grey = img.convert("L").convert("RGB")
                cells.append((thumb(grey), "input (greyscale)"))
            elif img.mode == "RGBA":  # a hint layer: shown painted over the photo it is drawn for
                painted = grey.resize(img.size)
                painted.paste(img, (0, 0), img)
                cells.append((thumb(painted), graph[nid]["_meta"]["title"].lower()))
            else:
                cells.append((thumb(img.convert("RGB")), graph[nid]["_meta"]["title"].lower()))
        saved = sorted(p for p in (out_dir / name).glob("*.png") if "_temp_" not in p.name)
        for p in saved:
            cells.append((thumb(Image.open(p).convert("RGB")), "ColorNet output"))
        texts = [o["text"][0] for o in (res["history"].get("outputs") or {}).values() if o.get("text")]
        if texts:
            panel = Image.new("RGB", (cell, cell_h), (245, 245, 245))
            draw = ImageDraw.Draw(panel)
            draw.multiline_text((10, 10), max(texts, key=len), fill="black", font=small, spacing=6)
            cells.append((panel, "SceneClassify"))
        rows.append((name.replace("colornet_", "").replace("_", " "), cells))
    cols = max(len(c) for _, c in rows)
    label_h, title_w = 24, 150
    grid = Image.new("RGB", (title_w + cols * (cell + 8), len(rows) * (cell_h + label_h + 8) + 8), "white")
    draw = ImageDraw.Draw(grid)
    for r, (title, cells) in enumerate(rows):
        y = 8 + r * (cell_h + label_h + 8)
        draw.multiline_text((8, y + cell_h // 2 - 10), title.replace(" ", "\n", 1), fill="black", font=font)
        for c, (img, label) in enumerate(cells):
            x = title_w + c * (cell + 8)
            grid.paste(img, (x, y))
            draw.text((x + 4, y + cell_h + 4), label, fill="black", font=small)
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    # 256-colour palette: a third of the size of an RGB PNG, and the difference is hard to see at this size
    grid.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        grid_path, optimize=True)
    print(f"grid: {grid_path} ({grid.width}x{grid.height})")


THUMB_SIZE = (320, 240)  # the template browser shows cards of about this size


def write_thumbnails(results: dict[str, dict], out_dir: Path) -> None:
    """Each example's template-card picture, rendered by the pack's own nodes in the real ComfyUI run: the left
    half of its first input as the network sees it (black and white, or as painted), the right half of what the
    workflow saved, a thin white line between; a small JPEG ``example_workflows/<title>.jpg``."""
    from PIL import Image, ImageDraw

    sys.path.insert(0, str(ROOT / "tools"))
    import build_example_workflows as builder

    for name, res in results.items():
        saved = sorted(p for p in (out_dir / name).glob("*.png") if "_temp_" not in p.name)
        if res["rc"] != 0 or not saved or name not in builder.WORKFLOWS:
            continue
        first = next(nid for nid, n in res["graph"].items() if n["class_type"] == "LoadImage")
        source = Image.open(SAMPLES / res["inputs"][first]).convert("L").convert("RGB")
        if "painted" in res["inputs"][first]:
            source = Image.open(SAMPLES / res["inputs"][first]).convert("RGB")
        after = Image.open(saved[0]).convert("RGB")
        card = Image.new("RGB", THUMB_SIZE, "white")
        for i, img in enumerate((source, after)):
            img = img.copy()
            scale = max(THUMB_SIZE[0] / img.width, THUMB_SIZE[1] / img.height)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
            x0, y0 = (img.width - THUMB_SIZE[0]) // 2, (img.height - THUMB_SIZE[1]) // 2
            img = img.crop((x0, y0, x0 + THUMB_SIZE[0], y0 + THUMB_SIZE[1]))
            half = THUMB_SIZE[0] // 2
            card.paste(img.crop((i * half, 0, (i + 1) * half, THUMB_SIZE[1])), (i * half, 0))
        ImageDraw.Draw(card).line([(THUMB_SIZE[0] // 2, 0), (THUMB_SIZE[0] // 2, THUMB_SIZE[1])], fill="white", width=2)
        path = builder.thumbnail_path(name)
        card.save(path, quality=82, optimize=True)
        print(f"thumbnail: {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfy-mirror", help="git dir of Comfy-Org/ComfyUI (only needed on the first run)")
    ap.add_argument("--harness", default=str(ROOT.parent / "shared" / "tools" / "comfy"))
    ap.add_argument("--out", default="/tmp/colornet_comfy_out")
    ap.add_argument("--grid", default=str(ROOT / "docs" / "comfyui_grid.png"))
    ap.add_argument("--port", type=int, default=8199)
    ap.add_argument("--thumbnails", action="store_true", help="write example_workflows/<title>.jpg")
    ap.add_argument("--comfy-dir", help="setup.sh COMFY_DIR")
    ap.add_argument("--comfy-env", help="setup.sh COMFY_ENV")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    results = run_all(args)
    if args.grid:
        build_grid(results, Path(args.out), Path(args.grid))
    if args.thumbnails:
        write_thumbnails(results, Path(args.out))
    failed = [n for n, r in results.items() if r["rc"] != 0]
    if failed:
        raise SystemExit(f"failed in ComfyUI: {failed}")


if __name__ == "__main__":
    main()
