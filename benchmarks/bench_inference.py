"""Inference benchmark: one markdown table, every row measured in its own child process in this run.

    python benchmarks/bench_inference.py                 # the full table (CPU)
    python benchmarks/bench_inference.py --quick         # 224^2 .. 1024^2 only
    python benchmarks/bench_inference.py --device cuda   # adds GPU rows (synchronised timings) when a GPU exists
    python benchmarks/bench_inference.py --ablation      # what each inference optimisation is worth

Rows: config (``default`` = the bundled checkpoint via ``colornet.weights.load_model()``, ``paper`` = the paper's
Table 1 network, random weights: only its shape matters for speed) x mode (``full``: the network on the
full-resolution photo as in the paper, tiled above ``--tile`` px; ``bounded``: the network at ``--working-size`` and
ab upsampled guided by the full-resolution L) x size. Each row reports the median wall time of ``--repeats`` runs
after one warm-up run of ``Colorizer.colorize_rgb`` (RGB float tensor in, RGB out: Lab conversions, network,
upsampling), the child's peak RSS (``VmHWM``: the model, the input and output images and all temporaries), the model
load time (checkpoint read + BN folding) and the threads torch used. Rows whose warm-up takes longer than ``--slow``
seconds are timed once more only, rows faster than 2 s five times (``n`` column).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from colornet.defaults import DEFAULT_TILE, DEFAULT_WORKING_SIZE

SIZES = [(224, 224), (512, 512), (1024, 1024), (2048, 2048), (2160, 3840), (4320, 7680)]
CONFIGS = ["default", "paper"]
MODES = ["full", "bounded"]


# ----------------------------------------------------------------------------------------------------------- child


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _photo(h: int, w: int, device):
    """A photo-like RGB test image: smooth colour gradients, an edge and mild noise (float32 in [0, 1]).

    Built channel by channel and row-block by row-block, so making it adds no temporaries to the peak RSS.
    """
    import torch

    g = torch.Generator().manual_seed(0)
    rgb = torch.empty(1, 3, h, w)
    x = torch.linspace(0, 1, w).view(1, w)
    step = max(1, (1 << 20) // w)
    for top in range(0, h, step):
        y = torch.linspace(0, 1, h)[top : top + step].view(-1, 1)
        rgb[0, 0, top : top + step] = 0.5 + 0.4 * torch.sin(6 * x + 2 * y)
        rgb[0, 1, top : top + step] = 0.5 + 0.4 * torch.cos(5 * y - 3 * x)
        rgb[0, 2, top : top + step] = (x > 0.6).float() * 0.5 + 0.25 * y
        block = rgb[:, :, top : top + step]
        block.add_(torch.rand(block.shape, generator=g), alpha=0.03).clamp_(0, 1)
    return rgb.to(device)


def _load(config: str, checkpoint: str | None, device):
    """(model, seconds): the bundled default via weights.load_model, else the given checkpoint file."""
    import torch  # noqa: F401  (imported before the timer starts)

    from colornet.checkpoint import load_checkpoint

    start = time.perf_counter()
    if checkpoint:
        model, _ = load_checkpoint(checkpoint, device=device)
    else:
        from colornet.weights import load_model

        model, _ = load_model(None, device=device)
    return model, time.perf_counter() - start


def run_row(args: argparse.Namespace) -> dict:
    import torch

    from colornet.pipeline import Colorizer

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    h, w = args.height, args.width
    model, load_s = _load(args.config, args.checkpoint, device)
    start = time.perf_counter()
    colorizer = Colorizer(
        model, device, working_size=None if args.mode == "full" else args.working_size, upsample=args.upsample,
        tile=args.tile or None, optimize=not args.no_fold,
    )
    colorizer._net()  # BN folding happens here, once per model: counted as part of loading
    load_s += time.perf_counter() - start
    rgb = _photo(h, w, device)

    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = colorizer.colorize_rgb(rgb, vividness=args.vividness)
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t
        del out
        return elapsed

    warm = once()
    repeats = 1 if warm > args.slow else (5 if warm < 2.0 else args.repeats)
    times = [once() for _ in range(repeats)]
    row = {
        "config": args.config,
        "params": sum(p.numel() for p in model.parameters()),
        "mode": args.mode,
        "size": f"{w}x{h}",
        "median_s": statistics.median(times),
        "n": repeats,
        "warmup_s": warm,
        "peak_rss_mb": _peak_rss_mb(),
        "load_s": load_s,
        "threads": torch.get_num_threads(),
        "device": args.device,
    }
    if device.type == "cuda":
        row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return row


# ---------------------------------------------------------------------------------------------------------- parent


def _child(argv: list[str], timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--row", *argv]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _checkpoints(tmp: Path, configs: list[str]) -> dict[str, str | None]:
    """Per config: None = the bundled default (load_model), else a checkpoint file written here (random weights)."""
    import torch

    from colornet.checkpoint import save_checkpoint
    from colornet.model import CONFIGS as BUILDERS
    from colornet.model import ColorNet

    paths: dict[str, str | None] = {}
    for config in configs:
        if config == "default":
            try:
                from colornet.weights import load_model

                load_model(None)
                paths[config] = None
                continue
            except Exception as err:  # no bundled checkpoint in this checkout: time a random compact one instead
                print(f"note: bundled default checkpoint unavailable ({err}); using a random compact model", file=sys.stderr)
                config_name = "compact"
        else:
            config_name = config
        torch.manual_seed(0)
        paths[config] = str(save_checkpoint(ColorNet(BUILDERS[config_name]()).eval(), tmp / config))
    return paths


def _fmt_size(size: str) -> str:
    w, h = size.split("x")
    return f"{w}²" if w == h else f"{w}×{h}"


def _table(rows: list[dict], cuda: bool) -> str:
    head = "| config | params | mode | size | median time (s) | n | peak RSS (MB) | load (s) | threads |"
    sep = "|---|---:|---|---|---:|---:|---:|---:|---:|"
    if cuda:
        head += " device | peak GPU (MB) |"
        sep += "---|---:|"
    lines = [head, sep]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['config']} | | {r['mode']} | {_fmt_size(r['size'])} | {r['error']} | | | | |")
            continue
        line = (
            f"| {r['config']} | {r['params'] / 1e6:.2f} M | {r['mode']} | {_fmt_size(r['size'])} | {r['median_s']:.3f} | "
            f"{r['n']} | {r['peak_rss_mb']:.0f} | {r['load_s']:.3f} | {r['threads']} |"
        )
        if cuda:
            line += f" {r['device']} | {r.get('peak_gpu_mb', 0):.0f} |"
        lines.append(line)
    return "\n".join(lines)


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, Python {platform.python_version()}"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", default="default")
    parser.add_argument("--mode", default="bounded")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: default,paper")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: full,bounded")
    parser.add_argument("--sizes", default=None, help="comma-separated WxH, e.g. 512x512,3840x2160")
    parser.add_argument("--quick", action="store_true", help="only 224^2, 512^2 and 1024^2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slow", type=float, default=20.0, help="rows whose warm-up exceeds this many s run once more")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: GPU rows in addition to the CPU rows")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--working-size", type=int, default=DEFAULT_WORKING_SIZE)
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="full mode: tile size (0: never tile)")
    parser.add_argument("--upsample", default="guided", choices=["guided", "bilinear"])
    parser.add_argument("--vividness", type=float, default=None,
                        help="distribution checkpoints: a vividness other than the checkpoint's default costs a "
                             "chroma-quantile pass in the decode (default: the checkpoint's own)")
    parser.add_argument("--no-fold", action="store_true", help="run the model as loaded (no BN folding)")
    parser.add_argument("--timeout", type=float, default=900.0, help="per row, seconds")
    parser.add_argument("--out", default=None, help="also write the table (markdown) to this file")
    args = parser.parse_args()

    if args.row:
        print(json.dumps(run_row(args)))
        return

    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x"))[::-1] for s in args.sizes.split(",")]
    else:
        sizes = SIZES[:3] if args.quick else SIZES
    configs, modes = args.configs.split(","), args.modes.split(",")
    devices = ["cpu"]
    if args.device == "cuda":
        import torch

        if torch.cuda.is_available():
            devices.append("cuda")
        else:
            print("note: --device cuda but no GPU here; CPU rows only", file=sys.stderr)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = _checkpoints(Path(tmp), configs)
        for device in devices:
            for config in configs:
                for mode in modes:
                    for h, w in sizes:
                        argv = [
                            "--config", config, "--mode", mode, "--height", str(h), "--width", str(w),
                            "--repeats", str(args.repeats), "--slow", str(args.slow), "--device", device,
                            "--threads", str(args.threads), "--working-size", str(args.working_size),
                            "--tile", str(args.tile), "--upsample", args.upsample,
                        ]
                        if checkpoints[config]:
                            argv += ["--checkpoint", checkpoints[config]]
                        if args.no_fold:
                            argv.append("--no-fold")
                        if args.vividness is not None and config == "default":
                            argv += ["--vividness", str(args.vividness)]
                        row = _child(argv, args.timeout)
                        row.setdefault("config", config)
                        row.setdefault("mode", mode)
                        row.setdefault("size", f"{w}x{h}")
                        rows.append(row)
                        print(f"  {config:8s} {mode:8s} {w}x{h} {device}: "
                              + (f"{row['median_s']:.3f} s, {row['peak_rss_mb']:.0f} MB" if "error" not in row else row["error"]),
                              file=sys.stderr, flush=True)
    settings = (
        f"working size {args.working_size}, tile {args.tile or 'off'}, upsample {args.upsample}, "
        f"vividness {'default' if args.vividness is None else args.vividness}, "
        f"BN folding {'off' if args.no_fold else 'on'}, {args.repeats} runs after 1 warm-up (5 for rows under 2 s, 1 for very slow rows: column n)"
    )
    text = f"Machine: {_machine()}\nSettings: {settings}\n\n{_table(rows, len(devices) > 1)}\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
