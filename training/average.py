"""Weight averaging of a constant-rate run's checkpoints (SWA), with the BatchNorm statistics measured again.

    python -m training.average runs/swa_pool/ckpt-* --data_dir shared/data/train \
        --cache runs/long-hues/data_cache.npz --out runs/swa

A run at a constant learning rate keeps its weights moving around a minimum; one checkpoint is one random point of
that walk. The mean of many points lies nearer the middle of the basin (Izmailov et al., "Averaging weights leads to
wider optima and better generalization", UAI 2018): the other way, besides decaying the rate, to turn the long run
into a candidate, and it costs no training steps. BatchNorm's running statistics belong to the weights they were
measured under, so after averaging they are measured afresh: a forward pass in training mode over ``--batches``
training batches, augmented as the run was (its crops, its degradation), with a cumulative (not exponential) mean.
The result is an ordinary checkpoint (``model.safetensors`` + ``config.json``) for ``training.compare``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch import nn

from colornet.checkpoint import load_checkpoint, save_checkpoint
from colornet.errors import ColorNetError
from colornet.model import ColorNet

from .config import ConfigError, check_out_dir
from .data import ColorizationDataset, collate_skipping, load_photos


class AverageError(ColorNetError, ValueError):
    """Checkpoints that cannot be averaged; the message says which and why."""


def average_weights(paths: list[Path]) -> tuple[ColorNet, dict]:
    """The element-wise mean of the checkpoints' floating-point tensors, in a network of their (common) architecture.

    Returns the model and the newest checkpoint's document (by its training step). Integer tensors (BatchNorm's
    batch counters) are taken from the newest checkpoint."""
    if not paths:
        raise AverageError("no checkpoints to average: give one or more model.safetensors files or ckpt-* folders")
    seen: dict[Path, Path] = {}
    for p in paths:
        if p.resolve() in seen:  # it would weigh twice in the mean, silently
            raise AverageError(f"{p} is given twice (also as {seen[p.resolve()]}): name each checkpoint once")
        seen[p.resolve()] = p
    loaded = [load_checkpoint(p) for p in paths]
    arch = loaded[0][1]["architecture"]
    for path, (_, doc) in zip(paths[1:], loaded[1:]):
        if doc["architecture"] != arch:
            differ = sorted(k for k in {*arch, *doc["architecture"]} if arch.get(k) != doc["architecture"].get(k))
            raise AverageError(f"{path} has another architecture than {paths[0]} ({', '.join(differ)} differ): only "
                               f"checkpoints of one run (the same network and colour head) can be averaged")
    newest = max(range(len(loaded)), key=lambda i: loaded[i][1].get("training", {}).get("iter_num", -1))
    model, document = loaded[newest]
    states = [m.state_dict() for m, _ in loaded]
    mean = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            mean[key] = torch.stack([s[key].double() for s in states]).mean(0).to(value.dtype)
        else:
            mean[key] = value
    model.load_state_dict(mean, strict=True)
    return model, document


@torch.no_grad()
def recalibrate_batchnorm(model: ColorNet, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """Replace every BatchNorm's running mean and variance by their cumulative mean over ``batches`` of
    (lightness crop, global L), run through the training forward (global path on the whole photo, local path on the
    crop). Returns the number of batches used; the model is left in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved_momentum = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts the same
    model.train()
    used = 0
    try:
        for lightness, global_l in batches:
            prior = model.encode_global(global_l)
            model.predict_head_half(lightness, prior)
            used += 1
    finally:
        for m, momentum in zip(norms, saved_momentum):
            m.momentum = momentum
        model.eval()
    if used == 0:
        raise AverageError("no usable training batch to measure BatchNorm statistics on (every photo drawn was "
                           "unreadable or greyscale)")
    return used


def training_batches(model: ColorNet, document: dict, data_dir: str, cache: str | None, n_batches: int,
                     batch_size: int, seed: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """``n_batches`` random training batches augmented as the checkpoint's run was (its config in the document).

    The cache is only read (it is the run's own, and the run may be writing it); a streamed run's photos are streamed
    here too, not all decoded into RAM."""
    cfg = document.get("training", {}).get("config", {})
    val_fraction = cfg.get("val_fraction", 0.05)
    photos = load_photos(data_dir, val_fraction=val_fraction, store_side=cfg.get("store_side", 144),
                         grey_chroma=cfg.get("grey_chroma", 3.0), cache_path=cache, preload=cfg.get("preload", True),
                         write_cache=False)
    train_idx = photos.indices("train")
    if not train_idx:
        raise AverageError(f"{data_dir} has no photo in the training split (all {len(photos.paths)} fall in the "
                           f"validation split at the run's val_fraction {val_fraction}): point --data_dir at the "
                           f"photos the run was trained on")
    dataset = ColorizationDataset(photos, train_idx, crop=cfg.get("crop_size", 112),
                                  global_size=model.config.global_size, train=True,
                                  min_scale=cfg.get("crop_min_scale", 0.6), flip=cfg.get("flip", True),
                                  degrade=cfg.get("degrade", 0.0))
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        keys = [(int(i), int(s)) for i, s in zip(rng.integers(0, len(dataset), batch_size),
                                                   rng.integers(0, 2**31, batch_size))]
        lightness, _, global_l, _, _ = collate_skipping([dataset[k] for k in keys])
        if lightness is not None:
            yield lightness, global_l


def _weights_file(path: str) -> Path:
    p = Path(path)
    return p / "model.safetensors" if p.is_dir() else p


def _at_least(low: int):
    """An argparse type: a whole number of at least ``low`` (a batch of one cannot be batch-normalised in training
    mode, and zero batches would measure nothing)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.average", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="model.safetensors files or checkpoint folders of one run")
    parser.add_argument("--data_dir", required=True, help="the run's photos (for the BatchNorm statistics)")
    parser.add_argument("--cache", default=None, help="the run's decoded-photo cache (data_cache.npz), if any")
    parser.add_argument("--out", required=True, help="folder for model.safetensors + config.json")
    parser.add_argument("--batches", type=_at_least(1), default=200,
                        help="training batches for the BatchNorm statistics")
    parser.add_argument("--batch_size", type=_at_least(2), default=32)
    parser.add_argument("--seed", type=_at_least(0), default=0)
    parser.add_argument("--threads", type=_at_least(0), default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = [_weights_file(p) for p in args.checkpoints]
    out_dir = Path(args.out)
    sources = [p for p in paths if p.parent.resolve() == out_dir.resolve()]
    if sources:  # it would replace a checkpoint of the pool (e.g. runs/swa_pool) with the average
        parser.error(f"--out {out_dir} holds {sources[0]}, one of the checkpoints averaged: choose a new folder")
    try:
        check_out_dir(out_dir, "out")
        model, document = average_weights(paths)
        used = 0
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            batches = training_batches(model, document, args.data_dir, args.cache, args.batches, args.batch_size,
                                       args.seed)
            used = recalibrate_batchnorm(model, batches)
    except (ColorNetError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    training = dict(document.get("training", {}))
    training["averaged_from"] = [str(p) for p in paths]
    training["batchnorm_batches"] = used
    out = save_checkpoint(model, args.out, training=training)
    measured = f"BatchNorm statistics from {used} batches" if used else "no BatchNorm layers to measure"
    print(f"averaged {len(paths)} checkpoints, {measured}: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
