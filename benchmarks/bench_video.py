"""Video: flicker, quality cost, shot independence and throughput of sequence colorization.

    python benchmarks/bench_video.py                 # bundled checkpoint, 12 clips of 24 frames
    python benchmarks/bench_video.py --clips 3 --frames 16 --weights PATH

Clips are synthesised from real photos (``urban100_*``, ``sunhays_*``, ``wall_*`` in shared/data/train, ~341x256)
with a *known* camera motion: frame ``t`` shows the photo through a virtual camera that pans and zooms a little every
frame (bilinear resampling), plus fresh Gaussian sensor noise per frame (sigma 0.03 on sRGB). The colorizer sees
the noisy frames (it only uses their L); the clean frames are the ground truth.

* ``flicker``: mean |Δa*b*| (Euclidean, CIE Lab units) between consecutive output frames after compensating the
  known motion: frame t-1's ab is sampled at the point of the scene each pixel of frame t shows (pixels that were
  outside frame t-1 are left out). The ground truth's own figure (``ground truth`` row) is the floor that
  resampling alone gives.
* ``PSNR``: sRGB against the clean frames, mean over frames.
* ``two shots``: clip A then clip B in one sequence; mean ΔE (CIE76) between B's frames from that run and B
  colorized alone with the same settings, and whether the cut was found.
* cut detection: the largest histogram distance / motion-compensated mismatch between consecutive frames inside a
  clip and the smallest across a cut (last frame of one clip, first of another, every ordered pair): what
  ``CUT_THRESHOLD``, ``MISMATCH_L`` and ``MISMATCH_RELATIVE`` separate.
* throughput: 640x360 frames per second on this machine (per-frame colorization vs the sequence path).
"""

from __future__ import annotations

import argparse
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colornet.lab import rgb_to_lab
from colornet.pipeline import Colorizer, luminance
from colornet.sequence import (_MOTION_SIDE, CUT_THRESHOLD, MISMATCH_L, MISMATCH_RELATIVE, CutDetector, _thumbnail,
                               colorize_frames, cut_score, lightness_histogram, motion_mismatch, plan_shots)

PREFIXES = ("urban100_", "sunhays_", "wall_")
FRAME_W, FRAME_H = 320, 180
NOISE = 0.03


def load_photos(data: Path, count: int) -> list[tuple[str, torch.Tensor]]:
    files = sorted(p for p in data.rglob("*.jpg") if p.name.startswith(PREFIXES))
    files = [p for p in files if Image.open(p).width > Image.open(p).height]  # landscape, like video
    step = max(1, len(files) // count)
    photos = []
    for path in files[::step][:count]:
        arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        photos.append((path.name, torch.from_numpy(arr).permute(2, 0, 1)[None]))
    return photos


def camera(t: int, photo_hw: tuple[int, int], frames: int, seed: int) -> tuple[float, float, float]:
    """Centre (x, y) in photo pixels and scale (photo px per frame px) of the virtual camera at frame ``t``."""
    rng = np.random.default_rng(seed)
    h, w = photo_hw
    s0 = min((w - 12) / FRAME_W, (h - 12) / FRAME_H) * 0.92
    zoom = rng.uniform(-0.004, 0.004)  # per frame: ~ +-10 % over 24 frames
    s = s0 * (1 + zoom * t)
    travel_x = (w - FRAME_W * s0 * 1.1) / 2 * 0.9
    travel_y = (h - FRAME_H * s0 * 1.1) / 2 * 0.9
    direction = rng.uniform(0, 2 * math.pi)
    progress = (t / max(frames - 1, 1)) * 2 - 1  # -1 .. 1 over the clip
    cx = w / 2 + math.cos(direction) * travel_x * progress
    cy = h / 2 + math.sin(direction) * travel_y * progress
    return cx, cy, s


def _grid(cx: float, cy: float, s: float, photo_hw: tuple[int, int], out_hw: tuple[int, int]) -> torch.Tensor:
    """grid_sample grid (align_corners=False) of frame pixels -> photo positions."""
    h, w = photo_hw
    oh, ow = out_hw
    xs = (torch.arange(ow, dtype=torch.float64) + 0.5 - ow / 2) * s * (FRAME_W / ow) + cx
    ys = (torch.arange(oh, dtype=torch.float64) + 0.5 - oh / 2) * s * (FRAME_H / oh) + cy
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx / w * 2 - 1, gy / h * 2 - 1), -1)[None].float()


def make_clip(photo: torch.Tensor, frames: int, seed: int, out_hw=(FRAME_H, FRAME_W)) -> tuple[list, list, list]:
    """(noisy frames, clean frames, cameras)."""
    hw = tuple(photo.shape[-2:])
    gen = torch.Generator().manual_seed(seed)
    noisy, clean, cams = [], [], []
    for t in range(frames):
        cam = camera(t, hw, frames, seed)
        frame = F.grid_sample(photo, _grid(*cam, hw, out_hw), mode="bicubic", align_corners=False).clamp(0, 1)
        clean.append(frame)
        noisy.append((frame + torch.randn(frame.shape, generator=gen) * NOISE).clamp(0, 1))
        cams.append(cam)
    return noisy, clean, cams


def stream_clip(photo: torch.Tensor, frames: int, seed: int):
    """The noisy frames of ``make_clip``, generated one at a time (nothing kept)."""
    hw = tuple(photo.shape[-2:])
    gen = torch.Generator().manual_seed(seed)
    for t in range(frames):
        frame = F.grid_sample(photo, _grid(*camera(t, hw, frames, seed), hw, (FRAME_H, FRAME_W)), mode="bicubic",
                              align_corners=False).clamp(0, 1)
        yield (frame + torch.randn(frame.shape, generator=gen) * NOISE).clamp(0, 1)


def flicker(frames: list[torch.Tensor], cams: list) -> float:
    """Mean |Δab| between consecutive frames, frame t-1 sampled where each pixel of frame t is (known motion)."""
    total, count = 0.0, 0
    for t in range(1, len(frames)):
        (cx0, cy0, s0), (cx1, cy1, s1) = cams[t - 1], cams[t]
        # pixel x of frame t shows photo point cx1 + (x - W/2) s1 ; in frame t-1 that is at (p - cx0) / s0 + W/2
        xs = torch.arange(FRAME_W, dtype=torch.float64) + 0.5 - FRAME_W / 2
        ys = torch.arange(FRAME_H, dtype=torch.float64) + 0.5 - FRAME_H / 2
        px = (cx1 + xs * s1 - cx0) / s0 + FRAME_W / 2
        py = (cy1 + ys * s1 - cy0) / s0 + FRAME_H / 2
        gy, gx = torch.meshgrid(py, px, indexing="ij")
        grid = torch.stack((gx / FRAME_W * 2 - 1, gy / FRAME_H * 2 - 1), -1)[None].float()
        valid = (gx > 1) & (gx < FRAME_W - 1) & (gy > 1) & (gy < FRAME_H - 1)
        ab_prev = F.grid_sample(rgb_to_lab(frames[t - 1])[:, 1:], grid, mode="bilinear", align_corners=False)
        ab_cur = rgb_to_lab(frames[t])[:, 1:]
        diff = (ab_cur - ab_prev).pow(2).sum(1).sqrt()[0]
        total += float(diff[valid].sum())
        count += int(valid.sum())
    return total / max(count, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(1.0 / mse)


def run_method(colorizer: Colorizer, noisy: list, mode: str, smoothing: float) -> list[torch.Tensor]:
    if mode == "per_frame":
        return [colorizer.colorize_rgb(f) for f in noisy]
    return list(colorize_frames(colorizer, noisy, prior_mode=mode, temporal_smoothing=smoothing))


def mean_delta_e(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return float(np.mean([float((rgb_to_lab(x) - rgb_to_lab(y)).pow(2).sum(1).sqrt().mean()) for x, y in zip(a, b)]))


def throughput(colorizer: Colorizer, photo: torch.Tensor, frames: int, rounds: int = 3) -> tuple[float, float, float]:
    """Median frames/s over ``rounds`` alternating runs (the machine is shared: alternating spreads its load)."""
    noisy, _, _ = make_clip(photo, frames, 99, out_hw=(360, 640))
    colorizer.colorize_rgb(noisy[0])  # warm-up
    runs = {
        "per_frame": lambda: [colorizer.colorize_rgb(f) for f in noisy],
        "per_shot": lambda: list(colorize_frames(colorizer, noisy, prior_mode="per_shot", temporal_smoothing=0.0)),
        "smooth": lambda: list(colorize_frames(colorizer, noisy, prior_mode="per_shot", temporal_smoothing=0.8)),
    }
    rates: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            rates[name].append(frames / (time.perf_counter() - t0))
    return tuple(float(np.median(rates[k])) for k in runs)  # type: ignore[return-value]


def peak_rss_child(frames: int, weights: str | None, data: str) -> float:
    """Peak RSS (MB) of a fresh process that streams ``frames`` generated frames through the sequence colorizer."""
    cmd = [sys.executable, __file__, "--memory-child", str(frames), "--data", data]
    if weights:
        cmd += ["--weights", weights]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "train"))
    parser.add_argument("--weights", default=None)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--smoothing", type=float, nargs="+", default=[0.5, 0.8, 1.0])
    parser.add_argument("--throughput-frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--cuts-only", action="store_true", help="only the cut-detection table (fast: many clips)")
    parser.add_argument("--memory-frames", type=int, default=240, help="frames of the streaming memory check")
    parser.add_argument("--speed-only", action="store_true", help="only throughput and streaming memory")
    parser.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.weights, Path(args.data))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not data.is_dir():
        sys.exit(f"error: {data} is not a folder of training photos; pass --data")
    colorizer = Colorizer.from_pretrained(args.weights, device="cpu")
    if args.speed_only:
        speed_and_memory(colorizer, data, args)
        return
    photos = load_photos(data, args.clips)
    clips = [make_clip(photo, args.frames, seed) for seed, (_, photo) in enumerate(photos)]

    print(f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"Clips: {len(clips)} x {args.frames} frames of {FRAME_W}x{FRAME_H} from {', '.join(n for n, _ in photos)}; "
          f"known pan/zoom + sensor noise sigma {NOISE}\n")
    if not args.cuts_only:
        quality_tables(colorizer, clips, photos, args)
    cut_table(clips)
    if not args.cuts_only:
        speed_and_memory(colorizer, data, args)


def quality_tables(colorizer: Colorizer, clips: list, photos: list, args: argparse.Namespace) -> None:
    methods = [("per-frame colorization", "per_frame", 0.0), ("per_shot prior, no smoothing", "per_shot", 0.0)]
    methods += [(f"per_shot + smoothing {s:g}", "per_shot", s) for s in args.smoothing]
    rows = []
    gt_flicker = float(np.mean([flicker(clean, cams) for _, clean, cams in clips]))
    rows.append(("ground truth (resampling floor)", gt_flicker, float("nan"), 0.0))
    base_flicker = base_psnr = None
    for label, mode, smoothing in methods:
        t0 = time.perf_counter()
        fl, ps = [], []
        for noisy, clean, cams in clips:
            out = run_method(colorizer, noisy, mode, smoothing)
            fl.append(flicker(out, cams))
            ps.append(float(np.mean([psnr(o, c) for o, c in zip(out, clean)])))
        rows.append((label, float(np.mean(fl)), float(np.mean(ps)), time.perf_counter() - t0))
        if mode == "per_frame":
            base_flicker, base_psnr = rows[-1][1], rows[-1][2]

    print("| method | flicker mean abs(d ab) | vs per-frame | PSNR (dB) | PSNR cost (dB) | time (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, fl, ps, secs in rows:
        ratio = f"{base_flicker / fl:.1f}x lower" if base_flicker and label != "per-frame colorization" else "1x"
        cost = "" if math.isnan(ps) else f"{base_psnr - ps:+.2f}"
        print(f"| {label} | {fl:.2f} | {ratio} | {'' if math.isnan(ps) else f'{ps:.2f}'} | {cost} | {secs:.1f} |")

    # two shots: A then B, against B alone
    print("\n| two-shot clip (A then B) | cut found at | mean ΔE76 of B vs B alone | max ΔE76 (frame mean) |")
    print("|---|---:|---:|---:|")
    for i in range(min(3, len(clips) - 1)):
        a, b = clips[i][0][: args.frames // 2], clips[i + 1][0][: args.frames // 2]
        plan = plan_shots(colorizer, a + b, prior_mode="per_shot")
        together = list(colorize_frames(colorizer, a + b, prior_mode="per_shot", temporal_smoothing=0.8))[len(a):]
        alone = list(colorize_frames(colorizer, b, prior_mode="per_shot", temporal_smoothing=0.8))
        de = [mean_delta_e([x], [y]) for x, y in zip(together, alone)]
        print(f"| {photos[i][0]} -> {photos[i + 1][0]} | {list(plan.starts[1:])} (true {len(a)}) | "
              f"{np.mean(de):.3f} | {max(de):.3f} |")



def cut_table(clips: list) -> None:
    lums = [[luminance(f) for f in noisy] for noisy, _, _ in clips]
    hists = [[lightness_histogram(l)[0] for l in ls] for ls in lums]
    thumbs = [[_thumbnail(l, _MOTION_SIDE) for l in ls] for ls in lums]
    within_h = max(cut_score(h[t - 1], h[t]) for h in hists for t in range(1, len(h)))
    within_m = [motion_mismatch(th[t - 1], th[t]) for th in thumbs for t in range(1, len(th))]
    pairs = [(i, j) for i in range(len(clips)) for j in range(len(clips)) if i != j]
    across_h = [cut_score(hists[i][-1], hists[j][0]) for i, j in pairs]
    across_m = [motion_mismatch(thumbs[i][-1], thumbs[j][0]) for i, j in pairs]
    detector_found = 0
    for i, j in pairs:
        det = CutDetector()
        det(lums[i][-1])
        detector_found += det(lums[j][0])
    quiet = [m for h, m in zip(across_h, across_m) if h <= CUT_THRESHOLD]
    print(f"\nCut detection ({len(pairs)} cuts between clips, {sum(len(h) - 1 for h in hists)} frame pairs inside):")
    print("| measure | largest inside a shot | smallest across a cut | threshold |")
    print("|---|---:|---:|---:|")
    print(f"| L histogram distance | {within_h:.3f} | {min(across_h):.3f} | {CUT_THRESHOLD} |")
    if quiet:
        print(f"| motion-compensated mismatch (L), where the histogram passed | {max(m[0] for m in within_m):.2f} | "
              f"{min(m[0] for m in quiet):.2f} | {MISMATCH_L} |")
        print(f"| same, relative to contrast | {max(m[1] for m in within_m):.3f} | {min(m[1] for m in quiet):.3f} | "
              f"{MISMATCH_RELATIVE} |")
    print(f"Cuts found by CutDetector: {detector_found} of {len(pairs)}")



def speed_and_memory(colorizer: Colorizer, data: Path, args: argparse.Namespace) -> None:
    big = load_photos(data, 1)[0][1]
    big = F.interpolate(big, scale_factor=2.2, mode="bicubic", align_corners=False).clamp(0, 1)
    pf, so, sq = throughput(colorizer, big, args.throughput_frames)
    print(f"\nThroughput, 640x360 frames (working size {colorizer.working_size}, median of 3 alternating runs): "
          f"per-frame {pf:.1f} frames/s, "
          f"per_shot prior {so:.1f} frames/s (two passes), per_shot + smoothing 0.8 {sq:.1f} frames/s")
    # streaming: a generator of frames in a fresh process each; the peak RSS must not grow with the clip's length
    short, long = 20, args.memory_frames
    peaks = [peak_rss_child(n, args.weights, args.data) for n in (short, long)]
    print(f"Streaming memory (fresh process, generator of {FRAME_W}x{FRAME_H} frames, per_shot + smoothing 0.8): "
          f"peak RSS {peaks[0]:.0f} MB for {short} frames, {peaks[1]:.0f} MB for {long} frames")


def memory_child(frames: int, weights: str | None, data: Path) -> None:
    colorizer = Colorizer.from_pretrained(weights, device="cpu")
    photo = load_photos(data, 1)[0][1]
    for _ in colorize_frames(colorizer, stream_clip(photo, frames, seed=7), prior_mode="per_shot",
                             temporal_smoothing=0.8):
        pass
    print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (Linux; ru_maxrss would carry the parent's peak over fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
