"""Everything the pack asks of ComfyUI, in one place, each with a fallback for use without ComfyUI.

ComfyUI's modules (``folder_paths``, ``comfy.utils``, ``comfy.model_management``) are importable only inside a running
ComfyUI. Outside it (tests, scripts) the pack still works: no progress bar, no interrupt checks, the device chosen by
``colornet.checks.select_device``, and models looked up in ``COLORNET_MODELS_DIR`` / the Hub cache.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import os
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

import torch

log = logging.getLogger("ColorNet")

MODELS_FOLDER = "colornet"  # ComfyUI/models/colornet, registered with folder_paths as "colornet"
MODEL_EXTENSIONS = {".safetensors"}


def _comfy_module(name: str) -> Any | None:
    """A ComfyUI module if we run inside ComfyUI, else None (never raises)."""
    try:
        return importlib.import_module(name)
    except Exception:  # not inside ComfyUI (ImportError) or a broken install: behave as a plain library
        return None


def folder_paths() -> Any | None:
    fp = _comfy_module("folder_paths")
    # a stray module named folder_paths elsewhere must not be mistaken for ComfyUI's
    return fp if fp is not None and hasattr(fp, "get_filename_list") and hasattr(fp, "models_dir") else None


def register_models_folder() -> list[str]:
    """Register ``models/colornet`` with ComfyUI's ``folder_paths``; keeps folders the user configured.

    Paths set in ``extra_model_paths.yaml`` under ``colornet:`` come first (ComfyUI reads that file before it
    imports custom nodes); the default ``<models_dir>/colornet`` is appended. Returns the folders, [] outside ComfyUI.
    """
    fp = folder_paths()
    if fp is None:
        return []
    default = os.path.join(fp.models_dir, MODELS_FOLDER)
    try:
        os.makedirs(default, exist_ok=True)
    except OSError as exc:  # read-only install: still usable with files elsewhere
        log.warning("ColorNet: cannot create %s (%s)", default, exc)
    entry = fp.folder_names_and_paths.get(MODELS_FOLDER)
    if entry is None:
        fp.folder_names_and_paths[MODELS_FOLDER] = ([default], set(MODEL_EXTENSIONS))
    else:
        paths, extensions = entry
        if default not in paths:
            paths.append(default)
        if isinstance(extensions, set):
            extensions.update(MODEL_EXTENSIONS)
        else:  # some versions keep a list
            fp.folder_names_and_paths[MODELS_FOLDER] = (paths, set(extensions) | MODEL_EXTENSIONS)
    return list(fp.folder_names_and_paths[MODELS_FOLDER][0])


SAMPLE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def install_example_inputs(samples: Path) -> list[str]:
    """Copy the sample pictures the example workflows load into ComfyUI's ``input/`` folder, so that every example
    runs on its first click (Load Image only lists and reads files there). A file already there is never
    overwritten, not even one with other content (a user's own picture of the same name wins). Returns the names
    copied; nothing outside ComfyUI or when ``input/`` cannot be written (each example then says which file
    Load Image is missing)."""
    fp = folder_paths()
    if fp is None or not hasattr(fp, "get_input_directory") or not samples.is_dir():
        return []
    copied = []
    try:
        target = Path(fp.get_input_directory())
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted(samples.iterdir()):
            if src.suffix.lower() not in SAMPLE_SUFFIXES or not src.is_file():
                continue
            dest = target / src.name
            try:  # "x": fails if the file exists, so two servers starting at once cannot clobber each other
                out = open(dest, "xb")
            except FileExistsError:
                continue
            try:
                with out:
                    out.write(src.read_bytes())
            except OSError:
                dest.unlink(missing_ok=True)  # never leave half a picture under the sample's name
                raise
            copied.append(src.name)
    except OSError as exc:  # read-only install: the examples still load; their Load Image nodes name the file
        log.warning("ColorNet: cannot copy the example pictures into ComfyUI's input folder (%s)", exc)
    if copied:
        log.info("ColorNet: copied %d example pictures into %s: %s", len(copied), target, ", ".join(copied))
    return copied


def _ask_folder_paths(method: str, fallback: Any) -> list[str]:
    """``folder_paths.<method>("colornet")`` inside ComfyUI, [] outside; ``fallback()`` if ComfyUI raises."""
    fp = folder_paths()
    if fp is None:
        return []
    try:
        return list(getattr(fp, method)(MODELS_FOLDER))
    except Exception as exc:
        log.warning("ColorNet: folder_paths.%s(%r) failed: %s", method, MODELS_FOLDER, exc)
        return fallback()


def models_folders() -> list[str]:
    """The registered ``models/colornet`` folders (registering them first if ComfyUI does not know the name)."""
    return _ask_folder_paths("get_folder_paths", register_models_folder)


def local_model_files() -> list[str]:
    """Checkpoint files under the registered ``models/colornet`` folders (names relative to them)."""
    return _ask_folder_paths("get_filename_list", list)


def local_model_path(filename: str) -> str | None:
    fp = folder_paths()
    return fp.get_full_path(MODELS_FOLDER, filename) if fp is not None else None


class _NoProgress:
    def update(self, value: int) -> None:
        pass

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        pass


def progress_bar(total: int) -> Any:
    """``comfy.utils.ProgressBar`` inside ComfyUI (the bar on the running node), else a no-op."""
    utils = _comfy_module("comfy.utils")
    if utils is not None and hasattr(utils, "ProgressBar"):
        return utils.ProgressBar(max(int(total), 1))
    return _NoProgress()


def check_interrupt() -> None:
    """Raise ComfyUI's interrupt exception if the user pressed Cancel; no-op outside ComfyUI."""
    mm = _comfy_module("comfy.model_management")
    if mm is not None and hasattr(mm, "throw_exception_if_processing_interrupted"):
        mm.throw_exception_if_processing_interrupted()


def default_device() -> torch.device:
    """ComfyUI's compute device (CPU under ``--cpu``), else CUDA when present, else CPU."""
    mm = _comfy_module("comfy.model_management")
    if mm is not None and hasattr(mm, "get_torch_device"):
        try:
            return torch.device(mm.get_torch_device())
        except Exception as exc:
            log.warning("ColorNet: ComfyUI could not name a device (%s); choosing one myself", exc)
    from colornet.checks import select_device

    return select_device(None)


def default_dtype(device: torch.device) -> torch.dtype:
    """Compute precision: float32 on CPU; on a GPU what ComfyUI's model management says it handles (fp16/bf16)."""
    if device.type == "cpu":
        return torch.float32
    mm = _comfy_module("comfy.model_management")
    if mm is not None:
        try:
            if mm.should_use_fp16(device, prioritize_performance=True):
                return torch.float16
            if mm.should_use_bf16(device, prioritize_performance=True):
                return torch.bfloat16
        except Exception as exc:
            log.debug("ColorNet: dtype query failed (%s), using float32", exc)
    return torch.float32


# ---------------------------------------------------------------------------------------------- memory, as core nodes

MIN_TILE = 256  # the smallest network tile an out-of-memory retry goes down to (input px; > 2 x halo + ramps)
BYTES_PER_PIXEL = 64  # full-resolution work per pixel: RGB in/out, L, ab, Lab strips (float32), generously
BYTES_PER_NETWORK_PIXEL = 2048  # the paper-size network's peak activations per input pixel (float32), generously


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's (CUDA/MPS/CPU allocator) out-of-memory errors, whatever their class in this torch version."""
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    text = str(exc).lower()
    return isinstance(exc, (MemoryError, RuntimeError)) and ("out of memory" in text or "can't allocate memory" in text)


def memory_needed(size_hw: tuple[int, int], working_size: int | None, tile: int | None, weights_bytes: int) -> int:
    """A generous estimate of the bytes one image of ``size_hw`` needs on the device: the weights (and their
    folded copy), the full-resolution Lab work, the network's activations at the working size or one tile."""
    from colornet.pipeline import working_shape

    height, width = int(size_hw[0]), int(size_hw[1])
    h, w = working_shape(height, width, working_size)
    network_pixels = min(h * w, tile * tile) if tile else h * w
    return 2 * weights_bytes + BYTES_PER_PIXEL * height * width + BYTES_PER_NETWORK_PIXEL * network_pixels


@contextlib.contextmanager
def on_device(model: Any, size_hw: tuple[int, int] | None = None) -> Iterator[None]:
    """Run a ColorNet model on its device the way ComfyUI's core nodes run their small models (upscale models):
    ask ComfyUI's model management to free what the work needs (it unloads other models if it must), move the
    network to the device, run, and move it back to the CPU afterwards, so no GPU memory stays held outside
    ComfyUI's model management ("Unload models" has nothing of ours left to free). On the CPU: nothing to do."""
    colorizer = model.colorizer
    device = colorizer.device
    if device.type == "cpu":
        yield
        return
    mm = _comfy_module("comfy.model_management")
    weights = sum(t.numel() * t.element_size() for t in colorizer.model.state_dict().values())
    needed = memory_needed(size_hw or (1024, 1024), colorizer.working_size, colorizer.tile, weights)
    if mm is not None and hasattr(mm, "free_memory"):
        try:
            mm.free_memory(needed, device)
        except Exception as exc:  # a failure to make room must not stop the run: it may fit anyway
            log.warning("ColorNet: ComfyUI could not free %.0f MB on %s (%s)", needed / 2**20, device, exc)
    colorizer.model.to(device)
    try:
        yield
    finally:
        colorizer.model.to("cpu")
        colorizer.release_device_copies()
        if mm is not None and hasattr(mm, "soft_empty_cache"):
            mm.soft_empty_cache()


def retry_smaller_tiles_on_oom(colorizer: Any, run: Callable[[Any], Any]) -> Any:
    """``run(colorizer)``; on out-of-memory, free the cache and retry with network tiles half the size, down to
    ``MIN_TILE`` (as core nodes retry VAE decoding tiled). The last failure says what to do."""
    runner, tile = colorizer, colorizer.tile
    while True:
        try:
            return run(runner)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            failed = exc
        mm = _comfy_module("comfy.model_management")
        if mm is not None and hasattr(mm, "soft_empty_cache"):
            mm.soft_empty_cache()
        side = tile or (runner.working_size or 4096)
        if side <= MIN_TILE:
            raise RuntimeError(
                f"ColorNet ran out of memory on {colorizer.device} even in {side} px tiles ({failed}). Lower "
                f"working_size, colorize a smaller image, or free memory (ComfyUI: Unload models)."
            ) from failed
        tile = max(MIN_TILE, side // 2 // 8 * 8)
        log.warning("ColorNet: out of memory on %s; retrying in %d px tiles", colorizer.device, tile)
        runner = copy.copy(runner)
        runner.tile = tile
