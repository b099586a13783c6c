"""Can one training step fit? A lower bound from the model's real shapes, checked before any photo is decoded.

A ``crop_size=4096`` or ``global_size=8192`` typo would otherwise be found only after minutes of decoding, by the
kernel's OOM killer (taking the machine's other work with it) or deep inside a CUDA kernel. The bound runs the
network once on torch's ``meta`` device (shapes only, no memory, milliseconds) and adds up what a training step
cannot do without: every layer's output, which autograd keeps for the backward pass (2 bytes a value under bf16
autocast, 4 in float32), plus the weights, their gradients and two optimiser states in float32. The backward pass
and the allocator need more than that, so a run refused here could never have fitted; one that passes may still
be tight.
"""

from __future__ import annotations

import dataclasses
import os

import torch

from colornet.model import ColorNet, ColorNetConfig

from .config import ConfigError, TrainConfig

PARAMETER_COPIES = 4  # weights, gradients, two optimiser states


def step_bytes(config: TrainConfig, arch: ColorNetConfig, activation_bytes: int = 4) -> int:
    """At least this many bytes does one training step of ``batch_size`` crops need (activations at
    ``activation_bytes`` a value: 2 under bf16 autocast), from a shape-only forward."""
    bins = 0
    if arch.head == "distribution":  # its bin table is built with data-dependent indexing (no meta kernel)
        from colornet.colorbins import gamut_bins

        bins = int(gamut_bins(arch.ab_grid).shape[0])
        arch = dataclasses.replace(arch, head="regression")
    with torch.device("meta"):
        model = ColorNet(arch)
        lightness = torch.empty(config.batch_size, 1, config.crop_size, config.crop_size)
        global_l = torch.empty(config.batch_size, 1, arch.global_size, arch.global_size)
    elements = 0

    def count(_module, _inputs, output) -> None:
        nonlocal elements
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        elements += sum(o.numel() for o in outputs if isinstance(o, torch.Tensor))

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        prior = model.encode_global(global_l)
        model.predict_head_half(lightness, prior)
    finally:
        for hook in hooks:
            hook.remove()
    params = sum(p.numel() for p in model.parameters())
    if bins:  # the regression output stands in for the bin logits: add them, their softmax and the soft targets
        half = ((config.crop_size + 1) // 2) ** 2
        elements += 3 * config.batch_size * bins * half
        params += bins * (arch.ch(32) + 1)
    return activation_bytes * elements + 4 * PARAMETER_COPIES * params


def available_bytes(device: torch.device) -> int | None:
    """Free memory where the step runs: the GPU's free memory, or the system's available RAM (None: unknown)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_step_memory(config: TrainConfig, arch: ColorNetConfig, device: torch.device, bf16: bool = False) -> int:
    """``ConfigError`` when one step needs more memory than ``device`` has free even by the lower bound; returns it."""
    try:
        need = step_bytes(config, arch, activation_bytes=2 if bf16 else 4)
    except Exception:  # noqa: BLE001 -- an estimate only: a shape torch's meta kernels cannot follow is not an error
        return 0
    free = available_bytes(device)
    if free is not None and need > free:
        raise ConfigError(
            f"one training step of batch_size={config.batch_size} x crop_size={config.crop_size} "
            f"(global_size={arch.global_size}, width={arch.width:g}) needs at least {need / 2**30:.1f} GiB, but only "
            f"{free / 2**30:.1f} GiB is free on {device}: lower crop_size, batch_size, global_size or width"
        )
    return need
