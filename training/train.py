"""Train ColorNet (Iizuka et al. 2016): one process, or DDP under ``torchrun`` (detected from ``RANK``).

    python -m training.train training/configs/compact_cpu.py --data_dir=photos/ --out_dir=runs/mine
    torchrun --standalone --nproc_per_node=8 -m training.train training/configs/paper_places365.py --data_dir=...
    colornet-train --help        # every config key with its default and meaning

Defaults live in ``training/config.py`` (commented); a config file overrides them, then ``--key=value``. Only the
master process (rank 0) logs, validates, checkpoints and exports; every rank gets its own seed. ``--resume`` continues
from the newest complete checkpoint in ``out_dir`` exactly (same weights as a run that never stopped).

The run reads top to bottom as ``train``: ``setup`` (processes, device, precision) -> ``load_data`` -> ``build``
(model, optimiser, resume) -> ``build_objective`` -> ``prepare_validation`` (split and floors) -> ``train_loop``
-> ``finish`` (export).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from colornet.checkpoint import check_shapes, expected_shapes
from colornet.colorbins import ABQuantizer
from colornet.errors import CheckpointMismatchError, ColorNetError
from colornet.model import CONFIGS, ColorNet, ColorNetConfig

from .checkpoints import latest_checkpoint, load_training_checkpoint, save_training_checkpoint
from .config import ConfigError, TrainConfig, check_out_dir, help_text, parse_args
from .data import (
    ColorizationDataset,
    PhotoSet,
    SeededDistributedSampler,
    SkipPhoto,
    class_weights,
    collate_skipping,
    load_photos,
    steps_per_epoch,
)
from .floors import MeanColourTable
from .memory import check_step_memory
from .stopping import EXIT_DIVERGED, EXIT_SIGNAL, StopRequest, TrainingDiverged, TrainingInterrupted, all_finite
from .stopping import stop_on_signals
from .objective import ColourLoss, Objective, rebalance_weights, training_bin_counts
from .validation import ValidationSet, compute_floors, evaluate, format_table

__all__ = ["ColourLoss", "Objective", "get_lr", "main", "train"]


class ResumeError(ColorNetError, ValueError):
    """``--resume`` with settings the checkpoint in out_dir cannot continue under; the message says what to do."""


class TrainingForward(nn.Module):
    """What one training step runs, as a module so DDP wraps it: global path on the whole photo, local on the crop."""

    def __init__(self, model: ColorNet):
        super().__init__()
        self.model = model

    def forward(self, lightness: torch.Tensor, global_l: torch.Tensor):
        prior = self.model.encode_global(global_l)  # (B, 256) fusion vector + (B, n_classes) logits
        # the head's raw output at half resolution (the paper's): ab in [0, 1], or (B, Q, H/2, W/2) bin logits
        return self.model.predict_head_half(lightness, prior), prior.logits


def restart_warmup(it: int, config: TrainConfig, restart_iter: int | None) -> float:
    """Factor on the learning rate after a ``continue_from`` restart: Adam's moments start at zero, so its first
    steps are as large as a fresh run's; ramp up over ``warmup_iters`` again from the restart."""
    if restart_iter is None or not config.warmup_iters:
        return 1.0
    return min(1.0, (it - restart_iter + 1) / config.warmup_iters)


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


OUTPUT_LAYERS = ("colorization.output.", "colorization.distribution.", "classifier.fc2.")


def parameter_groups(model: nn.Module, head_lr_mult: float) -> list[dict]:
    """One group, or two when the output layers (colour head, scene logits) learn at ``head_lr_mult`` x the rate.

    Why: a fresh output layer on a trained trunk (fine-tuning, a new head) needs its weights to grow by whole units,
    while Adam moves each weight by about the learning rate per step; at a trunk-friendly rate that takes thousands
    of steps. Each group carries its ``lr_mult``; the loop sets ``lr = get_lr(step) x lr_mult``.
    """
    if head_lr_mult == 1.0:
        return [{"params": list(model.parameters()), "lr_mult": 1.0}]
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if not n.startswith(OUTPUT_LAYERS)], "lr_mult": 1.0},
            {"params": [p for n, p in named if n.startswith(OUTPUT_LAYERS)], "lr_mult": head_lr_mult}]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(model, config.head_lr_mult)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.learning_rate, betas=(config.beta1, config.beta2),
                                weight_decay=config.weight_decay)
    return torch.optim.Adadelta(groups, lr=config.learning_rate, rho=config.rho, weight_decay=config.weight_decay)


def init_distribution_head(model: ColorNet, counts: torch.Tensor) -> None:
    """Start a fresh distribution head at the data's colour prior: bias = log p(bin), small weights.

    A fresh head would otherwise predict a near-uniform distribution, whose mean is an arbitrary pinkish grey.
    """
    p = (counts.double() + 1.0) / (counts.sum() + counts.numel())  # add-one: every bin stays possible
    head = model.colorization.distribution
    with torch.no_grad():
        head.bias.copy_(p.log().to(head.bias.dtype))
        head.weight.mul_(0.1)


def init_matching(model: ColorNet, weights: str) -> tuple[str, set[str]]:
    """Start from another checkpoint: copy every tensor whose name and shape match (fine-tuning, a new head).

    A config wider than the checkpoint (``width``) starts from the checkpoint widened with its function kept
    (``training.widen``). Layers that differ otherwise (a new output head, another number of scene classes) keep
    their fresh initialisation; the returned line names them, so a run never silently starts from less than it seems.
    """
    from colornet.checkpoint import load_state_dict, read_document

    from .widen import widen_state

    source = load_state_dict(weights)
    own = model.state_dict()
    taken = {k: v.to(own[k].dtype) for k, v in source.items() if k in own and own[k].shape == v.shape}
    widened: dict[str, torch.Tensor] = {}
    architecture = read_document(weights).get("architecture", {})
    source_width = float(architecture.get("width", model.config.width))
    if source_width < model.config.width:
        # widen into the *checkpoint's* architecture at the new width, then take what matches like any other tensor:
        # only width may grow channels; a layer whose size comes from elsewhere (scene classes, global_dim, bins)
        # stays fresh even when the new size happens to be a multiple of the old (never copies of other classes)
        source_config = ColorNetConfig.from_dict({**architecture, "width": model.config.width})
        bridge = ColorNet(source_config).state_dict()
        grown = widen_state(source, bridge, source_config.global_dim)
        widened = {k: v for k, v in grown.items() if k in own and k not in taken and own[k].shape == v.shape}
    model.load_state_dict({**taken, **widened}, strict=False)
    fresh = sorted(set(own) - set(taken) - set(widened))
    line = f"init_from: {weights}: {len(taken)}/{len(own)} tensors copied" + (
        f", {len(widened)} widened from width {source_width:g} to {model.config.width:g}" if widened else "") + (
        f"; fresh: {', '.join(fresh)}" if fresh else "")
    return line, set(fresh)


# ------------------------------------------------------------------------------------------------------- setup


@dataclass
class Setup:
    """Processes, device and precision of this run."""

    ddp: bool
    rank: int
    world: int
    device: torch.device
    ctx: AbstractContextManager  # autocast (bf16 on CUDA) or nothing
    channels_last: bool
    out_dir: Path
    log: Callable[..., None]  # print on the master, silent elsewhere
    stop: StopRequest = field(default_factory=StopRequest)  # set by Ctrl-C / SIGTERM (``stop_on_signals``)

    @property
    def master(self) -> bool:
        return self.rank == 0


def auto_eval_interval(per_epoch: int, max_iters: int) -> int:
    """``eval_interval=0``: once per epoch, but at most ~10 times a run (a tiny data set has epochs of a few steps,
    and a validation table every few steps buries the log)."""
    return max(per_epoch, math.ceil(max_iters / 10))


def setup(config: TrainConfig) -> Setup:
    """Join the process group under torchrun, pick the device and the precision, make out_dir."""
    ddp = int(os.environ.get("RANK", -1)) != -1
    use_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    if ddp and config.cpu_minutes:
        raise ConfigError("cpu_minutes stops on this process's CPU time, which differs between ranks: use max_iters "
                          "under torchrun")
    if ddp:
        import torch.distributed as dist

        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(device)
    else:
        rank, world = 0, 1
        device = torch.device(config.device if config.device != "auto" else ("cuda" if use_cuda else "cpu"))
    if config.threads:
        torch.set_num_threads(config.threads)
    out_dir = Path(config.out_dir)
    if rank == 0:
        check_out_dir(out_dir)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    use_bf16 = config.dtype == "bfloat16" or (config.dtype == "auto" and device.type == "cuda")
    # bf16 autocast on CUDA (no GradScaler needed: bf16 has fp32's exponent range); fp32 on CPU by default
    ctx = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()
    check_step_memory(config, build_model_config(config, []), device, use_bf16)  # before any photo is decoded
    log = print if rank == 0 else (lambda *a, **k: None)
    return Setup(ddp, rank, world, device, ctx, device.type == "cuda", out_dir, log)


def _barrier(run: Setup) -> None:
    if run.ddp:
        import torch.distributed as dist

        dist.barrier()


@dataclass
class Data:
    photos: PhotoSet
    class_names: list[str]
    alpha: float  # the scene term's weight: 0 for a flat folder (no labels)
    train_idx: list[int]
    val_idx: list[int]


def load_data(config: TrainConfig, run: Setup) -> Data:
    """The master decodes (and writes the cache) first, the other ranks then read the cache."""
    if not run.master:
        _barrier(run)
    photos = load_photos(
        config.data_dir, val_fraction=config.val_fraction, store_side=config.store_side,
        grey_chroma=config.grey_chroma, cache_path=(run.out_dir / "data_cache.npz") if config.cache_data else None,
        log=run.log, progress=run.master and config.progress, preload=config.preload,
    )
    if run.master:
        _barrier(run)
    class_names = photos.summary.class_names
    train_idx, val_idx = photos.indices("train"), photos.indices("val")
    if len(train_idx) // run.world < config.batch_size:
        raise ConfigError(f"only {len(train_idx)} training photos for {run.world} process(es) x batch_size "
                          f"{config.batch_size}: lower batch_size or add photos")
    return Data(photos, class_names, config.alpha if class_names else 0.0, train_idx, val_idx)


# ------------------------------------------------------------------------------------------------------- build


@dataclass
class State:
    """What the loop changes: the model, its optimiser and the step count (plus how the run started)."""

    arch: ColorNetConfig
    model: ColorNet
    optimizer: torch.optim.Optimizer
    forward: nn.Module  # TrainingForward, compiled and/or DDP-wrapped
    iter_num: int = 0
    best_val_loss: float = float("inf")
    resumed_from: str | None = None
    fresh: set[str] = field(default_factory=set)  # tensors starting from their initialisation (not resumed/init_from)
    samples_seen: int = 0  # training photos consumed since the run began, over every session and process
    cpu_seconds: float = 0.0  # CPU time spent in the loop since the run began (process time x world size)
    restart_iter: int | None = None  # continue_from: the step the fresh optimiser started at (for its warm-up)


def _resume(config: TrainConfig, arch: ColorNetConfig, ckpt: Path, log) -> tuple[ColorNet, dict | None, dict]:
    """The model of checkpoint ``ckpt`` and the optimiser state to continue with (None: start it afresh).

    The checkpoint must be of the architecture the config describes and, unless ``reset_optimizer``, of the same
    optimiser: loading AdaDelta's state into Adam (or weights into another shape) must be a clear error, not a
    crash deep in torch or a silently different run."""
    state, opt_state, document = load_training_checkpoint(ckpt)
    stored = ColorNetConfig.from_dict(document["architecture"])
    if list(stored.class_names) != list(arch.class_names):
        raise ResumeError(f"{ckpt} was trained on classes {stored.class_names[:5]}..., data_dir has "
                          f"{arch.class_names[:5]}...: resume with the same data_dir")
    try:
        check_shapes({k: v[0] for k, v in expected_shapes(arch).items()},
                     {k: tuple(v.shape) for k, v in state.items()}, str(ckpt))
    except CheckpointMismatchError as err:
        settings = ", ".join(f"{k}={getattr(stored, k)!r}" for k in ("name", "width", "global_size", "head")
                             if hasattr(stored, k))
        raise ResumeError(f"{ckpt} is another architecture ({settings}) than the config asks for: resume with the "
                          f"checkpoint's model settings, or start a new --out_dir. ({err})") from None
    trained_with = document.get("training", {}).get("config", {}).get("optimizer", config.optimizer)
    if config.reset_optimizer:
        log(f"resume: reset_optimizer: {config.optimizer} starts afresh (the checkpoint used {trained_with})")
        opt_state = None
    elif trained_with != config.optimizer:
        raise ResumeError(f"{ckpt} was trained with {trained_with}, the config asks for {config.optimizer}: its "
                          f"optimiser state cannot continue another optimiser. Keep --optimizer={trained_with}, or "
                          f"pass --reset_optimizer=True to start {config.optimizer} afresh from these weights.")
    model = ColorNet(stored)  # the stored config (it also carries e.g. the head's default vividness)
    model.load_state_dict(state)
    return model, opt_state, document


def _newer_weights(config: TrainConfig, ckpt: Path | None, log) -> Path | None:
    """``continue_from`` when it is further along than the newest checkpoint in out_dir (else None).

    A run that spans machines commits one weights file; on a fresh machine out_dir is empty and the run continues
    from that file, on the machine that wrote it the local checkpoint (with its optimiser state) wins when newer."""
    if not config.continue_from:
        return None
    from colornet.checkpoint import read_document

    path = Path(config.continue_from)
    if not path.is_file():
        raise ConfigError(f"continue_from: {path} does not exist (a model.safetensors written by a training run)")
    step = int(read_document(path).get("training", {}).get("iter_num", -1))
    if step < 0:
        raise ConfigError(f"continue_from: {path} holds no training state (iter_num): use init_from to fine-tune it")
    if ckpt is not None:
        local = int(read_document(ckpt / "model.safetensors").get("training", {}).get("iter_num", 0))
        if local >= step:
            log(f"continue_from: {path} is at step {step}, out_dir's {ckpt.name} is as new or newer: resuming that")
            return None
    return path


def _continue(arch: ColorNetConfig, weights: Path) -> tuple[ColorNet, dict]:
    """The network of a run's weights file, which must be of the architecture and classes the config asks for."""
    from colornet.checkpoint import load_state_dict, read_document

    document = read_document(weights)
    stored = ColorNetConfig.from_dict(document["architecture"])
    if list(stored.class_names) != list(arch.class_names):
        raise ResumeError(f"{weights} was trained on other classes than data_dir holds: continue with the same data_dir")
    state = load_state_dict(weights)
    try:
        check_shapes({k: v[0] for k, v in expected_shapes(arch).items()},
                     {k: tuple(v.shape) for k, v in state.items()}, str(weights))
    except CheckpointMismatchError as err:
        raise ResumeError(f"{weights} is another architecture than the config asks for ({err})") from None
    model = ColorNet(stored)
    model.load_state_dict(state)
    return model, document


def build(config: TrainConfig, run: Setup, data: Data) -> State:
    """Model and optimiser: fresh, from ``init_from``, or resumed from the newest checkpoint in out_dir."""
    torch.manual_seed(config.seed)  # the same initial weights on every rank (DDP also broadcasts them)
    arch = build_model_config(config, data.class_names)
    fresh: set[str] = set()  # tensors that start from their initialisation (not resumed, not from init_from)
    ckpt = latest_checkpoint(run.out_dir, run.log) if config.resume else None
    if config.resume and ckpt is None:
        run.log(f"resume: no checkpoint in {run.out_dir}, starting from scratch")
    opt_state, document = None, None
    weights_only = _newer_weights(config, ckpt, run.log)
    if weights_only is not None:
        model, document = _continue(arch, weights_only)
        arch = model.config
        run.log(f"continue_from: {weights_only} (step {int(document['training']['iter_num'])}; the optimiser starts "
                f"afresh with a {config.warmup_iters}-step warm-up)")
    elif ckpt is not None:
        model, opt_state, document = _resume(config, arch, ckpt, run.log)
        arch = model.config
        done = int(document["training"]["iter_num"])
        run.log(f"resume: {ckpt} (step {done})")
        if done >= config.max_iters:
            run.log(f"resume: this run is finished (step {done} of max_iters={config.max_iters}): nothing to train, "
                    f"the export is redone. To train further, resume with a larger --max_iters (e.g. "
                    f"--max_iters={2 * config.max_iters}).")
    else:
        model = ColorNet(arch)
        fresh = set(model.state_dict())
        if config.init_from:
            line, fresh = init_matching(model, config.init_from)
            run.log(line)
    torch.manual_seed(config.seed + run.rank)  # per-rank seed for anything random from here on
    model.to(run.device)
    if run.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    if opt_state is not None:
        try:
            optimizer.load_state_dict(opt_state)
        except (ValueError, KeyError, RuntimeError) as err:
            raise ResumeError(f"{ckpt}: its optimiser state does not fit this model and optimiser ({err}); pass "
                              f"--reset_optimizer=True to start the optimiser afresh.") from None
    forward: nn.Module = TrainingForward(model)
    if config.compile:
        forward = torch.compile(forward)
    if run.ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        forward = DDP(forward, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    state = State(arch, model, optimizer, forward, fresh=fresh)
    if document is not None:
        done = document["training"]
        state.iter_num = int(done["iter_num"])
        state.best_val_loss = float(done.get("best_val_loss", state.best_val_loss))
        state.samples_seen = int(done.get("samples_seen", state.iter_num * config.batch_size * run.world))
        state.cpu_seconds = float(done.get("cpu_seconds", 0.0))
        state.resumed_from = str(weights_only or ckpt)
        if weights_only is not None:
            state.restart_iter = state.iter_num
    n_params = sum(p.numel() for p in model.parameters())
    run.log(f"model: {arch.name} width={arch.width} global={arch.global_size} classes={arch.n_classes} "
            f"params={n_params / 1e6:.2f}M ({n_params * 4 / 2**20:.1f} MiB fp32); alpha={data.alpha:.5f}; "
            f"{config.optimizer} lr={config.learning_rate}; world={run.world} device={run.device}")
    return state


def _decodable(photos: PhotoSet, indices):
    for i in indices:
        try:
            yield photos.image(i)
        except SkipPhoto:
            continue


def build_objective(config: TrainConfig, run: Setup, data: Data, state: State) -> Objective:
    ce_weight = None
    if data.class_names and config.balance_classes:
        ce_weight = class_weights(data.photos.labels[data.train_idx], len(data.class_names)).to(run.device)
    colour = ColourLoss(state.arch.head, config.chroma_weight)
    if state.arch.head == "distribution":
        quantizer = ABQuantizer(state.model.colorization.ab_centres.detach().cpu(), state.arch.ab_grid)
        limit = max(1, min(config.rebalance_photos, len(data.train_idx)))
        sample = data.train_idx[:: max(1, len(data.train_idx) // limit)][:limit]
        counts = training_bin_counts(_decodable(data.photos, sample), limit, quantizer, run.out_dir, run.master)
        if "colorization.distribution.bias" in state.fresh:
            init_distribution_head(state.model, counts)
            run.log("distribution head: starts at the training split's colour prior")
        colour.quantizer = quantizer.to(run.device)
        if config.rebalance:
            colour.bin_weight = rebalance_weights(counts, quantizer, config.rebalance, run.log).to(run.device)
    return Objective(colour, data.alpha, ce_weight)


# -------------------------------------------------------------------------------------------------- validation


@dataclass
class Validation:
    """The master's validation crops and the two floors on them (None on other ranks or without a split)."""

    val: ValidationSet | None = None
    floors: dict | None = None
    other: ValidationSet | None = None  # extra_val_dir: photos of other collections (the generalisation check)
    other_floors: dict | None = None


def prepare_validation(config: TrainConfig, run: Setup, data: Data, arch: ColorNetConfig) -> Validation:
    if not (run.master and data.val_idx):
        return Validation()
    val_set = ColorizationDataset(data.photos, data.val_idx, crop=config.val_crop_size or config.crop_size,
                                  global_size=arch.global_size, train=False)
    val = ValidationSet.from_dataset(val_set, config.eval_max_photos)
    table_path = run.out_dir / "mean_colour_table.json"
    table = MeanColourTable.load(table_path) if table_path.is_file() else None
    if table is None:
        limit = config.table_max_photos or (len(data.train_idx) if config.preload else 3000)
        step = max(1, len(data.train_idx) // limit)
        table = MeanColourTable.fit(_decodable(data.photos, data.train_idx[::step][:limit]))
        table.save(table_path)
    floors = compute_floors(val, table)
    run.log(f"validation: {len(val)} photos; floors: greyscale PSNR {floors['greyscale']['psnr']:.2f} dB, "
            f"mean-colour table PSNR {floors['mean_colour_table']['psnr']:.2f} dB")
    validation = Validation(val, floors)
    if config.extra_val_dir:
        photos = load_photos(config.extra_val_dir, val_fraction=1.0, store_side=config.store_side,
                             grey_chroma=config.grey_chroma, log=lambda *a: None)
        crops = ColorizationDataset(photos, photos.indices("val"), crop=config.val_crop_size or config.crop_size,
                                    global_size=arch.global_size, train=False)
        validation.other = ValidationSet.from_dataset(crops)
        validation.other_floors = compute_floors(validation.other, table)
        run.log(f"validation on other collections: {len(validation.other)} photos of {config.extra_val_dir}")
    return validation


# ------------------------------------------------------------------------------------------------------- loop


class RunLog:
    """``out_dir/log.jsonl``, one JSON record a line, written by the master only."""

    def __init__(self, run: Setup):
        self._file = open(run.out_dir / "log.jsonl", "a") if run.master else None

    def write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def train_loop(config: TrainConfig, run: Setup, data: Data, state: State, objective: Objective,
               validation: Validation, log: RunLog) -> dict | None:
    """Step until ``max_iters``: log, validate and checkpoint on their intervals. Returns the last validation."""
    train_set = ColorizationDataset(data.photos, data.train_idx, crop=config.crop_size,
                                    global_size=state.arch.global_size, train=True, min_scale=config.crop_min_scale,
                                    flip=config.flip, degrade=config.degrade)
    sampler = SeededDistributedSampler(train_set, num_replicas=run.world, rank=run.rank, shuffle=True,
                                       seed=config.seed)
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, pin_memory=run.device.type == "cuda",
                        collate_fn=collate_skipping,
                        persistent_workers=config.num_workers > 0)  # workers forked once, not every epoch
    per_epoch = steps_per_epoch(len(train_set), config.batch_size, run.world)
    eval_interval = config.eval_interval or auto_eval_interval(per_epoch, config.max_iters)
    model, optimizer, device = state.model, state.optimizer, run.device

    def training_state(last_metrics: dict | None) -> dict:
        return {"config": config.to_dict(), "best_val_loss": state.best_val_loss, "world_size": run.world,
                "samples_seen": state.samples_seen, "cpu_seconds": state.cpu_seconds,
                "data": data.photos.summary.to_dict(), "metrics": last_metrics or {},
                "floors": validation.floors or {}}

    def save_checkpoint() -> Path | None:
        """Checkpoint the current step (master), never weights that stopped being finite (every rank checks)."""
        if not all_finite(model):
            raise TrainingDiverged(f"step {state.iter_num}: the weights are no longer finite (the run diverged): "
                                   f"{_last_checkpoint_line(run)}; lower learning_rate (or set grad_clip)")
        if not run.master:
            return None
        path = save_training_checkpoint(run.out_dir, state.iter_num, model, optimizer,
                                        training_state(last_metrics), keep_last=config.keep_last)
        log.write({"type": "checkpoint", "iter": state.iter_num, "path": str(path), "time": time.time()})
        return path

    bar = None
    if run.master and config.progress:
        from tqdm import tqdm

        bar = tqdm(total=config.max_iters, initial=state.iter_num, desc="train", unit="step", dynamic_ncols=True)
    last_metrics: dict | None = None
    skip_counts: dict[str, int] = {}
    def validate(it: int, title: str, progress: dict) -> dict:
        metrics = evaluate(model, validation.val, device, run.ctx, objective)
        record = {"type": "eval", "iter": it, "epoch": it / per_epoch, **progress, "model": metrics,
                  **validation.floors, "time": time.time()}
        text = f"{title} validation:\n" + format_table(metrics, validation.floors, len(data.class_names))
        if validation.other is not None:
            record["other"] = {"model": evaluate(model, validation.other, device, run.ctx, objective),
                               **validation.other_floors}
            text += f"\nother collections ({len(validation.other)} photos):\n" + format_table(
                record["other"]["model"], validation.other_floors, 0)
        log.write(record)
        (bar.write if bar is not None else print)(text)
        return metrics

    if config.eval_at_start and validation.val is not None:
        validate(state.iter_num, f"step {state.iter_num} (start)",
                 {"samples": state.samples_seen, "cpu_hours": state.cpu_seconds / 3600.0})
    model.train()
    t_last, seen_since = time.time(), 0
    cpu_last = time.process_time()
    cpu_budget_end = state.cpu_seconds + 60.0 * config.cpu_minutes if config.cpu_minutes else float("inf")
    progress: dict[str, float] = {}
    done = False
    while state.iter_num < config.max_iters and not done:
        epoch, position = divmod(state.iter_num, per_epoch)
        sampler.set_epoch(epoch)
        sampler.set_start(position * config.batch_size)  # resume mid-epoch at exactly the next batch
        iter_at_start = state.iter_num
        for lightness, target_ab, global_l, labels, skipped in loader:
            for reason, count in skipped.items():  # streamed data only: unreadable / greyscale photos met
                skip_counts[reason] = skip_counts.get(reason, 0) + count
            if lightness is None or lightness.shape[0] < 2:
                continue  # every photo of this batch was skipped (batch norm needs two)
            lr = get_lr(state.iter_num, config) * restart_warmup(state.iter_num, config, state.restart_iter)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_mult", 1.0)
            lightness, target_ab = lightness.to(device, non_blocking=True), target_ab.to(device, non_blocking=True)
            global_l, labels = global_l.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if run.channels_last:
                lightness = lightness.contiguous(memory_format=torch.channels_last)
                global_l = global_l.contiguous(memory_format=torch.channels_last)
            with run.ctx:
                out, logits = state.forward(lightness, global_l)
            loss = objective(out, logits, target_ab, labels)
            if _stop_requested(run, state, loss.total):  # raises TrainingDiverged on a non-finite loss
                raise _interrupted(run, state, save_checkpoint)
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            state.iter_num += 1
            it = state.iter_num
            seen_since += lightness.shape[0] * run.world
            state.samples_seen += lightness.shape[0] * run.world
            cpu_now = time.process_time()
            state.cpu_seconds += (cpu_now - cpu_last) * run.world
            cpu_last = cpu_now
            progress = {"samples": state.samples_seen, "cpu_hours": state.cpu_seconds / 3600.0}
            done = it >= config.max_iters or state.cpu_seconds >= cpu_budget_end

            if run.master and (it % config.log_interval == 0 or done):
                dt = time.time() - t_last
                record = {"type": "train", "iter": it, "epoch": it / per_epoch, "lr": lr,
                          "loss": loss.total.item(), "mse": loss.colour.item(), "ce": loss.scene.item(),
                          "images_per_s": seen_since / max(dt, 1e-9), **progress, "time": time.time()}
                if skip_counts:
                    record["skipped_streamed"] = dict(skip_counts)
                log.write(record)
                t_last, seen_since = time.time(), 0
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.total.item():.4f}", ce=f"{loss.scene.item():.2f}", lr=f"{lr:.2g}")

            if validation.val is not None and (it % eval_interval == 0 or done):
                metrics = validate(it, f"step {it} (epoch {it / per_epoch:.2f}, {state.samples_seen:,} samples, "
                                       f"{state.cpu_seconds / 3600:.2f} CPU-hours)", progress)
                last_metrics = metrics
                state.best_val_loss = min(state.best_val_loss, metrics["loss"])
            if it % config.ckpt_interval == 0 or done:
                save_checkpoint()
            if done:
                break
        if state.iter_num == iter_at_start:
            raise RuntimeError(f"no usable photo in a whole pass over {config.data_dir} (all unreadable or greyscale)")
    if bar is not None:
        bar.close()
    return last_metrics


def _last_checkpoint_line(run: Setup) -> str:
    from .checkpoints import list_checkpoints

    done = list_checkpoints(run.out_dir)
    return f"the last finite checkpoint is {done[-1]}" if done else "no checkpoint was written"


def _stop_requested(run: Setup, state: State, loss: torch.Tensor) -> bool:
    """True when Ctrl-C/SIGTERM asked to stop (on any rank, so all stop at the same step); ``TrainingDiverged`` when
    the loss is not finite (checked before it can reach the weights)."""
    flags = torch.tensor([float(not bool(torch.isfinite(loss.detach()))), float(run.stop.requested)])
    if run.ddp:
        import torch.distributed as dist

        flags = flags.to(run.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    if flags[0].item():
        raise TrainingDiverged(f"step {state.iter_num + 1}: the loss is {loss.item()} (the run diverged): "
                               f"{_last_checkpoint_line(run)}, nothing was exported; lower learning_rate (or set "
                               f"grad_clip) and resume from it, or start again")
    return bool(flags[1].item())


def _interrupted(run: Setup, state: State, save: Callable[[], Path | None]) -> TrainingInterrupted:
    """Checkpoint the last finished step (unless it was just saved) and say how to go on."""
    from .checkpoints import list_checkpoints

    done = list_checkpoints(run.out_dir)
    saved = done[-1] if done and done[-1].name == f"ckpt-{state.iter_num:08d}" else None
    if saved is None and state.iter_num > 0:
        saved = save()
    signum = run.stop.signum or signal.SIGINT
    where = f"step {state.iter_num} saved in {saved}" if saved else "nothing to save yet (no step finished)"
    return TrainingInterrupted(f"interrupted by {signal.Signals(signum).name} at {where}; continue with the same "
                               f"arguments plus --resume", EXIT_SIGNAL.get(signum, 130))


def finish(config: TrainConfig, run: Setup, data: Data, state: State, validation: Validation,
           last_metrics: dict | None, log: RunLog) -> None:
    """Give every rank rank 0's batch-norm statistics, export (master), close the log and the process group."""
    if run.ddp:
        import torch.distributed as dist

        # BN running statistics are updated locally by each rank's last forward: give every rank rank 0's copy
        for buffer in state.model.buffers():
            dist.broadcast(buffer.data, 0)
    if run.master and config.export:
        from .export import export_model

        folder = export_model(state.model, run.out_dir / "export", config=config.to_dict(),
                              data=data.photos.summary.to_dict(), metrics=last_metrics or {},
                              floors=validation.floors or {}, iter_num=state.iter_num)
        run.log(f"exported {folder}")
        log.write({"type": "export", "iter": state.iter_num, "path": str(folder), "time": time.time()})
    log.close()
    if run.ddp:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


@dataclass
class TrainResult:
    model: ColorNet
    rank: int
    iter_num: int


def train(config: TrainConfig) -> TrainResult:
    """One whole run for a parsed config (``main`` is this behind the command line)."""
    run = setup(config)
    data = load_data(config, run)
    state = build(config, run, data)
    objective = build_objective(config, run, data, state)
    validation = prepare_validation(config, run, data, state.arch)
    if run.master:
        (run.out_dir / "config_resolved.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    log = RunLog(run)
    log.write({"type": "start", "iter": state.iter_num, "time": time.time(), "resumed_from": state.resumed_from,
               "config": config.to_dict(), "data": data.photos.summary.to_dict(),
               "params": sum(p.numel() for p in state.model.parameters())})
    with stop_on_signals() as run.stop:  # Ctrl-C / SIGTERM / SIGHUP: finish the step, checkpoint, exit 130 / 143 / 129
        last_metrics = train_loop(config, run, data, state, objective, validation, log)
    finish(config, run, data, state, validation, last_metrics, log)
    return TrainResult(state.model, run.rank, state.iter_num)


def main(argv: list[str] | None = None) -> int:
    """``colornet-train``: 0 when the run ends, 1 when it diverged (non-finite loss), 2 for a bad config, data_dir or
    resume, 130 / 143 when Ctrl-C / SIGTERM stopped it (after checkpointing); always one line on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(help_text())
        return 0
    try:
        train(parse_args(argv))
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    except TrainingInterrupted as err:
        print(f"colornet-train: {err}", file=sys.stderr)
        return err.exit_code
    except TrainingDiverged as err:
        print(f"colornet-train: error: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except ColorNetError as err:  # data_dir missing or empty, a resume that cannot continue, a bad init_from
        print(f"colornet-train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the first step (decoding, validation set-up) or a second Ctrl-C
        print("colornet-train: interrupted (checkpoints already written are kept; continue with --resume)",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
