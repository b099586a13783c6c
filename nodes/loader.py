"""ColorNet Loader: a checkpoint by manifest name or by file in ComfyUI's ``models/colornet`` -> COLORNET_MODEL."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any

import torch

from . import _comfy
from ._common import CATEGORY, MODEL_TYPE, ColorNetInputError, ColorNetModel

log = logging.getLogger("ColorNet")

DEVICES = ["auto", "cpu", "gpu"]
DTYPES = {"auto": None, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DEFAULT_CHOICE = "default"
# Loaded models kept between runs, outside ComfyUI's model management, on purpose: ComfyUI frees memory by offloading
# ModelPatcher-wrapped models, but a Colorizer runs a batch-norm-folded copy of its weights built on its device, which
# a ModelPatcher would move back and forth (and re-fold) on every run. The models are small (the default 6.5 MB; the
# paper-size network ~170 MB plus its folded convs), so at most CACHE_SIZE stay resident; ComfyUI's "Free model and
# node cache" does not reach them, clear_cache() does.
CACHE_SIZE = 3

_CACHE: "OrderedDict[tuple, ColorNetModel]" = OrderedDict()
_LOCK = threading.Lock()


def weights_choices() -> list[str]:
    """Manifest names (default first), then checkpoint files found in ComfyUI's ``models/colornet`` folders."""
    names: list[str] = []
    try:
        from colornet.weights import list_weights

        names = [info.name for info in list_weights(models_dir=_comfy.models_folders() or None) if info.entry]
    except Exception as exc:  # a broken manifest must not hide the node: the error shows when it runs
        log.warning("ColorNet: cannot read the weights manifest: %s", exc)
    files = [f for f in _comfy.local_model_files() if f not in names]
    return (names or [DEFAULT_CHOICE]) + files


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _device(choice: str) -> torch.device:
    if choice == "auto":
        return _comfy.default_device()
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "gpu":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        raise ColorNetInputError("device 'gpu' was chosen but no CUDA or MPS GPU is visible to torch: choose 'auto' or 'cpu'.")
    raise ColorNetInputError(f"Unknown device '{choice}': choose one of {DEVICES}.")


def _dtype(choice: str, device: torch.device) -> torch.dtype:
    if choice not in DTYPES:
        raise ColorNetInputError(f"Unknown dtype '{choice}': choose one of {list(DTYPES)}.")
    return DTYPES[choice] or _comfy.default_dtype(device)


def _resolve(weights: str, progress: Any) -> tuple[str, str]:
    """The checkpoint file for a dropdown choice (downloading a manifest entry if needed) -> (path, label)."""
    from colornet.weights import resolve_weights

    folders = _comfy.models_folders()
    local = _comfy.local_model_path(weights) if weights.endswith(".safetensors") else None
    if local is not None:
        return local, weights
    if weights.endswith(".safetensors") and not os.path.isabs(weights) and not folders:
        # outside ComfyUI a file choice is a path relative to the working folder
        return os.path.abspath(weights), weights
    name = None if weights in ("", DEFAULT_CHOICE) else weights
    try:
        resolved = resolve_weights(name, models_dir=folders or None, progress=progress)
    except FileNotFoundError as exc:
        where = folders[0] if folders else "the folder named by COLORNET_MODELS_DIR"
        raise type(exc)(
            f"{exc}\nIn ComfyUI: put a ColorNet .safetensors checkpoint into {where} and pick it in the Loader's "
            f"'weights' list (press R to refresh the lists), or let the node download it once while online."
        ) from exc
    return str(resolved.path), resolved.name


def load(weights: str = DEFAULT_CHOICE, device: str = "auto", dtype: str = "auto") -> ColorNetModel:
    """Load (or fetch from the cache) the checkpoint chosen in the Loader node."""
    from colornet.pipeline import Colorizer

    dev = _device(device)
    precision = _dtype(dtype, dev)
    bar = _comfy.progress_bar(100)

    def progress(done: int, total: int | None) -> None:
        bar.update_absolute(int(done), int(total) if total else max(int(done), 1))

    path, label = _resolve(weights, progress)
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    key = (os.path.realpath(path), stamp, str(dev), str(precision))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            bar.update_absolute(100, 100)
            return cached
    log.info("ColorNet: loading %s (%s) on %s, %s", label, path, dev, precision)
    # ComfyUI runs nodes under torch.inference_mode(); weights made there would be inference tensors, which can't be
    # used with autograd outside it. The model is cached across runs (and other packs may reuse it), so load it as
    # ordinary tensors. (colornet itself also runs on inference tensors: see colornet.fold.)
    with torch.inference_mode(False):
        colorizer = Colorizer.from_pretrained(path, device=dev)
    model = ColorNetModel(colorizer=colorizer, name=label, source=path, dtype=precision)
    if precision != torch.float32:
        _check_reduced_precision(model)
    with _LOCK:
        _CACHE[key] = model
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    bar.update_absolute(100, 100)
    return model


def _check_reduced_precision(model: ColorNetModel) -> None:
    """Reduced precision is an optimisation: if this checkpoint/pipeline cannot run under it (one tiny test image),
    fall back to float32 with a warning rather than fail every later run."""
    probe = torch.linspace(0, 1, 3 * 32 * 32, device=model.colorizer.device).view(1, 3, 32, 32)
    try:
        with torch.inference_mode(), model.precision():
            out = model.colorizer.colorize_rgb(probe, model.colorizer.prior_from_rgb(probe))
        if not bool(torch.isfinite(out).all()):
            raise FloatingPointError("non-finite output")
    except Exception as exc:  # any failure here means "use float32", never "no model"
        log.warning("ColorNet: %s does not run in %s here (%s: %s); using float32 instead.", model.name,
                    model.dtype, type(exc).__name__, exc)
        model.dtype = torch.float32


class ColorNetLoader:
    DESCRIPTION = (
        "Loads a ColorNet colorization checkpoint (Iizuka et al., 'Let there be Color!', SIGGRAPH 2016). Pick a "
        "published checkpoint by name (downloaded from the Hugging Face Hub on first use, then cached) or a "
        ".safetensors file you put in ComfyUI's models/colornet folder. Loaded models are kept in memory and "
        "reused by later runs."
    )
    CATEGORY = f"{CATEGORY}/loaders"
    FUNCTION = "load"
    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("colornet_model",)
    OUTPUT_TOOLTIPS = ("The loaded ColorNet model: connect it to GlobalPrior, FuseColorize or SceneClassify.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        choices = weights_choices()
        return {
            "required": {
                "weights": (choices, {
                    "default": choices[0],
                    "tooltip": "Checkpoint: a name from the ColorNet weights manifest (downloaded from the Hub on "
                               "first use) or a .safetensors file in ComfyUI/models/colornet.",
                }),
                "device": (DEVICES, {
                    "default": "auto",
                    "tooltip": "Where the network runs. auto = ComfyUI's device (the CPU when started with --cpu).",
                }),
                "dtype": (list(DTYPES), {
                    "default": "auto",
                    "tooltip": "Compute precision. auto = float32 on the CPU, float16/bfloat16 on a GPU when "
                               "ComfyUI's model management says it supports it. Weights stay float32.",
                }),
            }
        }

    def load(self, weights: str, device: str = "auto", dtype: str = "auto") -> tuple[ColorNetModel]:
        return (load(weights, device, dtype),)
