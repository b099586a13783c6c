"""The one rule for each setting a user gives (library, CLI, ComfyUI nodes, training config): each check returns the
value to use or raises ``InputError`` saying what is allowed. Front ends call these and only translate the error
(the CLI into a usage error, exit 2; a node into its input error; training into a config error), so every front end
accepts and refuses the same values with the same words.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import TYPE_CHECKING

from .errors import InputError, VividnessError

if TYPE_CHECKING:
    import torch

PRIOR_MODES = ("per_image", "per_shot", "whole_batch")


def select_device(device: "str | torch.device | None" = None) -> "torch.device":
    """``None``/"auto" -> CUDA when present, else CPU; otherwise the device named, if this machine has it.

    An unknown name or a GPU this torch cannot see is an ``InputError`` saying what to pass instead, not a crash
    at the first tensor moved there."""
    import torch  # here, so checking any other setting needs no torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"Unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps.") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise InputError(
                f"Device {device!r} was asked for, but torch sees no CUDA GPU (torch {torch.__version__}, {build}). "
                f"Use device 'cpu' or 'auto', or install a CUDA build of torch (see the README)."
            )
        if dev.index is not None and dev.index >= count:
            raise InputError(f"Device {device!r} does not exist: this machine has {count} CUDA GPU(s), cuda:0..{count - 1}.")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError(f"Device {device!r} (Apple GPU) is not available here: use 'cpu' or 'auto'.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"Device {device!r} is not supported: use auto, cpu, cuda, cuda:N or mps.")
    return dev


def check_working_size(working_size: int | None) -> int | None:
    """The one rule for ``working_size``: a positive longer side in px; 0 or None = the photo's full size (the
    paper's mode, returned as None). Anything else is an ``InputError``."""
    if working_size is None:
        return None
    if isinstance(working_size, bool) or not isinstance(working_size, Integral):
        raise InputError(f"working_size must be a whole number of pixels (0 = full size), got {working_size!r}")
    if working_size < 0:
        raise InputError(f"working_size must be >= 0 (0 = full size), got {working_size}")
    return int(working_size) or None


def check_strength(strength: float) -> float:
    """``strength`` as a float: finite and >= 0 (0 = greyscale, 1 = as predicted), else an ``InputError``."""
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise InputError(f"strength must be a number >= 0, got {strength!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"strength must be a finite number >= 0 (0 = greyscale, 1 = as predicted), got {strength}")
    return value


def vividness_when_unset(head: str, vividness: float, default_vividness: float | None) -> float | None:
    """The vividness a run takes when none is asked for, from a checkpoint's architecture fields: its
    ``default_vividness``, else its trained decode's ``vividness``; None for the paper's regression head. Here,
    torch-free, so the CLI's --help reads it from a file header by the same rule the network uses."""
    if head != "distribution":
        return None
    return float(vividness if default_vividness is None else default_vividness)


def check_vividness(vividness: float | None) -> float | None:
    """``vividness`` in [0, 1] (0 = the muted end of each pixel's predicted chroma, 1 = the bold end), or None for the
    checkpoint's own default. Whether a checkpoint can use it at all is ``ColorNet.resolve_vividness``'s question."""
    if vividness is None:
        return None
    try:
        value = float(vividness)
    except (TypeError, ValueError):
        raise VividnessError(f"vividness must be a number in [0, 1], got {vividness!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise VividnessError(f"vividness must be in [0, 1] (0 = muted, 1 = boldest), got {vividness}")
    return value


def check_prior_mode(mode: str) -> str:
    if mode not in PRIOR_MODES:
        raise InputError(f"prior_mode must be one of {', '.join(PRIOR_MODES)}; got {mode!r}")
    return mode


def check_smoothing(value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"temporal_smoothing must be a number in 0..1, got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise InputError(f"temporal_smoothing must be in 0..1 (0 = off, 1 = strongest), got {value}")
    return value


def check_cut_threshold(value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"cut_threshold must be a number in (0, 1], got {value!r}") from None
    if not 0.0 < value <= 1.0:
        raise InputError(f"cut_threshold must be in (0, 1] (histogram distance), got {value}")
    return value


def check_reference_weight(value: float) -> float:
    """A reference's weight in a mix: finite and > 0 (leave a reference out instead of giving it 0)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"a reference weight must be a number > 0, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"a reference weight must be a finite number > 0 (leave a reference out instead), got {value}")
    return value


def check_max_megapixels(value: float | str | None) -> float | str | None:
    """The memory budget: "auto" (what the memory available now allows, ``images.check_size``), a limit in
    megapixels (finite, >= 0), or 0/None = no limit (returned as None)."""
    if value is None or value == "auto":
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"max_megapixels must be auto or a number >= 0 (0 = no limit), got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"max_megapixels must be auto or a finite number >= 0 (0 = no limit), got {value}")
    return value or None


def check_crf(value: int) -> int:
    """x264/x265 constant rate factor: a whole number 0 (lossless) .. 51 (worst)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value <= 51:
        raise InputError(f"crf must be a whole number from 0 (best) to 51 (worst), got {value!r}")
    return int(value)
