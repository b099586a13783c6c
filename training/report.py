"""Training report: loss/metric curves and an image grid (greyscale input / ColorNet's result / ground truth).

    python -m training.report runs/default                       # curves.png + grid.png from the run's validation split
    python -m training.report runs/default --images a.jpg b.jpg  # grid of chosen photos instead

Curves come from ``out_dir/log.jsonl``; the floors are drawn as dashed lines; ``hue_curves.png`` draws PSNR,
colourfulness, green recall and hue JS against samples seen and CPU-hours. The grid uses the newest checkpoint (or
``--weights``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from colornet.checkpoint import WEIGHTS_NAME, load_checkpoint
from colornet.images import load_image
from colornet.lab import lab_from_l_ab, lab_to_rgb, rgb_to_lab
from colornet.pipeline import Colorizer


def read_log(path: str | Path) -> list[dict]:
    records = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: skip it
    return records


def plot_curves(records: list[dict], out_png: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a resumed run may repeat steps: keep the last record for each (type, iter)
    train = {r["iter"]: r for r in records if r.get("type") == "train"}
    evals = {r["iter"]: r for r in records if r.get("type") == "eval"}
    t_it = sorted(train)
    e_it = sorted(evals)
    panels = [("train loss (colour + α·CE)", "loss"), ("validation PSNR (dB)", "psnr"), ("validation ab MSE", "ab_mse"),
              ("validation colorfulness", "colorfulness"), ("validation scene accuracy", "top1")]
    fig, grid = plt.subplots(2, 3, figsize=(13, 7))
    axes = grid.ravel()
    axes[-1].axis("off")
    for ax, (title, key) in zip(axes, panels):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if key == "loss":
            if t_it:
                ax.plot(t_it, [train[i]["loss"] for i in t_it], lw=0.8, label="train")
            if e_it:
                ax.plot(e_it, [evals[i]["model"].get("loss", np.nan) for i in e_it], "o-", ms=3, label="validation")
            ax.set_yscale("log")
        elif key == "top1":
            if e_it and "top1" in evals[e_it[0]]["model"]:
                ax.plot(e_it, [100 * evals[i]["model"]["top1"] for i in e_it], "o-", ms=3, label="top-1")
                ax.plot(e_it, [100 * evals[i]["model"]["top5"] for i in e_it], "s-", ms=3, label="top-5")
                ax.set_ylabel("%")
        else:
            if e_it:
                ax.plot(e_it, [evals[i]["model"][key] for i in e_it], "o-", ms=3, label="model")
                last = evals[e_it[-1]]
                for floor, style in (("greyscale", "k--"), ("mean_colour_table", "r--")):
                    if floor in last and key in last[floor]:
                        ax.axhline(last[floor][key], ls="--", color=style[0], lw=1, label=floor.replace("_", " "))
                if key == "colorfulness" and "ground_truth" in last:
                    ax.axhline(last["ground_truth"]["colorfulness"], ls=":", color="g", lw=1, label="ground truth")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


# The issue-17 rule's thresholds, drawn on the hue curves (docs/VIVID.md).
RULE_LINES = {"green_recall": 0.5, "hue_js": 0.04, "colorfulness": 30.0}


def plot_hue_curves(records: list[dict], out_png: str | Path) -> Path | None:
    """PSNR, colourfulness, green recall and hue JS against training samples seen and against CPU-hours.

    Two series where the run validates photos of other collections too (``extra_val_dir``).

    Only validation records that carry ``samples`` and ``cpu_hours`` (runs since issue 17) are drawn; returns None
    when there are none. Dotted lines: the rule's thresholds; dashed: the mean-colour floor (PSNR: floor + 1 dB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evals = {r["iter"]: r for r in records if r.get("type") == "eval" and "samples" in r and "cpu_hours" in r}
    if not evals:
        return None
    its = sorted(evals)
    panels = [("validation PSNR (dB)", "psnr"), ("colourfulness", "colorfulness"), ("green recall", "green_recall"),
              ("hue JS divergence", "hue_js")]
    fig, grid = plt.subplots(2, 4, figsize=(16, 7))
    last = evals[its[-1]]
    for row, (axis_key, axis_label) in enumerate((("samples", "training samples seen"), ("cpu_hours", "CPU-hours"))):
        xs = [evals[i][axis_key] for i in its]
        for ax, (title, key) in zip(grid[row], panels):
            ax.plot(xs, [evals[i]["model"].get(key, np.nan) for i in its], "o-", ms=3, label="validation split")
            if any("other" in evals[i] for i in its):
                ax.plot(xs, [evals[i].get("other", {}).get("model", {}).get(key, np.nan) for i in its], "s-", ms=3,
                        label="other collections")
            table = last.get("mean_colour_table", {})
            if key == "psnr" and "psnr" in table:
                ax.axhline(table["psnr"] + 1.0, ls=":", color="m", lw=1, label="rule: table floor + 1 dB")
            if key in table and key != "psnr":
                ax.axhline(table[key], ls="--", color="r", lw=1, label="mean-colour table")
            if key in RULE_LINES:
                ax.axhline(RULE_LINES[key], ls=":", color="m", lw=1, label="rule")
            if key == "colorfulness" and "ground_truth" in last:
                ax.axhline(last["ground_truth"]["colorfulness"], ls=":", color="g", lw=1, label="ground truth")
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(axis_label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def hourly_means(records: list[dict]) -> str:
    """The validation metrics averaged over each CPU-hour of training, as a markdown table: single evaluations of a
    run at a constant learning rate scatter by a few hundredths of green recall, so "still rising or flat?" is
    answered by the means of whole hours (with their standard errors) rather than by the last point."""
    evals = {r["iter"]: r for r in records if r.get("type") == "eval" and "cpu_hours" in r}
    hours: dict[int, list[dict]] = {}
    for record in evals.values():
        hours.setdefault(int(record["cpu_hours"]), []).append(record)
    columns = [("model", "psnr", "PSNR", 2), ("model", "colorfulness", "CF", 1), ("model", "green_recall", "green", 3),
               ("model", "hue_js", "hue JS", 3)]
    if any("other" in r for r in evals.values()):
        columns += [("other", key, f"other {label}", digits) for _, key, label, digits in columns]
    lines = ["| CPU-hour | evaluations | " + " | ".join(label for *_, label, _ in columns) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    for hour, group in sorted(hours.items()):
        cells = []
        for where, key, _, digits in columns:
            values = np.array([(r["model"] if where == "model" else r.get("other", {}).get("model", {})).get(key, np.nan)
                               for r in group], dtype=float)
            values = values[np.isfinite(values)]
            if not len(values):
                cells.append("-")
                continue
            mean = f"{values.mean():.{digits}f}"
            if len(values) > 1:
                mean += f" ± {values.std(ddof=1) / np.sqrt(len(values)):.{digits}f}"
            cells.append(mean)
        lines.append(f"| {hour}-{hour + 1} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grid_row(columns: Mapping[str, Colorizer | tuple[Colorizer, float | None]], rgb: torch.Tensor, side: int,
             truth: bool) -> list[torch.Tensor]:
    """``[3,H,W]`` photo -> [greyscale input, each column's result, (ground truth)], shrunk to fit ``side``.

    A column is a ``Colorizer`` (at its checkpoint's vividness) or ``(Colorizer, vividness)``. Results come from the
    product pipeline (working size, guided upsampling) on the photo at its own size, so the grid shows what a user
    gets; only then is everything shrunk for the page.
    """
    lightness = rgb_to_lab(rgb[None])[:, :1]
    grey = lab_to_rgb(lab_from_l_ab(lightness, torch.zeros_like(rgb[None, :2])))
    results = []
    for column in columns.values():
        colorizer, vividness = column if isinstance(column, tuple) else (column, None)
        results.append(colorizer.colorize_rgb(rgb[None], vividness=vividness))
    views = [grey] + results + ([rgb[None]] if truth else [])
    h, w = rgb.shape[-2:]
    scale = min(1.0, side / max(h, w))
    size = (max(8, round(h * scale)), max(8, round(w * scale)))
    stacked = torch.cat(views)
    if size != (h, w):
        stacked = torch.nn.functional.interpolate(stacked, size=size, mode="bilinear", antialias=True,
                                                  align_corners=False)
    return list(stacked.clamp(0, 1))


def grid_sheet(rows: list[list[torch.Tensor]], labels: list[str], out: str | Path, *, quality: int = 90) -> Path:
    """Rows of ``[3,h,w]`` cells in 0..1 under a line of column labels, as one picture (PNG, or JPEG by suffix).

    Each row is as tall as its tallest cell and each column as wide as its widest (no letterboxing, no crop)."""
    from PIL import Image, ImageDraw

    pad, head = 4, 18
    widths = [max(row[c].shape[-1] for row in rows) for c in range(len(labels))]
    heights = [max(cell.shape[-2] for cell in row) for row in rows]
    lefts = [pad + sum(widths[:c]) + pad * c for c in range(len(labels))]
    canvas = Image.new("RGB", (lefts[-1] + widths[-1] + pad, head + sum(h + pad for h in heights) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for left, label in zip(lefts, labels):
        draw.text((left + 4, 3), label, fill=(0, 0, 0))
    y = head + pad
    for row, h in zip(rows, heights):
        for left, width, cell in zip(lefts, widths, row):
            im = Image.fromarray((cell.permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8))
            canvas.paste(im, (left + (width - im.width) // 2, y + (h - im.height) // 2))
        y += h + pad
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    jpeg = out.suffix.lower() in (".jpg", ".jpeg")
    canvas.save(out, **({"quality": quality, "optimize": True} if jpeg else {}))
    return out


def image_grid(columns: Mapping[str, Colorizer | tuple[Colorizer, float | None]], photos: list[np.ndarray],
               out_png: str | Path, *, side: int = 160, truth: bool = True) -> Path:
    """Rows of (greyscale input | one column per colorizer | ground truth) for float RGB [H,W,3] photos, as a PNG.

    ``truth=False`` for photos that have no colour original (old black-and-white prints).
    """
    rows = [grid_row(columns, torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1), side,
                     truth) for rgb in photos]
    return grid_sheet(rows, ["greyscale input", *columns] + (["original"] if truth else []), out_png)


def _newest_weights(run: Path) -> Path:
    from .checkpoints import list_checkpoints

    if (run / "export" / WEIGHTS_NAME).is_file():
        return run / "export" / WEIGHTS_NAME
    ckpts = list_checkpoints(run)
    if not ckpts:
        raise FileNotFoundError(f"no checkpoint in {run}; pass --weights")
    return ckpts[-1] / WEIGHTS_NAME


def validation_photos(run: Path, n: int) -> list[np.ndarray]:
    """The first ``n`` validation photos of a run (same split and preprocessing as training)."""
    from .data import load_photos

    cfg = json.loads((run / "config_resolved.json").read_text())
    photos = load_photos(cfg["data_dir"], val_fraction=cfg["val_fraction"], store_side=cfg["store_side"],
                         grey_chroma=cfg["grey_chroma"], cache_path=run / "data_cache.npz" if cfg["cache_data"] else None,
                         log=lambda *a: None)
    idx = photos.indices("val")
    step = max(1, len(idx) // n)
    return [photos.images[i].astype(np.float32) / 255.0 for i in idx[::step][:n]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Curves and an image grid for a training run")
    parser.add_argument("run", help="the run's out_dir")
    parser.add_argument("--out", default=None, help="folder for the PNGs (default: the run folder)")
    parser.add_argument("--weights", action="append", default=None,
                        help="model.safetensors for the grid, or LABEL=path; repeat for one column per model "
                             "(default: the run's newest)")
    parser.add_argument("--images", nargs="*", default=None, help="photos for the grid (default: validation photos)")
    parser.add_argument("--no-truth", action="store_true", help="no 'original' column (black-and-white photos)")
    parser.add_argument("--n", type=int, default=8, help="validation photos in the grid")
    parser.add_argument("--side", type=int, default=160)
    parser.add_argument("--name", default="grid.png", help="file name of the grid")
    args = parser.parse_args(argv)
    run = Path(args.run)
    out = Path(args.out) if args.out else run
    if (run / "log.jsonl").is_file():
        records = read_log(run / "log.jsonl")
        print(f"wrote {plot_curves(records, out / 'curves.png')}")
        hues = plot_hue_curves(records, out / "hue_curves.png")
        if hues is not None:
            print(f"wrote {hues}")
            print(hourly_means(records))
    colorizers = {}
    for spec in args.weights or [str(_newest_weights(run))]:
        label, _, path = spec.rpartition("=") if "=" in spec else ("ColorNet", "", spec)
        model, _ = load_checkpoint(Path(path))
        colorizers[label] = Colorizer(model=model, device=model.device)
    photos = [load_image(p).rgb for p in args.images] if args.images else validation_photos(run, args.n)
    print(f"wrote {image_grid(colorizers, photos, out / args.name, side=args.side, truth=not args.no_truth)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
