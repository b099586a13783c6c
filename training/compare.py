"""Compare checkpoints on the validation split through the product pipeline, over each one's colour knob.

    python -m training.compare --data_dir ../shared/data/train --cache runs/default/data_cache.npz \
        R=runs/abl-R/export/model.safetensors D=runs/abl-D/export/model.safetensors --out docs/vivid

Every photo of the validation split (the same path-hash split as training) is colorized whole by ``Colorizer`` (the
working size and guided upsampling users get), for each checkpoint and each setting of its knob: ``strength`` for
regression checkpoints, ``vividness`` for colour-distribution ones. Printed (and written as ``<out>.json``/``.md``):
PSNR, ab MSE, colourfulness, green recall, hue JS and warm share (pooled over pixels at 128 px wide,
``training.metrics.HueStats``), top-1/top-5, plus the greyscale and mean-colour floors on the same photos, inference
time at 512^2 and 3840x2160, and a PSNR-against-colourfulness plot (``<out>.png``) with one curve per checkpoint.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from colornet.checkpoint import load_checkpoint
from colornet.lab import rgb_to_lab
from colornet.pipeline import Colorizer

from .data import load_photos
from .floors import MeanColourTable
from .metrics import HueStats, ab_mse, colorfulness, psnr, to_metric_width, topk_correct

STRENGTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
VIVIDNESS = (0.0, 0.25, 0.5, 0.62, 0.75, 0.9, 1.0)


def validation_sample(indices: list[int], max_photos: int, *, rest_of: int = 0) -> list[int]:
    """``max_photos`` of the validation photos, evenly spread (0: all); or, with ``rest_of=N``, every photo that
    ``max_photos=N`` leaves out. A choice made by comparing on the first sample is confirmed on the second, which no
    comparison has seen."""
    if rest_of:
        taken = set(validation_sample(indices, rest_of))
        return [i for i in indices if i not in taken]
    if not max_photos:
        return list(indices)
    return list(indices[:: max(1, len(indices) // max_photos)][:max_photos])


def knob_settings(colorizer: Colorizer, only: list[float] | None = None) -> list[dict[str, float]]:
    """The knob sweep of a checkpoint: vividness for distribution heads, strength for regression ones."""
    if colorizer.model.has_distribution_head:
        return [{"vividness": v} for v in (only or VIVIDNESS)]
    return [{"strength": s} for s in (only or STRENGTHS)]


def _metrics(rgb_pred: torch.Tensor, rgb_true: torch.Tensor) -> dict[str, float]:
    lab_pred, lab_true = rgb_to_lab(rgb_pred), rgb_to_lab(rgb_true)
    return {"psnr": float(psnr(rgb_pred, rgb_true)[0]), "ab_mse": float(ab_mse(lab_pred[:, 1:], lab_true[:, 1:])[0]),
            "colorfulness": float(colorfulness(rgb_pred)[0])}


def _metric_ab(rgb: torch.Tensor) -> torch.Tensor:
    """a*b* of ``[1,3,H,W]`` RGB brought to the hue metrics' width first (as the issue measured: RGB at 128 px)."""
    return rgb_to_lab(to_metric_width(rgb).clamp(0, 1))[:, 1:]


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@torch.inference_mode()
def evaluate_checkpoint(colorizer: Colorizer, photos: list[torch.Tensor], labels: list[int],
                        class_names: list[str], knobs: list[float] | None = None) -> list[dict]:
    """One row per knob setting: mean metrics over ``photos`` (each ``[1,3,H,W]`` in [0, 1]).

    Top-k is reported only for a checkpoint trained on the same classes as ``class_names`` (the data's).
    """
    rows = []
    settings = knob_settings(colorizer, knobs)
    per_setting: list[list[dict[str, float]]] = [[] for _ in settings]
    hues = [HueStats() for _ in settings]
    top1 = top5 = 0
    same_classes = bool(class_names) and colorizer.class_names == list(class_names)
    for rgb, label in zip(photos, labels):
        prior = colorizer.prior_from_rgb(rgb)
        if same_classes and label >= 0:
            y = torch.tensor([label])
            top1 += int(topk_correct(prior.logits, y, 1)[0])
            top5 += int(topk_correct(prior.logits, y, 5)[0])
        truth_ab = _metric_ab(rgb)
        for i, knob in enumerate(settings):
            out = colorizer.colorize_rgb(rgb, prior, **knob)
            per_setting[i].append(_metrics(out, rgb))
            hues[i].update(_metric_ab(out), truth_ab)
    for knob, metrics, hue in zip(settings, per_setting, hues):
        row = {**knob, **_mean(metrics), **{k: v for k, v in hue.result().items() if not k.endswith("_true")}}
        if same_classes:
            row["top1"], row["top5"] = top1 / len(photos), top5 / len(photos)
        rows.append(row)
    return rows


def floors(photos: list[torch.Tensor], table: MeanColourTable) -> dict[str, dict[str, float]]:
    from colornet.lab import lab_from_l_ab, lab_to_rgb

    grey, mean_colour, truth = [], [], []
    table_hues = HueStats()
    for rgb in photos:
        lightness = rgb_to_lab(rgb)[:, :1]
        grey.append(_metrics(lab_to_rgb(lab_from_l_ab(lightness, torch.zeros_like(rgb[:, :2]))), rgb))
        table_rgb = lab_to_rgb(lab_from_l_ab(lightness, table.predict(lightness)))
        mean_colour.append(_metrics(table_rgb, rgb))
        table_hues.update(_metric_ab(table_rgb), _metric_ab(rgb))
        truth.append({"colorfulness": float(colorfulness(rgb)[0])})
    hues = table_hues.result()
    result = {"greyscale": _mean(grey), "mean_colour_table": _mean(mean_colour), "ground_truth": _mean(truth)}
    result["mean_colour_table"].update({k: v for k, v in hues.items() if not k.endswith("_true")})
    result["ground_truth"].update(warm_share=hues["warm_share_true"], green_share=hues["green_share_true"])
    return result


def inference_seconds(colorizer: Colorizer, size: tuple[int, int], repeats: int = 3) -> float:
    rgb = torch.rand(1, 3, *size)
    colorizer.colorize_rgb(rgb)  # warm-up (BN folding, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        colorizer.colorize_rgb(rgb)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def training_speed(weights: Path) -> float | None:
    """Mean training images/s from the run's log.jsonl next to ``export/`` (None if not found)."""
    log = weights.parent.parent / "log.jsonl"
    if not log.is_file():
        return None
    speeds = [r["images_per_s"] for r in map(json.loads, log.read_text().splitlines()) if r.get("type") == "train"]
    return float(np.mean(speeds)) if speeds else None


def plot(results: dict, floor: dict, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for name, entry in results.items():
        rows = entry["rows"]
        knob = "vividness" if "vividness" in rows[0] else "strength"
        ax.plot([r["colorfulness"] for r in rows], [r["psnr"] for r in rows], "o-", label=f"{name} (over {knob})")
        for r in rows:
            ax.annotate(f"{r[knob]:g}", (r["colorfulness"], r["psnr"]), fontsize=6, alpha=0.7)
    bar = floor["mean_colour_table"]["psnr"] + 1.0
    ax.axhline(bar, ls="--", c="grey", lw=0.8, label="mean-colour floor + 1 dB")
    ax.axvline(30, ls=":", c="grey", lw=0.8, label="colourfulness 30")
    ax.axvline(floor["ground_truth"]["colorfulness"], ls="-.", c="k", lw=0.6, label="ground truth colourfulness")
    ax.set_xlabel("colourfulness (Hasler & Süsstrunk)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)


def markdown(results: dict, floor: dict) -> str:
    lines = ["| checkpoint | knob | PSNR dB | ab MSE | colourfulness | green recall | hue JS | warm share | top-1 | top-5 "
             "| train img/s | 512² s | 3840×2160 s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def hue_cells(m: dict) -> str:
        return " | ".join(f"{m[k]:.3f}" if k in m else "–" for k in ("green_recall", "hue_js", "warm_share"))

    for name, entry in results.items():
        for r in entry["rows"]:
            knob = f"vividness {r['vividness']:g}" if "vividness" in r else f"strength {r['strength']:g}"
            t1 = f"{100 * r['top1']:.1f} %" if "top1" in r else "–"
            t5 = f"{100 * r['top5']:.1f} %" if "top5" in r else "–"
            speed = f"{entry['train_images_per_s']:.0f}" if entry.get("train_images_per_s") else "–"
            lines.append(f"| {name} | {knob} | {r['psnr']:.2f} | {r['ab_mse']:.1f} | {r['colorfulness']:.2f} | "
                         f"{hue_cells(r)} | {t1} | {t5} | {speed} | {entry['seconds_512']:.3f} | "
                         f"{entry['seconds_4k']:.3f} |")
    for key, label in (("greyscale", "greyscale floor"), ("mean_colour_table", "mean-colour floor")):
        m = floor[key]
        lines.append(f"| {label} | – | {m['psnr']:.2f} | {m['ab_mse']:.1f} | {m['colorfulness']:.2f} | "
                     f"{hue_cells(m)} | – | – | – | – | – |")
    truth = floor["ground_truth"]
    warm = f", warm share {truth['warm_share']:.3f}" if "warm_share" in truth else ""
    lines.append(f"\nGround truth: colourfulness {truth['colorfulness']:.2f}{warm}")
    return "\n".join(lines)


RULE = {"green_recall": 0.5, "hue_js": 0.04, "margin_db": 1.0, "colorfulness": 30.0}


def _knob(r: dict) -> str:
    return f"vividness {r['vividness']:g}" if "vividness" in r else f"strength {r['strength']:g}"


def shortfalls(r: dict, bar: float) -> dict[str, float]:
    """How far a row misses each threshold of the rule (0 = met), in the metric's own units."""
    return {"green_recall": max(0.0, RULE["green_recall"] - r.get("green_recall", 0.0)),
            "hue_js": max(0.0, r.get("hue_js", 1.0) - RULE["hue_js"]),
            "psnr": max(0.0, bar - r["psnr"]), "colorfulness": max(0.0, RULE["colorfulness"] - r["colorfulness"])}


def distance(short: dict[str, float]) -> float:
    """One number for "closest": each shortfall relative to its threshold's scale (0.5, 0.04, 1 dB, 30), summed."""
    return (short["green_recall"] / RULE["green_recall"] + short["hue_js"] / RULE["hue_js"] + short["psnr"] / 1.0
            + short["colorfulness"] / RULE["colorfulness"])


def default_row(entry: dict) -> dict:
    """The row of a checkpoint at its own default knob setting (vividness from its config; strength 1)."""
    rows = entry["rows"]
    if "vividness" in rows[0]:
        want = entry.get("default_vividness", 0.62)
        return min(rows, key=lambda r: abs(r["vividness"] - want))
    return min(rows, key=lambda r: abs(r["strength"] - 1.0))


def select(results: dict, floor: dict, reference: str | None = None) -> str:
    """The selection rule of docs/VIVID.md (issue 17), applied to every (checkpoint, knob setting) row.

    Eligible: green recall >= 0.5, hue JS <= 0.04, PSNR >= mean-colour floor + 1 dB and colourfulness >= 30; the
    highest PSNR wins. If none is eligible, the closest (``distance``) ships only if, against ``reference`` at its
    own default setting, it improves green recall and hue JS without losing PSNR; the report says by how much it
    misses each threshold.
    """
    bar = floor["mean_colour_table"]["psnr"] + RULE["margin_db"]
    rows = [(name, r, shortfalls(r, bar)) for name, entry in results.items() for r in entry["rows"]]
    lines = [f"rule: green recall >= {RULE['green_recall']:g}, hue JS <= {RULE['hue_js']:g}, PSNR >= {bar:.2f} dB "
             f"(mean-colour floor {floor['mean_colour_table']['psnr']:.2f} + {RULE['margin_db']:g}), colourfulness "
             f">= {RULE['colorfulness']:g}"]
    eligible = [row for row in rows if not any(row[2].values())]
    if eligible:
        name, r, _ = max(eligible, key=lambda row: row[1]["psnr"])
        lines.append(f"selected: {name} at {_knob(r)} (PSNR {r['psnr']:.2f} dB, colourfulness "
                     f"{r['colorfulness']:.2f}, green recall {r['green_recall']:.3f}, hue JS {r['hue_js']:.3f}); "
                     f"{len(eligible)} eligible")
        return "\n".join(lines)
    candidates = [row for row in rows if row[0] != reference] or rows
    name, r, short = min(candidates, key=lambda row: distance(row[2]))
    lines.append(f"none eligible; closest: {name} at {_knob(r)}: misses green recall by {short['green_recall']:.3f}, "
                 f"hue JS by {short['hue_js']:.3f}, PSNR by {short['psnr']:.2f} dB, colourfulness by "
                 f"{short['colorfulness']:.2f}")
    if reference and reference in results and name != reference:
        ref = default_row(results[reference])
        better = (r["green_recall"] > ref["green_recall"] and r["hue_js"] < ref["hue_js"] and r["psnr"] >= ref["psnr"])
        lines.append(f"against {reference} at {_knob(ref)} (green {ref['green_recall']:.3f}, hue JS "
                     f"{ref['hue_js']:.3f}, PSNR {ref['psnr']:.2f}): green {r['green_recall'] - ref['green_recall']:+.3f}, "
                     f"hue JS {r['hue_js'] - ref['hue_js']:+.3f}, PSNR {r['psnr'] - ref['psnr']:+.2f} dB -> "
                     + ("ships (improves both hue metrics without losing PSNR)" if better else
                        "does not ship (the bundled default stays)"))
    return "\n".join(lines)


def curve_above(results: dict, reference: str) -> str:
    """For each checkpoint: at how many of its knob settings it beats ``reference``'s PSNR at equal colourfulness.

    The reference curve (PSNR over colourfulness along its knob) is interpolated linearly; settings whose
    colourfulness lies outside the reference's range are not compared.
    """
    ref = sorted((r["colorfulness"], r["psnr"]) for r in results[reference]["rows"])
    xs, ys = [c for c, _ in ref], [p for _, p in ref]
    lines = [f"equal colourfulness, against {reference} (over {xs[0]:.1f}..{xs[-1]:.1f}):"]
    for name, entry in results.items():
        if name == reference:
            continue
        deltas = [r["psnr"] - float(np.interp(r["colorfulness"], xs, ys)) for r in entry["rows"]
                  if xs[0] <= r["colorfulness"] <= xs[-1]]
        if deltas:
            lines.append(f"  {name}: above at {sum(d > 0 for d in deltas)}/{len(deltas)} settings, PSNR difference "
                         f"{min(deltas):+.2f}..{max(deltas):+.2f} dB")
    return "\n".join(lines)


def other_photos(folder: Path, limit: int = 0, store_side: int = 144) -> tuple[list[torch.Tensor], list[int]]:
    """Every colour photo in ``folder`` (sorted; greyscale ones skipped), decoded and shrunk exactly like training
    photos (``decode_photo``), with no scene label (-1)."""
    from colornet.images import is_image_file

    from .data import SkipPhoto, decode_photo

    photos = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p)):
        try:
            rgb = decode_photo(path, store_side, grey_chroma=3.0)
        except SkipPhoto:
            continue
        photos.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0)
        if limit and len(photos) >= limit:
            break
    if not photos:
        raise SystemExit(f"no colour photo in {folder}")
    return photos, [-1] * len(photos)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", help="NAME=path/to/model.safetensors")
    parser.add_argument("--data_dir", required=True, help="the training photos (their validation split is compared)")
    parser.add_argument("--photos", default=None,
                        help="compare on this folder of colour photos instead (e.g. photos from other sources than "
                             "training); shrunk to the training store size, no scene labels")
    parser.add_argument("--cache", default=None, help="a training run's data_cache.npz (skips JPEG decoding)")
    parser.add_argument("--table", default=None, help="a run's mean_colour_table.json (else fitted on 3000 photos)")
    parser.add_argument("--max_photos", type=int, default=0, help="cap on validation photos (0 = all)")
    parser.add_argument("--rest_of", type=int, default=0,
                        help="instead, the validation photos that --max_photos N leaves out: a second, untouched set "
                             "to confirm a choice made on the first")
    parser.add_argument("--val_fraction", type=float, default=0.05)
    parser.add_argument("--out", required=True, help="output prefix: <out>.json, <out>.md, <out>.png")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--knob", type=float, action="append", default=None,
                        help="only these knob settings (vividness or strength; repeat), instead of the whole sweep")
    parser.add_argument("--reference", default=None, help="checkpoint whose curve the others are compared with")
    parser.add_argument("--include", action="append", default=[],
                        help="a previous run's <out>.json (same photos) whose checkpoints join the table and plot")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    data = load_photos(args.data_dir, val_fraction=args.val_fraction, store_side=144, grey_chroma=3.0,
                       cache_path=args.cache, write_cache=False, log=lambda *a: None)  # a run's cache: read only
    if args.photos:
        photos, labels = other_photos(Path(args.photos), args.max_photos)
    else:
        val_idx = validation_sample(data.indices("val"), args.max_photos, rest_of=args.rest_of)
        photos = [torch.from_numpy(np.ascontiguousarray(data.image(i))).permute(2, 0, 1)[None].float() / 255.0
                  for i in val_idx]
        labels = [int(data.labels[i]) for i in val_idx]
    if args.table:
        table = MeanColourTable.load(args.table)
    else:
        train_idx = data.indices("train")
        table = MeanColourTable.fit([data.image(i) for i in train_idx[:: max(1, len(train_idx) // 3000)]])
    floor = floors(photos, table)

    results = {}
    for previous in args.include:
        earlier = json.loads(Path(previous).read_text())
        if earlier["photos"] != len(photos):
            parser.error(f"{previous} was measured on {earlier['photos']} photos, this run has {len(photos)}")
        results.update(earlier["results"])
    for spec in args.checkpoints:
        name, _, path = spec.partition("=")
        model, _ = load_checkpoint(path)
        colorizer = Colorizer(model=model, device=torch.device("cpu"))
        t0 = time.time()
        rows = evaluate_checkpoint(colorizer, photos, labels, data.summary.class_names, args.knob)
        results[name] = {
            "weights": path, "rows": rows, "train_images_per_s": training_speed(Path(path)),
            "default_vividness": model.default_vividness,
            "seconds_512": inference_seconds(colorizer, (512, 512)),
            "seconds_4k": inference_seconds(colorizer, (2160, 3840)),
        }
        print(f"{name}: {len(photos)} photos x {len(rows)} settings in {time.time() - t0:.0f} s", file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(results, floor) + "\n\n" + select(results, floor, args.reference)
    if args.reference:
        text += "\n\n" + curve_above(results, args.reference)
    print(text)
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps({"photos": len(photos), "floors": floor, "results": results},
                                                   indent=2) + "\n")
    plot(results, floor, out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
