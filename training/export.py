"""Export a trained network: ``model.safetensors`` + ``config.json`` + a model card ``README.md`` with Hub metadata.

``config.json`` holds the architecture (with class names), a summary of the training data, the resolved training
config and the validation metrics beside both floors. The folder loads with ``colornet.checkpoint.load_checkpoint``
and can be published with ``colornet-publish``.

    python -m training.export runs/default/ckpt-00012000 --out=runs/default/export [--sources=data/SOURCES.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from colornet.checkpoint import WEIGHTS_NAME, load_checkpoint, save_checkpoint
from colornet.errors import CheckpointError, ColorNetError
from colornet.model import ColorNet

CARD_NAME = "README.md"
# The weights' licence, unless the caller knows better: the code is MIT, but a checkpoint inherits the terms of the
# photos it was trained on, which for the usual colorization sets (ImageNet, Places) are research-only.
DEFAULT_LICENSE = "other"
_LICENSE_NAMES = {"other": "research-only-mixed-sources"}
PAPER = (
    'Satoshi Iizuka, Edgar Simo-Serra, Hiroshi Ishikawa. "Let there be Color!: Joint End-to-end Learning of Global '
    'and Local Image Priors for Automatic Image Colorization with Simultaneous Classification". SIGGRAPH 2016.'
)


def _fmt(m: dict, key: str, pct: bool = False) -> str:
    if key not in m:
        return "-"
    return f"{100 * m[key]:.1f}%" if pct else (f"{m[key]:.2f}" if key != "ab_mse" else f"{m[key]:.1f}")


def metrics_table(metrics: dict, floors: dict, n_classes: int) -> str:
    rows = [("**ColorNet (this model)**", metrics), ("greyscale floor (ab = 0)", floors.get("greyscale", {})),
            ("mean-colour-per-L table floor", floors.get("mean_colour_table", {}))]
    lines = ["| | PSNR (RGB, dB) ↑ | ab MSE ↓ | colorfulness | top-1 | top-5 |", "|---|---:|---:|---:|---:|---:|"]
    for name, m in rows:
        lines.append(f"| {name} | {_fmt(m, 'psnr')} | {_fmt(m, 'ab_mse')} | {_fmt(m, 'colorfulness')} | "
                     f"{_fmt(m, 'top1', True)} | {_fmt(m, 'top5', True)} |")
    extra = []
    if n_classes:
        extra.append(f"chance top-1 = {100 / n_classes:.1f}% ({n_classes} classes)")
    if "ground_truth" in floors:
        extra.append(f"ground-truth colorfulness = {floors['ground_truth']['colorfulness']:.2f}")
    return "\n".join(lines) + ("\n\n" + "; ".join(extra) + "." if extra else "")


def _head_lines(arch: dict, config: dict) -> str:
    """The card's lines on the output head and its loss (the paper's regression, or the colour distribution)."""
    alpha = config.get("alpha")
    alpha_text = f"{alpha:.4g}" if isinstance(alpha, (int, float)) else "n/a"
    scene = (f"α·cross-entropy on the scene class (α = {alpha_text}, class-balanced: "
             f"{config.get('balance_classes', 'n/a')})")
    if arch.get("head") == "distribution":
        chosen = arch.get("default_vividness")
        default = (f"defaults to {arch.get('vividness')}, the prediction as trained" if chosen is None else
                   f"defaults to {chosen} (the prediction as trained stands at {arch.get('vividness')})")
        return (f"- Output head: a colour distribution over {arch.get('ab_bins')} in-gamut a*b* bins (grid "
                f"{arch.get('ab_grid')}), decoded by an annealed mean at temperature "
                f"{1 - float(arch.get('vividness', 0)):.2f} (the hues); `vividness` (0 = muted, 1 = boldest: the "
                f"chroma quantile each pixel reaches) {default}.\n"
                f"- Loss: soft-encoded cross-entropy over the bins, weighted by colour rarity (rebalancing mix "
                f"{config.get('rebalance', 'n/a')}) + {scene}.")
    return f"- Output head: a*b* regression (sigmoid, ±110), the paper's.\n- Loss: MSE on ab + {scene}."


def _ageing_line(config: dict) -> str:
    p = float(config.get("degrade", 0.0) or 0.0)
    if not p:
        return "(no ageing augmentation)"
    return (f"and, for {100 * p:.0f} % of the photos, the L input aged like an old print (fading, gamma, grain, blur, "
            "dust, JPEG; `training/degrade.py`; the target colours stay clean)")


def model_card(document: dict[str, Any], *, sources: str | None = None, title: str | None = None,
               extra_sections: str = "", license: str = DEFAULT_LICENSE, name: str | None = None,
               repo_id: str | None = None, sha256: str | None = None) -> str:
    """The one model card (``README.md`` with Hub metadata) for an exported or published checkpoint.

    ``name``/``repo_id``/``sha256`` (given when publishing) add how to load it by name and the digest colornet
    checks; ``license`` is the Hub licence id (``other`` = research-only training data, named in the card).
    """
    title = title or name or "ColorNet"
    arch = document["architecture"]
    training = document.get("training", {})
    metrics, floors = training.get("metrics", {}), training.get("floors", {})
    data, config = training.get("data", {}), training.get("config", {})
    n_classes = len(arch.get("class_names", []))
    yaml_metrics = "\n".join(
        f"      - type: {k}\n        name: {name}\n        value: {round(float(metrics[k]), 4)}"
        for k, name in (("psnr", "PSNR (RGB, dB)"), ("ab_mse", "ab MSE"), ("colorfulness", "colorfulness"),
                        ("top1", "top-1 scene accuracy"), ("top5", "top-5 scene accuracy"))
        if k in metrics
    )
    license_name = f"\nlicense_name: {_LICENSE_NAMES[license]}" if license in _LICENSE_NAMES else ""
    front = f"""---
license: {license}{license_name}
library_name: colornet
pipeline_tag: image-to-image
tags:
  - colorization
  - image-colorization
  - let-there-be-color
  - pytorch
  - safetensors
metrics:
  - psnr
  - mse
model-index:
  - name: {title}
    results:
    - task:
        type: image-to-image
        name: Automatic photo colorization
      dataset:
        type: imagefolder
        name: {Path(data.get('data_dir', 'training photos')).name} (validation split)
      metrics:
{yaml_metrics}
---
"""
    per_class = data.get("per_class", {})
    classes = ", ".join(f"{k} ({v})" for k, v in per_class.items()) or "none (unlabelled)"
    body = f"""
# {title}

Automatic colorization of greyscale photographs with the network of Iizuka, Simo-Serra & Ishikawa,
*Let there be Color!: Joint End-to-end Learning of Global and Local Image Priors for Automatic Image Colorization
with Simultaneous Classification* (SIGGRAPH 2016), as implemented by the `colornet` Python package.

## Model

- Architecture: `{arch.get('name')}` (width multiplier {arch.get('width')}, global path {arch.get('global_size')} px,
  fusion vector {arch.get('global_dim')}-d, batch norm {arch.get('batch_norm')}); {n_classes} scene classes.
- Input: Lab lightness L of a photo of any size; output: ab at half resolution, brought to full resolution
  guided by the photo's own L (guided detail transfer, `colornet.upsample`).
{_head_lines(arch, config)}
- Optimiser {config.get('optimizer')} (lr {config.get('learning_rate')}, output layers x{config.get('head_lr_mult', 1.0)}),
  {training.get('iter_num', '?')} steps of batch {config.get('batch_size')} ({training.get('world_size', 1)} process(es)),
  {config.get('crop_size')} px random crops with rescale and horizontal flip
  {_ageing_line(config)}.

## Usage

{_usage(name, repo_id, sha256)}

## Training data

{data.get('kept', '?')} colour photos kept of {data.get('found', '?')} found ({data.get('skipped_unreadable', 0)}
unreadable and {data.get('skipped_greyscale', 0)} greyscale skipped); split by a hash of the file path into
{data.get('train', '?')} training and {data.get('val', '?')} validation photos. Classes (photos): {classes}.

## Validation

Measured on the validation split ({data.get('val', '?')} photos, centre crops of {config.get('crop_size')} px), against
two floors: the greyscale input itself, and a per-luminance mean-colour table (the mean ab of the training pixels at
each L value, applied pixel by pixel). Beating the table means the network uses spatial context, not only lightness.

{metrics_table(metrics, floors, n_classes)}

## Limitations

A small network trained briefly on a small, mixed dataset: colours are plausible rather than faithful, tend towards
the common (sky blue, foliage green, skin and earth tones) and desaturate on unusual objects. It cannot know the real
colour of clothes, cars or painted surfaces. Do not use it to make claims about the true colours of historical photos.
{extra_sections}"""
    body += f"\n## Reference\n\n{PAPER}\n"
    if sources:
        body += "\n## Data sources and attribution\n\nThe training photographs and their licences, as documented with the " \
                "dataset (`SOURCES.md`), reproduced verbatim:\n\n" + _demote_headings(sources.strip()) + "\n"
    return front + body


def _usage(name: str | None, repo_id: str | None, sha256: str | None) -> str:
    weights = name or "model.safetensors"
    text = f"""```python
from colornet import Colorizer
Colorizer.from_pretrained("{weights}").colorize_image("photo.jpg").save("photo_color.png")

from colornet.checkpoint import load_checkpoint
model, doc = load_checkpoint("model.safetensors")   # strict: every tensor checked against config.json
```

or `colornet colorize photo.jpg -o out/ --weights {weights}` with the package's CLI (the bundled default
needs no `--weights`)."""
    if sha256:
        text += (f"\n\n`model.safetensors` sha256: `{sha256}`. colornet downloads it from `{repo_id}` at a pinned "
                 f"commit and checks this digest before use.")
    return text


def _demote_headings(text: str) -> str:
    return "\n".join(("##" + line) if line.startswith("#") else line for line in text.splitlines())


def export_model(model: ColorNet, folder: str | Path, *, config: dict, data: dict, metrics: dict, floors: dict,
                 iter_num: int, sources_path: str | Path | None = None, title: str = "ColorNet",
                 extra_sections: str = "") -> Path:
    """Write the export folder; returns it."""
    folder = Path(folder)
    training = {"config": config, "data": data, "metrics": metrics, "floors": floors, "iter_num": iter_num}
    save_checkpoint(model, folder, training=training)
    document = json.loads((folder / "config.json").read_text())
    sources = None
    if sources_path is None:
        candidate = Path(data.get("data_dir", "")).parent / "SOURCES.md"
        sources_path = candidate if candidate.is_file() else None
    if sources_path is not None and Path(sources_path).is_file():
        sources = Path(sources_path).read_text()
    (folder / CARD_NAME).write_text(model_card(document, sources=sources, title=title, extra_sections=extra_sections))
    return folder


def checkpoint_weights(path: Path) -> Path:
    """The weights file to export for a path given on the command line: a file as it is, a checkpoint folder's
    ``model.safetensors``, or a run folder's newest complete ``ckpt-*`` (said on stderr)."""
    from training.checkpoints import list_checkpoints

    if not path.is_dir():
        if not path.exists():
            raise CheckpointError(f"{path}: no such file or folder; give a run folder, a ckpt-* folder or a "
                                  f"{WEIGHTS_NAME}")
        return path
    if (path / WEIGHTS_NAME).is_file():
        return path / WEIGHTS_NAME
    checkpoints = [c for c in list_checkpoints(path) if (c / WEIGHTS_NAME).is_file()]
    if not checkpoints:
        raise CheckpointError(f"{path} holds no {WEIGHTS_NAME} and no ckpt-* folders; give a run folder "
                              f"(--out_dir of colornet-train), one of its ckpt-* folders or a {WEIGHTS_NAME}")
    print(f"exporting the newest checkpoint of {path}: {checkpoints[-1].name}", file=sys.stderr)
    return checkpoints[-1] / WEIGHTS_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a training checkpoint folder for publishing")
    parser.add_argument("checkpoint", help="a run folder (its newest ckpt-* is taken), a ckpt-* folder or a "
                                           "model.safetensors")
    parser.add_argument("--out", required=True, help="folder to write model.safetensors, config.json and the model "
                                                     "card README.md into (created)")
    parser.add_argument("--sources", default=None, help="SOURCES.md to reproduce in the model card")
    parser.add_argument("--title", default="ColorNet", help="title of the model card")
    args = parser.parse_args(argv)
    try:
        weights = checkpoint_weights(Path(args.checkpoint))
        model, document = load_checkpoint(weights)
    except ColorNetError as err:
        print(f"colornet-export: error: {err}", file=sys.stderr)
        return 2
    t = document.get("training", {})
    folder = export_model(model, args.out, config=t.get("config", {}), data=t.get("data", {}),
                          metrics=t.get("metrics", {}), floors=t.get("floors", {}), iter_num=t.get("iter_num", 0),
                          sources_path=args.sources, title=args.title)
    print(f"exported {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
