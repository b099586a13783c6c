"""Train ColorNet (Iizuka et al. 2016): one process, or DDP under ``torchrun`` (detected from ``RANK``).

    python -m training.train training/configs/compact_cpu.py --data_dir=photos/ --out_dir=runs/mine
    torchrun --standalone --nproc_per_node=8 -m training.train training/configs/paper_places365.py

Defaults live in ``training/config.py`` (commented); a config file overrides them, then ``--key=value``. Only the
master process (rank 0) logs, validates, checkpoints and exports; every rank gets its own seed. ``--resume`` continues
from the newest complete checkpoint in ``out_dir`` exactly (same weights as a run that never stopped).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from colornet.checkpoint import check_state_dict, save_checkpoint
from colornet.colorbins import ABQuantizer, decode_annealed_mean, smoothed_rebalance_weights
from colornet.lab import lab_from_l_ab, lab_to_rgb, normalize_ab, rgb_to_lab, unnormalize_ab
from colornet.model import CONFIGS, ColorNet, ColorNetConfig

from .checkpoints import latest_checkpoint, load_training_checkpoint, save_training_checkpoint
from .config import ConfigError, TrainConfig, parse_args
from .data import (
    ColorizationDataset,
    SeededDistributedSampler,
    SkipPhoto,
    class_weights,
    collate_skipping,
    load_photos,
    steps_per_epoch,
)
from .floors import MeanColourTable
from .metrics import ab_mse, colorfulness, psnr, topk_correct


class TrainingForward(nn.Module):
    """What one training step runs, as a module so DDP wraps it: global path on the whole photo, local on the crop."""

    def __init__(self, model: ColorNet):
        super().__init__()
        self.model = model

    def forward(self, lightness: torch.Tensor, global_l: torch.Tensor):
        prior = self.model.encode_global(global_l)  # (B, 256) fusion vector + (B, n_classes) logits
        # the head's raw output at half resolution (the paper's): ab in [0, 1], or (B, Q, H/2, W/2) bin logits
        return self.model.predict_head_half(lightness, prior), prior.logits


def get_lr(it: int, config: TrainConfig) -> float:
    """Learning rate at step ``it``: linear warm-up, then constant or cosine decay to ``min_lr``. Pure function."""
    if config.warmup_iters and it < config.warmup_iters:
        return config.learning_rate * (it + 1) / config.warmup_iters
    if not config.decay_lr:
        return config.learning_rate
    span = max(1, config.max_iters - config.warmup_iters)
    ratio = min(1.0, (it - config.warmup_iters) / span)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))  # 1 -> 0
    return config.min_lr + coeff * (config.learning_rate - config.min_lr)


def build_model_config(config: TrainConfig, class_names: list[str]) -> ColorNetConfig:
    arch = CONFIGS[config.model](class_names)
    if config.width:
        arch.width = config.width
    if config.global_size:
        arch.global_size = config.global_size
    arch.batch_norm = config.batch_norm
    arch.head = config.head
    arch.vividness = config.vividness
    arch.name = config.model if not (config.width or config.global_size) else f"{config.model}-custom"
    return arch


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.learning_rate, betas=(config.beta1, config.beta2),
                                weight_decay=config.weight_decay)
    return torch.optim.Adadelta(model.parameters(), lr=config.learning_rate, rho=config.rho,
                                weight_decay=config.weight_decay)


@dataclass
class ColourLoss:
    """The colour term of the loss, for either head.

    * regression (the paper): MSE on normalised ab at the output's (half) resolution. ``chroma_weight`` > 0 (not in
      the paper) weights each pixel's squared error by 1 + chroma_weight x chroma / 50, normalised to mean 1: a plain
      MSE regressor learns the conditional mean, greyish wherever colours are ambiguous.
    * distribution: cross-entropy against soft-encoded targets (``ABQuantizer.soft_encode``), each pixel weighted by
      the rarity of its colour (``bin_weight``, Zhang et al.'s class rebalancing; None = unweighted).
    """

    head: str = "regression"
    chroma_weight: float = 0.0
    quantizer: ABQuantizer | None = None
    bin_weight: torch.Tensor | None = None

    def __call__(self, out: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
        target_half = F.interpolate(target_ab.float(), size=out.shape[-2:], mode="area")
        if self.head == "distribution":
            bins, weight = self.quantizer.soft_encode(target_half)  # (B, 9, h, w) each
            log_p = F.log_softmax(out.float(), dim=1)  # (B, Q, h, w)
            ce = -(weight * log_p.gather(1, bins)).sum(1)  # (B, h, w)
            if self.bin_weight is not None:
                ce = ce * self.bin_weight[self.quantizer.hard_encode(target_half)]
            return ce.mean()
        err = (out.float() - normalize_ab(target_half)).pow(2)
        if self.chroma_weight:
            weight = 1.0 + self.chroma_weight * target_half.pow(2).sum(1, keepdim=True).sqrt() / 50.0
            return (err * (weight / weight.mean())).mean()
        return err.mean()


def compute_loss(out: torch.Tensor, logits: torch.Tensor | None, target_ab: torch.Tensor, labels: torch.Tensor,
                 alpha: float, ce_weight: torch.Tensor | None, colour_loss: ColourLoss):
    """colour term + alpha x (class-balanced) scene cross-entropy. Returns (total, colour term, class term)."""
    colour = colour_loss(out, target_ab)
    if logits is None or alpha == 0.0:
        return colour, colour, torch.zeros((), device=colour.device)
    ce = F.cross_entropy(logits.float(), labels, weight=ce_weight)
    return colour + alpha * ce, colour, ce


def ab_bin_counts(images, quantizer: ABQuantizer, stride: int = 2) -> torch.Tensor:
    """How often each ab bin occurs among the pixels of ``images`` (uint8 RGB), for the rebalancing weights."""
    counts = torch.zeros(quantizer.n_bins, dtype=torch.float64)
    for rgb in images:
        x = torch.from_numpy(np.ascontiguousarray(rgb[::stride, ::stride])).permute(2, 0, 1).float() / 255.0
        ab = rgb_to_lab(x)[None, 1:]  # (1, 2, h, w)
        counts += torch.bincount(quantizer.hard_encode(ab).reshape(-1), minlength=quantizer.n_bins).double()
    return counts


def rebalance_weights(photos, train_idx: list[int], quantizer: ABQuantizer, config: TrainConfig, out_dir: Path,
                      master: bool, log) -> torch.Tensor:
    """Per-bin rarity weights from the training split's ab-bin counts (kept in out_dir/ab_bin_counts.json)."""
    path = out_dir / "ab_bin_counts.json"
    counts = None
    if path.is_file():
        stored = json.loads(path.read_text())
        if len(stored.get("counts", [])) == quantizer.n_bins:
            counts = torch.tensor(stored["counts"], dtype=torch.float64)
    if counts is None:
        limit = max(1, min(config.rebalance_photos, len(train_idx)))
        step = max(1, len(train_idx) // limit)
        counts = ab_bin_counts(_decodable(photos, train_idx[::step][:limit]), quantizer)
        if master:
            path.write_text(json.dumps({"grid": quantizer.grid, "photos": limit, "counts": counts.tolist()}) + "\n")
    weight = smoothed_rebalance_weights(counts, quantizer.centres.cpu(), mix=config.rebalance)
    log(f"rebalancing: {int((counts > 0).sum())}/{quantizer.n_bins} bins seen; weights {float(weight.min()):.2f}"
        f"..{float(weight.max()):.2f} (mix {config.rebalance})")
    return weight


def init_matching(model: ColorNet, weights: str) -> str:
    """Start from another checkpoint: copy every tensor whose name and shape match (fine-tuning, a new head).

    Layers that differ (a new output head, another number of scene classes) keep their fresh initialisation;
    the returned line names them, so a run never silently starts from less than it seems.
    """
    from colornet.checkpoint import load_state_dict

    source = load_state_dict(weights)
    own = model.state_dict()
    taken = {k: v.to(own[k].dtype) for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(taken, strict=False)
    fresh = sorted(set(own) - set(taken))
    return f"init_from: {weights}: {len(taken)}/{len(own)} tensors copied" + (
        f"; fresh: {', '.join(fresh)}" if fresh else "")


def _stack_val(dataset: ColorizationDataset, limit: int) -> dict[str, torch.Tensor]:
    n = len(dataset) if not limit else min(limit, len(dataset))
    items = [it for it in (dataset[i] for i in range(n)) if not isinstance(it, str)]  # streamed: drop skipped
    return {
        "l": torch.stack([it[0] for it in items]) if items else torch.zeros(0),
        "ab": torch.stack([it[1] for it in items]) if items else torch.zeros(0),
        "g": torch.stack([it[2] for it in items]) if items else torch.zeros(0),
        "y": torch.tensor([it[3] for it in items], dtype=torch.long),
    }


def _decodable(photos, indices):
    for i in indices:
        try:
            yield photos.image(i)
        except SkipPhoto:
            continue


def _summarise(lightness, ab_pred, ab_true) -> dict[str, torch.Tensor]:
    rgb_pred = lab_to_rgb(lab_from_l_ab(lightness, ab_pred))
    rgb_true = lab_to_rgb(lab_from_l_ab(lightness, ab_true))
    return {"psnr": psnr(rgb_pred, rgb_true), "ab_mse": ab_mse(ab_pred, ab_true), "colorfulness": colorfulness(rgb_pred)}


@torch.no_grad()
def compute_floors(val: dict[str, torch.Tensor], table: MeanColourTable, batch_size: int = 64) -> dict[str, dict]:
    """Greyscale and mean-colour-table metrics on the validation crops (plus the ground truth's colorfulness)."""
    sums = {"greyscale": {}, "mean_colour_table": {}, "ground_truth": {}}
    n = val["l"].shape[0]
    for i in range(0, n, batch_size):
        l, ab = val["l"][i : i + batch_size], val["ab"][i : i + batch_size]
        parts = {
            "greyscale": _summarise(l, torch.zeros_like(ab), ab),
            "mean_colour_table": _summarise(l, table.predict(l), ab),
            "ground_truth": {"colorfulness": colorfulness(lab_to_rgb(lab_from_l_ab(l, ab)))},
        }
        for name, metrics in parts.items():
            for key, value in metrics.items():
                sums[name][key] = sums[name].get(key, 0.0) + float(value.sum())
    return {name: {k: v / max(n, 1) for k, v in m.items()} for name, m in sums.items()}


@torch.no_grad()
def evaluate(model: ColorNet, val: dict[str, torch.Tensor], device, ctx, ce_weight, alpha: float,
             colour_loss: ColourLoss, batch_size: int = 64) -> dict[str, float]:
    """Average the loss and the metrics over the whole validation split (estimate_loss in nanoGPT's terms)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    n = val["l"].shape[0]
    for i in range(0, n, batch_size):
        l = val["l"][i : i + batch_size].to(device)
        ab = val["ab"][i : i + batch_size].to(device)
        g = val["g"][i : i + batch_size].to(device)
        y = val["y"][i : i + batch_size].to(device)
        with ctx:
            prior = model.encode_global(g)
            out = model.predict_head_half(l, prior)
        loss, mse, ce = compute_loss(out, prior.logits, ab, y, alpha, ce_weight, colour_loss)
        if model.has_distribution_head:
            ab_half = decode_annealed_mean(out, model.colorization.ab_centres, model.temperature())
        else:
            ab_half = unnormalize_ab(out.float())
        ab_full = F.interpolate(ab_half.float(), size=l.shape[-2:], mode="bilinear", align_corners=False)
        metrics = _summarise(l.float(), ab_full, ab.float())
        if prior.logits is not None and (y >= 0).all():
            metrics["top1"] = topk_correct(prior.logits.float(), y, 1).float()
            metrics["top5"] = topk_correct(prior.logits.float(), y, 5).float()
        b = l.shape[0]
        metrics["loss"] = loss.detach().expand(b)
        metrics["mse"] = mse.detach().expand(b)
        for key, value in metrics.items():
            totals[key] = totals.get(key, 0.0) + float(value.float().sum())
    model.train(was_training)
    return {k: v / max(n, 1) for k, v in totals.items()}


def format_table(metrics: dict[str, float], floors: dict[str, dict], n_classes: int) -> str:
    rows = [("model", metrics), ("greyscale floor", floors["greyscale"]), ("mean-colour table", floors["mean_colour_table"])]
    lines = [f"{'':18s} {'PSNR dB':>8s} {'ab MSE':>8s} {'colorful':>8s} {'top-1':>6s} {'top-5':>6s}"]
    for name, m in rows:
        t1 = f"{100 * m['top1']:5.1f}%" if "top1" in m else "   -  "
        t5 = f"{100 * m['top5']:5.1f}%" if "top5" in m else "   -  "
        lines.append(f"{name:18s} {m['psnr']:8.2f} {m['ab_mse']:8.1f} {m['colorfulness']:8.2f} {t1:>6s} {t5:>6s}")
    chance = f"chance top-1 {100 / n_classes:.1f}%, " if n_classes else ""
    lines.append(f"{'':18s} ({chance}ground-truth colorfulness {floors['ground_truth']['colorfulness']:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2

    # --- processes and devices ---------------------------------------------------------------------------
    ddp = int(os.environ.get("RANK", -1)) != -1
    use_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    if ddp:
        import torch.distributed as dist

        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(device)
    else:
        rank, world = 0, 1
        device = torch.device(config.device if config.device != "auto" else ("cuda" if use_cuda else "cpu"))
    master = rank == 0
    if config.threads:
        torch.set_num_threads(config.threads)
    log = print if master else (lambda *a, **k: None)
    out_dir = Path(config.out_dir)
    if master:
        out_dir.mkdir(parents=True, exist_ok=True)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    use_bf16 = config.dtype == "bfloat16" or (config.dtype == "auto" and device.type == "cuda")
    # bf16 autocast on CUDA (no GradScaler needed: bf16 has fp32's exponent range); fp32 on CPU by default
    ctx = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()
    channels_last = device.type == "cuda"

    # --- data: the master decodes (and writes the cache) first, the other ranks then read the cache -------
    if ddp and not master:
        dist.barrier()
    photos = load_photos(
        config.data_dir, val_fraction=config.val_fraction, store_side=config.store_side,
        grey_chroma=config.grey_chroma, cache_path=(out_dir / "data_cache.npz") if config.cache_data else None,
        log=log, progress=master and config.progress, preload=config.preload,
    )
    if ddp and master:
        dist.barrier()
    class_names = photos.summary.class_names
    alpha = config.alpha if class_names else 0.0  # a flat folder has no labels: colour loss only, no head
    train_idx, val_idx = photos.indices("train"), photos.indices("val")
    if len(train_idx) // world < config.batch_size:
        raise ValueError(f"only {len(train_idx)} training photos for {world} process(es) x batch_size "
                         f"{config.batch_size}: lower batch_size or add photos")

    # --- model, optimiser, resume -------------------------------------------------------------------------
    torch.manual_seed(config.seed)  # the same initial weights on every rank (DDP also broadcasts them)
    arch = build_model_config(config, class_names)
    iter_num, best_val_loss, resumed_from = 0, float("inf"), None
    ckpt = latest_checkpoint(out_dir) if config.resume else None
    if config.resume and ckpt is None:
        log(f"resume: no checkpoint in {out_dir}, starting from scratch")
    opt_state = None
    if ckpt is not None:
        state, opt_state, document = load_training_checkpoint(ckpt)
        arch = ColorNetConfig.from_dict(document["architecture"])  # rebuild from the stored model args
        if list(arch.class_names) != list(class_names):
            raise ValueError(f"{ckpt} was trained on classes {arch.class_names[:5]}..., data_dir has "
                             f"{class_names[:5]}...: resume with the same data_dir")
        model = ColorNet(arch)
        check_state_dict(model, state, str(ckpt))
        model.load_state_dict(state)
        iter_num = int(document["training"]["iter_num"])
        best_val_loss = float(document["training"].get("best_val_loss", best_val_loss))
        resumed_from = str(ckpt)
        log(f"resume: {ckpt} (step {iter_num})")
    else:
        model = ColorNet(arch)
        if config.init_from:
            log(init_matching(model, config.init_from))
    torch.manual_seed(config.seed + rank)  # per-rank seed for anything random from here on
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    if opt_state is not None:
        optimizer.load_state_dict(opt_state)
    forward = TrainingForward(model)
    if config.compile:
        forward = torch.compile(forward)
    if ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        forward = DDP(forward, device_ids=[device.index] if device.type == "cuda" else None)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {arch.name} width={arch.width} global={arch.global_size} classes={arch.n_classes} "
        f"params={n_params / 1e6:.2f}M ({n_params * 4 / 2**20:.1f} MiB fp32); alpha={alpha:.5f}; "
        f"{config.optimizer} lr={config.learning_rate}; world={world} device={device}")

    train_set = ColorizationDataset(photos, train_idx, crop=config.crop_size, global_size=arch.global_size,
                                    train=True, min_scale=config.crop_min_scale, flip=config.flip,
                                    degrade=config.degrade)
    sampler = SeededDistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, pin_memory=device.type == "cuda",
                        collate_fn=collate_skipping, persistent_workers=False)
    per_epoch = steps_per_epoch(len(train_set), config.batch_size, world)
    eval_interval = config.eval_interval or per_epoch
    ce_weight = None
    if class_names and config.balance_classes:
        ce_weight = class_weights(photos.labels[train_idx], len(class_names)).to(device)

    colour_loss = ColourLoss(arch.head, config.chroma_weight)
    if arch.head == "distribution":
        colour_loss.quantizer = ABQuantizer(model.colorization.ab_centres.detach().cpu(), arch.ab_grid).to(device)
        if config.rebalance:
            colour_loss.bin_weight = rebalance_weights(photos, train_idx, colour_loss.quantizer, config, out_dir,
                                                       master, log).to(device)

    # --- validation set and the two floors (master only) --------------------------------------------------
    val, floors, table = None, None, None
    if master and val_idx:
        val_set = ColorizationDataset(photos, val_idx, crop=config.crop_size, global_size=arch.global_size, train=False)
        val = _stack_val(val_set, config.eval_max_photos)
        table_path = out_dir / "mean_colour_table.json"
        table = MeanColourTable.load(table_path) if table_path.is_file() else None
        if table is None:
            limit = config.table_max_photos or (len(train_idx) if config.preload else 3000)
            step = max(1, len(train_idx) // limit)
            table = MeanColourTable.fit(_decodable(photos, train_idx[::step][:limit]))
            table.save(table_path)
        floors = compute_floors(val, table)
        log(f"validation: {val['l'].shape[0]} photos; floors: greyscale PSNR {floors['greyscale']['psnr']:.2f} dB, "
            f"mean-colour table PSNR {floors['mean_colour_table']['psnr']:.2f} dB")
    if master:
        (out_dir / "config_resolved.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    log_file = open(out_dir / "log.jsonl", "a") if master else None

    def write_log(record: dict) -> None:
        if log_file is not None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()

    def training_state(last_metrics: dict | None) -> dict:
        return {
            "config": config.to_dict(), "best_val_loss": best_val_loss, "world_size": world,
            "data": photos.summary.to_dict(), "metrics": last_metrics or {}, "floors": floors or {},
        }

    write_log({"type": "start", "iter": iter_num, "time": time.time(), "resumed_from": resumed_from,
               "config": config.to_dict(), "data": photos.summary.to_dict(), "params": n_params})

    # --- the loop ---------------------------------------------------------------------------------------------
    bar = None
    if master and config.progress:
        from tqdm import tqdm

        bar = tqdm(total=config.max_iters, initial=iter_num, desc="train", unit="step", dynamic_ncols=True)
    last_metrics: dict | None = None
    skip_counts: dict[str, int] = {}
    model.train()
    t_last, seen_since = time.time(), 0
    while iter_num < config.max_iters:
        epoch, position = divmod(iter_num, per_epoch)
        sampler.set_epoch(epoch)
        sampler.set_start(position * config.batch_size)  # resume mid-epoch at exactly the next batch
        iter_at_start = iter_num
        for lightness, target_ab, global_l, labels, skipped in loader:
            for reason, count in skipped.items():  # streamed data only: unreadable / greyscale photos met
                skip_counts[reason] = skip_counts.get(reason, 0) + count
            if lightness is None or lightness.shape[0] < 2:
                continue  # every photo of this batch was skipped (batch norm needs two)
            lr = get_lr(iter_num, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            lightness, target_ab = lightness.to(device, non_blocking=True), target_ab.to(device, non_blocking=True)
            global_l, labels = global_l.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if channels_last:
                lightness = lightness.contiguous(memory_format=torch.channels_last)
                global_l = global_l.contiguous(memory_format=torch.channels_last)
            with ctx:
                out, logits = forward(lightness, global_l)
            loss, mse, ce = compute_loss(out, logits, target_ab, labels, alpha, ce_weight, colour_loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            iter_num += 1
            seen_since += lightness.shape[0] * world

            if master and (iter_num % config.log_interval == 0 or iter_num == config.max_iters):
                dt = time.time() - t_last
                record = {"type": "train", "iter": iter_num, "epoch": iter_num / per_epoch, "lr": lr,
                          "loss": loss.item(), "mse": mse.item(), "ce": ce.item(),
                          "images_per_s": seen_since / max(dt, 1e-9), "time": time.time()}
                if skip_counts:
                    record["skipped_streamed"] = dict(skip_counts)
                write_log(record)
                t_last, seen_since = time.time(), 0
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", ce=f"{ce.item():.2f}", lr=f"{lr:.2g}")

            if master and val is not None and (iter_num % eval_interval == 0 or iter_num == config.max_iters):
                metrics = evaluate(model, val, device, ctx, ce_weight, alpha, colour_loss)
                last_metrics = metrics
                best_val_loss = min(best_val_loss, metrics["loss"])
                write_log({"type": "eval", "iter": iter_num, "epoch": iter_num / per_epoch, "model": metrics,
                           **floors, "time": time.time()})
                text = f"step {iter_num} (epoch {iter_num / per_epoch:.2f}) validation:\n" + format_table(
                    metrics, floors, len(class_names))
                (bar.write if bar is not None else print)(text)
            if master and (iter_num % config.ckpt_interval == 0 or iter_num == config.max_iters):
                path = save_training_checkpoint(out_dir, iter_num, model, optimizer, training_state(last_metrics),
                                                keep_last=config.keep_last)
                write_log({"type": "checkpoint", "iter": iter_num, "path": str(path), "time": time.time()})
            if iter_num >= config.max_iters:
                break
        if iter_num == iter_at_start:
            raise RuntimeError(f"no usable photo in a whole pass over {config.data_dir} (all unreadable or greyscale)")
    if bar is not None:
        bar.close()

    if ddp:
        # BN running statistics are updated locally by each rank's last forward: give every rank rank 0's copy
        for buffer in model.buffers():
            dist.broadcast(buffer.data, 0)
    if config.debug_dump_rank_weights:
        save_checkpoint(model, out_dir / f"rank{rank}")
    if master and config.export:
        from .export import export_model

        folder = export_model(model, out_dir / "export", config=config.to_dict(), data=photos.summary.to_dict(),
                              metrics=last_metrics or {}, floors=floors or {}, iter_num=iter_num)
        log(f"exported {folder}")
        write_log({"type": "export", "iter": iter_num, "path": str(folder), "time": time.time()})
    if log_file is not None:
        log_file.close()
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
