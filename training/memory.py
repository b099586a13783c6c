"""Will one training step fit? An estimate from the model's real shapes, checked before any photo is decoded.

A ``crop_size=4096`` or ``global_size=8192`` typo would otherwise be found only after minutes of decoding, by the
kernel's OOM killer (taking the machine's other work with it) or deep inside a CUDA kernel. The estimate runs the
network once on torch's ``meta`` device (shapes only, no memory, milliseconds) and adds up what a training step
keeps: every layer's output (autograd saves it for the backward pass, and the backward pass makes a gradient of the
same size), the weights, their gradients and two optimiser states (Adam's moments, AdaDelta's accumulators).
"""

from __future__ import annotations

import dataclasses
import os

import torch

from colornet.model import ColorNet, ColorNetConfig

from .config import ConfigError, TrainConfig

# activations are kept for backward and each gets a gradient of its size during it: count them twice
ACTIVATION_FACTOR = 2
PARAMETER_COPIES = 4  # weights, gradients, two optimiser states


def step_bytes(config: TrainConfig, arch: ColorNetConfig) -> int:
    """Estimated bytes one training step of ``batch_size`` crops needs (float32), from a shape-only forward."""
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
    return 4 * (ACTIVATION_FACTOR * elements + PARAMETER_COPIES * params)


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


def check_step_memory(config: TrainConfig, arch: ColorNetConfig, device: torch.device) -> int:
    """``ConfigError`` when one step would need more memory than ``device`` has free; returns the estimate."""
    try:
        need = step_bytes(config, arch)
    except Exception:  # noqa: BLE001 -- an estimate only: a shape torch's meta kernels cannot follow is not an error
        return 0
    free = available_bytes(device)
    if free is not None and need > free:
        raise ConfigError(
            f"one training step of batch_size={config.batch_size} x crop_size={config.crop_size} "
            f"(global_size={arch.global_size}, width={arch.width:g}) needs about {need / 2**30:.1f} GiB, but only "
            f"{free / 2**30:.1f} GiB is free on {device}: lower crop_size, batch_size, global_size or width"
        )
    return need
