"""What each inference optimisation is worth, measured in one run (median of 5 after a warm-up; same process).

    python benchmarks/bench_ablation.py

* network only (``predict_ab_half``): the model as loaded / BN folded / BN folded + channels_last, for the default
  (compact) network at its 512 px working size and the paper network at 1024^2;
* full-resolution Lab work at 3840x2160 (luminance, ab upsampling, Lab -> RGB): the reference ``colornet.lab``
  functions in 2 MP strips (the pipeline before this change) vs the fused, cache-sized strips of ``colornet.fastlab``;
* full mode, paper network at 2048^2: one pass vs 1024 px tiles (time; memory is in bench_inference's table).
"""

from __future__ import annotations

import statistics
import time

import torch

from colornet.fastlab import Workspace, compose_into, image_strips, luminance
from colornet.fold import fold_batchnorm
from colornet.lab import lab_to_rgb, rgb_to_luminance
from colornet.model import ColorNet, compact_config, paper_config
from colornet.tiling import predict_ab_half_tiled
from colornet.upsample import ABUpsampler, upsample_ab

OLD_STRIP = 1 << 21


def median_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_lab_path(rgb: torch.Tensor, ab_half: torch.Tensor) -> torch.Tensor:
    rows = max(1, OLD_STRIP // rgb.shape[-1])
    lightness = torch.cat([rgb_to_luminance(rgb[:, :, i : i + rows]) for i in range(0, rgb.shape[-2], rows)], dim=2)
    ab = upsample_ab(ab_half, lightness, rows_per_strip=rows)
    out = torch.empty_like(rgb)
    for i in range(0, rgb.shape[-2], rows):
        out[:, :, i : i + rows] = lab_to_rgb(torch.cat((lightness[:, :, i : i + rows], ab[:, :, i : i + rows]), 1))
    return out


def fused_lab_path(rgb: torch.Tensor, ab_half: torch.Tensor) -> torch.Tensor:
    ws = Workspace(rgb.device)
    lightness = luminance(rgb)
    up = ABUpsampler(ab_half, lightness)
    out = torch.empty_like(rgb)
    for rows in image_strips(rgb):
        ab = up.strip(rows.start, rows.stop, lightness[:, :, rows], out=ws.get("ab", (1, 2, *out[:, :, rows].shape[-2:])))
        compose_into(lightness[:, :, rows], ab, out[:, :, rows], ws)
    return out


@torch.inference_mode()
def main() -> None:
    torch.manual_seed(0)
    lines = ["| what | variant | median (s) | vs first variant |", "|---|---|---:|---:|"]

    def report(what: str, variants: dict[str, float]) -> None:
        first = next(iter(variants.values()))
        for name, t in variants.items():
            lines.append(f"| {what} | {name} | {t:.3f} | {100 * (first - t) / first:+.0f}% faster |")

    for label, config, side in (("default net, 512x288", compact_config(), (288, 512)), ("paper net, 1024²", paper_config(), (1024, 1024))):
        model = ColorNet(config).eval()
        lightness = torch.rand(1, 1, *side) * 100
        prior = model.encode_global(lightness)
        variants = {
            "as loaded (BN separate)": model,
            "BN folded": fold_batchnorm(model, channels_last=False),
            "BN folded + channels_last": fold_batchnorm(model, channels_last=True),
        }
        report(label, {k: median_time(lambda m=m: m.predict_ab_half(lightness, prior)) for k, m in variants.items()})

    rgb = torch.rand(1, 3, 2160, 3840)
    ab_half = torch.randn(1, 2, 144, 256) * 20
    report("Lab + upsampling, 3840×2160", {
        "reference colornet.lab, 2 MP strips": median_time(lambda: reference_lab_path(rgb, ab_half), 3),
        "fused, 128 K-pixel strips": median_time(lambda: fused_lab_path(rgb, ab_half), 3),
    })

    model = fold_batchnorm(ColorNet(paper_config()).eval())
    lightness = torch.rand(1, 1, 2048, 2048) * 100
    prior = model.encode_global(lightness)
    report("paper net full mode, 2048²", {
        "one pass": median_time(lambda: model.predict_ab_half(lightness, prior), 2),
        "1024 px tiles": median_time(lambda: predict_ab_half_tiled(model, lightness, prior, tile=1024), 2),
    })
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
