"""The Ray Data path beside the CLI on the same photos: images/s and Ray's overhead; prints a table.

    python benchmarks/bench_ray.py               # 200 photos from the training set, local Ray with 2 CPUs
    python benchmarks/bench_ray.py --photos 40   # a quick look

Needs the ``[ray]`` extra. Both runs colorize the same files (real photos from ``/work/shared/data/train``, read in
place, never copied into the repository) to PNG with the default checkpoint, metadata and provenance as by default.
CLI: one ``python -m colornet colorize`` process (start-up, model load, the whole batch). Ray: one driver process
that starts a local Ray (``ray.init``), then ``colorize_with_ray`` with 2 actors of 1 CPU each; Ray start-up, the
dataset run (actor start-up and model load included) and the total are timed separately. "Overhead" is the Ray
total minus the CLI total. Rows run round-robin over rounds, medians reported, load average before and after.
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

DATA = Path(os.environ.get("COLORNET_BENCH_DATA", "/work/shared/data/train"))

RAY_DRIVER = r"""
import json, sys, time
t0 = time.perf_counter()
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
t1 = time.perf_counter()
from colornet.ray import colorize_with_ray
records = colorize_with_ray([sys.argv[1]], sys.argv[2], batch_size=int(sys.argv[3]), workers=2)
t2 = time.perf_counter()
print(json.dumps({"init": t1 - t0, "run": t2 - t1, "written": sum(r.status == "written" for r in records)}))
"""


def photos(n: int) -> list[Path]:
    """``n`` photos spread over the classes: the first ones of each class folder, round-robin."""
    classes = sorted(p for p in DATA.iterdir() if p.is_dir())
    per_class = [sorted(c.glob("*.jpg")) for c in classes]
    chosen: list[Path] = []
    for i in range(max(len(f) for f in per_class)):
        chosen += [f[i] for f in per_class if i < len(f)]
        if len(chosen) >= n:
            break
    return chosen[:n]


def run_cli(inputs: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "colornet", "colorize", str(inputs), "-o", str(out), "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_ray(inputs: Path, out: Path, batch: int) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RAY_DRIVER, str(inputs), str(out), str(batch)], check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["total"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16, help="inputs per Ray task")
    args = parser.parse_args()
    chosen = photos(args.photos)
    load_before = os.getloadavg()[0]
    cli_times, ray_runs = [], []
    steady: dict[str, list[float]] = {"cli": [], "ray": []}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for i, path in enumerate(chosen):  # links, not copies: the photos stay where they are
            (inputs / f"{i:03d}_{path.name}").symlink_to(path)
        for _ in range(args.rounds):
            for name in ("cli", "ray"):
                out = Path(tmp) / name
                shutil.rmtree(out, ignore_errors=True)
                if name == "cli":
                    cli_times.append(run_cli(inputs, out))
                else:
                    ray_runs.append(run_ray(inputs, out, args.batch))
                assert len(list(out.iterdir())) == len(chosen), f"{name} wrote {len(list(out.iterdir()))}"
                steady[name].append(_steady_rate(out))
    n = len(chosen)
    cli = statistics.median(cli_times)
    ray_total = statistics.median(r["total"] for r in ray_runs)
    ray_init = statistics.median(r["init"] for r in ray_runs)
    ray_run = statistics.median(r["run"] for r in ray_runs)
    print(f"{n} photos from {DATA} (JPEG, ~{_mean_size(chosen)}), PNG out, {args.rounds} round(s), "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}\n")
    cli_steady, ray_steady = statistics.median(steady["cli"]), statistics.median(steady["ray"])
    print("| path | wall s | images/s (whole run) | images/s (first to last output) | start-up s |")
    print("|---|---:|---:|---:|---:|")
    print(f"| CLI `colornet colorize` (1 process, 2 forward passes side by side) | {cli:.1f} | {n / cli:.1f} | "
          f"{cli_steady:.1f} | - |")
    print(f"| Ray Data, local, 2 actors x 1 CPU, batch {args.batch} | {ray_total:.1f} | {n / ray_total:.1f} | "
          f"{ray_steady:.1f} | {ray_init:.1f} (ray.init) |")
    print(f"| Ray Data after ray.init (dataset run, actor start and model load included) | {ray_run:.1f} | "
          f"{n / ray_run:.1f} | - | - |")
    print(f"\nRay overhead on this machine: {ray_total - cli:+.1f} s over the CLI for {n} photos "
          f"({(ray_total - cli) / n * 1000:+.0f} ms a photo); ray.init alone {ray_init:.1f} s.")


def _steady_rate(out: Path) -> float:
    """Images/s between the first and the last output written (start-up excluded), from the files' mtimes."""
    times = sorted(p.stat().st_mtime for p in out.iterdir())
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


def _mean_size(paths: list[Path]) -> str:
    from PIL import Image

    sizes = [Image.open(p).size for p in paths[:50]]
    return f"{statistics.mean(w for w, _ in sizes):.0f}x{statistics.mean(h for _, h in sizes):.0f} px"


if __name__ == "__main__":
    main()
