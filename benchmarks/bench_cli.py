"""End-to-end CLI benchmark: whole processes, side by side with a peer pipeline in the same run; prints tables.

    python benchmarks/bench_cli.py                  # 3 rounds, all rows (several minutes on 2 cores)
    python benchmarks/bench_cli.py --repeats 1 --batch 20   # a quick look

What a user waits for is the whole command: start-up, model load, decode, network, encode, write. Each measurement is
one fresh process (``python -m colornet colorize``); its wall time and its own peak RSS (``wait4``) are recorded.
Rows run round-robin (every pipeline once per round), so background load hits them alike; medians over rounds are
reported, with the load average before and after (this machine is shared: compare rows within one run, not across).

Targets (issue 14): 3840x2160 PNG -> PNG marginal cost (4K minus 512^2 whole-process time) <= 1.0 s; 100 greyscale
512^2 PNGs >= 12 images/s; peak memory of that batch <= 1 GB. The second table times the model in-process: load,
BN folding, a cold first call and a warm one, with and without the CLI's warm-up pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("COLORNET_BENCH_DATA", "/work/shared/data/train"))


def _photos(n: int) -> list[Path]:
    return sorted(DATA.glob("*/*.jpg"))[: n * 3 : 3] if DATA.is_dir() else []


def make_inputs(root: Path, batch: int) -> dict[str, list[Path]]:
    """4K and 512^2 colour PNGs from one real photo (or a synthetic one), and ``batch`` greyscale 512^2 PNGs."""
    import numpy as np
    from PIL import Image

    photos = _photos(batch)

    def picture(i: int) -> Image.Image:
        if photos:
            return Image.open(photos[i % len(photos)]).convert("RGB")
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:256, 0:256] / 256.0
        arr = np.stack([np.sin(6 * xx + i), np.cos(5 * yy - i), xx * yy], -1) * 0.4 + 0.5
        return Image.fromarray((np.clip(arr + rng.normal(0, 0.03, arr.shape), 0, 1) * 255).astype(np.uint8))

    for name in ("one", "grey"):
        (root / name).mkdir(parents=True, exist_ok=True)
    base = picture(0)
    base.resize((3840, 2160), Image.LANCZOS).save(root / "one" / "uhd.png")
    base.resize((512, 512), Image.LANCZOS).save(root / "one" / "small.png")
    for i in range(batch):
        picture(i).convert("L").resize((512, 512), Image.BICUBIC).save(root / "grey" / f"g{i:03d}.png")
    return {
        "4k": [root / "one" / "uhd.png"],
        "512": [root / "one" / "small.png"],
        "batch": sorted((root / "grey").glob("*.png")),
    }


def pipelines(python: str, baseline: Path | None = None) -> dict[str, tuple[callable, Path]]:
    """name -> (function(inputs, out_dir) -> argv of one whole process, working folder it runs in)."""
    ours = [python, "-m", "colornet", "colorize", "-q"]
    runs = {
        "colornet (png level 1, default)": (lambda files, out: [*ours, *map(str, files), "-o", str(out)], HERE.parent),
        "colornet --png-compression 6": (
            lambda files, out: [*ours, *map(str, files), "-o", str(out), "--png-compression", "6"], HERE.parent
        ),
        "peer: ECCV16-style (skimage Lab, Pillow PNG)": (
            lambda files, out: [python, str(HERE / "peer_eccv16.py"), str(out), *map(str, files)], HERE.parent
        ),
    }
    if baseline is not None:  # an earlier colornet, run from its own folder (the current folder wins on sys.path)
        runs[f"colornet before the pipeline ({baseline.name})"] = (
            lambda files, out: [*ours, *map(str, files), "-o", str(out)], baseline
        )
    return runs


def export_revision(rev: str, dest: Path) -> Path:
    """``git archive`` of the ``colornet`` package at ``rev`` into ``dest/rev``."""
    folder = dest / rev
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", rev, "colornet"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_process(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system), peak RSS MB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace").strip().splitlines()[-1:] if proc.stderr else []
        raise RuntimeError(f"{argv[:4]} failed: {err}")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def model_timings(repeats: int = 3) -> dict[str, float]:
    """Medians over ``repeats`` fresh processes of :func:`model_timings_once`."""
    runs = [model_timings_once() for _ in range(repeats)]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def model_timings_once() -> dict[str, float]:
    """In-process: load, fold, cold first call at 512^2, first call after the CLI's 64^2 warm-up, warm calls."""
    code = r"""
import json, time
t = time.perf_counter(); import torch; from colornet.pipeline import Colorizer; imp = time.perf_counter() - t
from colornet.batchrun import warm_up
def timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t
rgb = torch.rand(1, 3, 512, 512)
res = {"import torch + colornet": imp}
c = None
def load():  # read + verify the checkpoint, build the model
    global c; c = Colorizer.from_pretrained(None, device="cpu")
res["load"] = timed(load)
res["fold"] = timed(c._net)
res["cold first call"] = timed(lambda: c.colorize_rgb(rgb))
res["warm call"] = sorted(timed(lambda: c.colorize_rgb(rgb)) for _ in range(5))[2]
c2 = Colorizer(c.model, c.device)
res["warm-up pass (64x64, overlaps the first decode)"] = timed(lambda: warm_up(c2))
res["first call after warm-up"] = timed(lambda: c2.colorize_rgb(rgb))
print(json.dumps(res))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=HERE.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rounds (each pipeline once per round); medians")
    parser.add_argument("--batch", type=int, default=100, help="greyscale 512^2 images in the batch row")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer pipeline (it is slow)")
    parser.add_argument("--baseline", default=None, help="also time the colornet package of this git revision")
    parser.add_argument("--out", default=None, help="also write the tables (markdown) to this file")
    args = parser.parse_args()

    load_before = os.getloadavg()
    rows: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        root = Path(tmp)
        inputs = make_inputs(root / "in", args.batch)
        baseline = export_revision(args.baseline, root) if args.baseline else None
        runs = pipelines(sys.executable, baseline)
        if args.no_peer:
            runs = {k: v for k, v in runs.items() if not k.startswith("peer")}
        for rnd in range(args.repeats):
            for name, (argv_for, cwd) in runs.items():
                rec = rows.setdefault(name, {})
                for case in ("512", "4k", "batch"):
                    out = root / "out" / f"{abs(hash(name))}-{case}"
                    shutil.rmtree(out, ignore_errors=True)
                    wall, cpu, rss = run_process(argv_for(inputs[case], out), cwd)
                    rec.setdefault(case, []).append(wall)
                    rec.setdefault(case + " cpu", []).append(cpu)
                    rec.setdefault(case + " rss", []).append(rss)
                    if case == "4k":
                        sizes[name] = sum(p.stat().st_size for p in out.glob("*.png")) / 1e6
                    print(f"  round {rnd + 1}: {name[:46]:46s} {case:5s} {wall:7.2f} s {cpu:7.2f} s CPU {rss:6.0f} MB", file=sys.stderr)
        timings = model_timings(max(3, args.repeats))
    load_after = os.getloadavg()

    med = statistics.median
    lines = [
        f"Machine: {os.cpu_count()} logical CPUs; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"(other jobs share the machine: compare rows of one run). Medians of {args.repeats} round(s), whole processes.",
        "",
        f"| pipeline | 512² (s) | 3840×2160 (s) | 4K marginal (s) | 4K marginal CPU (s) | 4K PNG (MB) "
        f"| {args.batch} grey 512² (s) | images/s | batch CPU (s) | batch peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rec in rows.items():
        small, big, batch = med(rec["512"]), med(rec["4k"]), med(rec["batch"])
        cpu_marginal = med(rec["4k cpu"]) - med(rec["512 cpu"])
        lines.append(
            f"| {name} | {small:.2f} | {big:.2f} | {big - small:.2f} | {cpu_marginal:.2f} | {sizes.get(name, 0):.2f} "
            f"| {batch:.2f} | {args.batch / batch:.1f} | {med(rec['batch cpu']):.1f} | {max(rec['batch rss']):.0f} |"
        )
    lines += ["", "Targets: 4K marginal <= 1.0 s; >= 12 images/s; batch peak RSS <= 1024 MB. CPU columns: user + "
              "system seconds of the process (less sensitive to other jobs than wall time; 2 threads can use 2 s "
              "of CPU per wall second).", "",
              "Model start-up, in process (default checkpoint, CPU, 512² input; medians of fresh processes):", "",
              "| step | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in timings.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
