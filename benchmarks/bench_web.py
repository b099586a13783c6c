"""The in-browser colorizer (colornet web) in headless Chromium: page load to ready, time per photo, peak memory.

    python benchmarks/bench_web.py                      # WASM, 2 threads; 512², 1024x768 and 3840x2160
    python benchmarks/bench_web.py --threads 1 --sizes 512x512

Needs what the browser test needs: the system's Chromium (apt-get install chromium), ``pip install playwright``
(no browser download) and onnxruntime-web (``npm ci`` in colornet/web/static, or one ``colornet web`` run).

Each size gets a fresh browser: load the page (navigation -> the page says ready: model downloaded from the local
server, WASM compiled, sessions created), then open the same photo twice through the file input. "first" is the
time from choosing the file to the result on screen (the first run also warms up onnxruntime's kernels), "again" the
second run; the page's own split (network / full resolution) is of the second. Peak memory is the tab's renderer
process's peak resident set (VmHWM), and the sum of every Chromium process's peak (an upper bound of the total).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colornet.constants import PACKAGE_DIR  # noqa: E402
from colornet.web.assets import exported_model, ort_dist  # noqa: E402
from colornet.web.server import PageServer  # noqa: E402


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, parent in parents.items() if parent == p]
        found += kids
        frontier += kids
    return found


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _renderer_peak_mb(pids: list[int]) -> float:
    peaks = []
    for pid in pids:
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                peaks.append(_status_kb(pid, "VmHWM"))
        except OSError:
            pass
    return max(peaks, default=0) / 1024


def measure(url: str, chromium: str, photo: Path, threads: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        started = time.perf_counter()
        page.goto(f"{url}?backend=wasm&threads={threads}")
        page.wait_for_function("['ready', 'error'].includes(document.body.dataset.state)",
                               timeout=300_000, polling=250)  # polling by timer: frames may not be drawn headless
        ready = time.perf_counter() - started
        if page.get_attribute("body", "data-state") != "ready":
            raise RuntimeError(page.inner_text("#status"))
        runs = []
        for i in (1, 2):
            t0 = time.perf_counter()
            page.set_input_files("#photo", str(photo))
            page.wait_for_function(f"document.body.dataset.state === 'error' || (document.body.dataset.state === "
                                   f"'done' && Number(document.body.dataset.runs) >= {i})",
                                   timeout=600_000, polling=250)
            runs.append(time.perf_counter() - t0)
            if page.get_attribute("body", "data-state") != "done":
                raise RuntimeError(page.inner_text("#status"))
        split = page.evaluate("window.colornetApp.last.ms")
        pids = _children(os.getpid())
        renderer = _renderer_peak_mb(pids)
        every = sum(_status_kb(pid, "VmHWM") for pid in pids) / 1024
        browser.close()
    return {"ready": ready, "first": runs[0], "again": runs[1], "split": split, "renderer_mb": renderer,
            "all_mb": every}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="512x512,1024x768,3840x2160", help="WxH,... photo sizes")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime-web WASM threads")
    parser.add_argument("--weights", default=None, help="checkpoint (default: the default)")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or ort_dist() is None:
        sys.exit("needs the system Chromium (apt-get install chromium) and onnxruntime-web (npm ci in colornet/web/static)")
    model_dir = exported_model(args.weights)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, PageServer(model_dir, ort_dist()) as server:
        source = Image.open(PACKAGE_DIR / "samples" / "mountain_aitzgorri.jpg").convert("RGB")
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            photo = Path(tmp) / f"photo_{w}x{h}.png"
            source.resize((w, h), Image.BICUBIC).save(photo, compress_level=1)
            r = measure(server.url, chromium, photo, args.threads)
            rows.append((size, r))
            print(f"{size}: {r}", file=sys.stderr, flush=True)
    print(f"\nWASM, {args.threads} threads, headless Chromium, model {model_dir.name}\n")
    print("| photo | page load -> ready (s) | first result (s) | again (s) | network (ms) | full resolution (ms) "
          "| renderer peak RSS (MB) | sum of all Chromium processes peaks (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in rows:
        print(f"| {size.replace('x', '×')} | {r['ready']:.2f} | {r['first']:.2f} | {r['again']:.2f} | "
              f"{r['split']['network']} | {r['split']['full_resolution']} | {r['renderer_mb']:.0f} | {r['all_mb']:.0f} |")


if __name__ == "__main__":
    main()
