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

LEGACY_GPU = "gpu"  # the old device choice "any GPU": still accepted from saved workflows, no longer listed
DTYPES = {"auto": None, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DEFAULT_CHOICE = "default"
# Loaded models are cached here between runs (at most CACHE_SIZE, the most recently used) so a graph run again does
# not reload them. On a GPU they wait on the CPU: each node moves the network to the GPU for its run, after asking
# ComfyUI's model management to free the memory the run needs, and back afterwards (``_comfy.on_device``, the way
# core nodes run upscale models), so ComfyUI never finds GPU memory held behind its back. clear_cache() empties it.
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


def device_choices() -> list[str]:
    """The devices this machine has: auto, cpu, each CUDA GPU by index and name, Apple's mps."""
    choices = ["auto", "cpu"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            try:
                name = torch.cuda.get_device_name(i)
            except Exception:  # a GPU torch lists but cannot query still works by index
                name = "GPU"
            choices.append(f"cuda:{i} ({name})")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        choices.append("mps")
    return choices


def weights_tooltip() -> str:
    """What each checkpoint is and where its file comes from, read from the manifest (the truth, not a promise)."""
    lines = [
        "Checkpoint. Looked for, in order: a file you put in ComfyUI/models/colornet (or a 'colornet:' folder of "
        "extra_model_paths.yaml), COLORNET_MODELS_DIR, the Hugging Face cache, a download from the Hub (published "
        "checkpoints only), the copy bundled with the pack."
    ]
    try:
        from colornet.weights import list_weights

        for info in list_weights(models_dir=_comfy.models_folders() or None):
            if info.entry is None:
                lines.append(f"- {info.name}: your file in models/colornet.")
                continue
            where = "Bundled with the pack" if info.bundled else "Downloaded from the Hub on first use" \
                if info.published else "Not on this machine"
            size = f", {info.size / 1e6:.1f} MB" if info.size else ""
            default = " (default)" if info.default else ""
            lines.append(f"- {info.name}{default}: {info.entry.description.rstrip('. ')}. {where}{size}.")
    except Exception as exc:  # the tooltip must never hide the node
        log.warning("ColorNet: cannot describe the checkpoints: %s", exc)
    return "\n".join(lines)


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _device(choice: str) -> torch.device:
    """A device choice (``cuda:N (name)`` as listed, or a saved workflow's ``gpu``/``cuda:N``) -> torch.device."""
    if choice == "auto":
        return _comfy.default_device()
    if choice == "cpu":
        return torch.device("cpu")
    if choice == LEGACY_GPU:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        raise ColorNetInputError(f"device 'gpu' (saved in this workflow) but this machine has no GPU torch can use: "
                                 f"choose one of {device_choices()}.")
    from colornet.errors import InputError
    from colornet.checks import select_device

    try:
        return select_device(choice.split(" ", 1)[0])  # "cuda:0 (NVIDIA ...)" -> "cuda:0"; checks it exists
    except InputError as exc:
        raise ColorNetInputError(f"{exc} This machine offers: {', '.join(device_choices())}.") from exc


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
        raise _renamed(exc,
            f"checkpoint '{weights}': {exc}\nIn ComfyUI: put a ColorNet .safetensors checkpoint into {where} and "
            f"pick it in the Loader's 'weights' list (press R to refresh the lists), or let the node download it once "
            f"while online."
        ) from exc
    return str(resolved.path), resolved.name


def _renamed(exc: Exception, message: str) -> Exception:
    """The same kind of error with ``message`` (ComfyUI shows the type and message), or a RuntimeError if that
    kind cannot be built from a message alone."""
    try:
        return type(exc)(message)
    except Exception:
        return RuntimeError(message)


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
        try:
            colorizer = Colorizer.from_pretrained(path, device=dev)
        except Exception as exc:  # name the checkpoint the artist picked, whatever the library found wrong
            raise _renamed(exc, f"checkpoint '{weights}' ({path}): {exc}") from exc
    model = ColorNetModel(colorizer=colorizer, name=label, source=path, dtype=precision)
    if precision != torch.float32:
        with _comfy.on_device(model, (32, 32)):
            _check_reduced_precision(model)
    if dev.type != "cpu":  # kept on the CPU between runs; each node moves it to the device for its run
        colorizer.model.to("cpu")
        colorizer.release_device_copies()
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
        "Loads a ColorNet colorization checkpoint (Iizuka et al., 'Let there be Color!', SIGGRAPH 2016) for "
        "colorizing black and white / greyscale photos. Pick a checkpoint by name (the pack bundles its default, so "
        "it works offline) or a .safetensors file you put in ComfyUI's models/colornet folder. Loaded models are "
        "kept in memory and reused by later runs; ComfyUI's 'Unload models' frees them."
    )
    CATEGORY = f"{CATEGORY}/loaders"
    FUNCTION = "load"
    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("colornet_model",)
    OUTPUT_TOOLTIPS = ("The loaded ColorNet model: connect it to ColorNet Global Prior, ColorNet Colorize or ColorNet Scene Classify.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        choices = weights_choices()
        return {
            "required": {
                "weights": (choices, {
                    "default": choices[0],
                    "tooltip": weights_tooltip(),
                }),
                "device": (device_choices(), {
                    "default": "auto",
                    "tooltip": "Where the network runs: the devices this machine has. auto = ComfyUI's device (the "
                               "CPU when ComfyUI was started with --cpu).",
                }),
                "dtype": (list(DTYPES), {
                    "default": "auto",
                    "tooltip": "Compute precision. auto = float32 on the CPU, float16/bfloat16 on a GPU when "
                               "ComfyUI's model management says it supports it. Weights stay float32.",
                }),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, device: str = "auto") -> bool | str:
        """Taking over the check of ``device`` lets workflows saved on another machine (a ``cuda:1`` or the old
        ``gpu`` choice) load and say clearly what this machine has when run, rather than fail validation."""
        return True

    def load(self, weights: str, device: str = "auto", dtype: str = "auto") -> tuple[ColorNetModel]:
        return (load(weights, device, dtype),)
