"""Everything the pack asks of ComfyUI, in one place, each with a fallback for use without ComfyUI.

ComfyUI's modules (``folder_paths``, ``comfy.utils``, ``comfy.model_management``) are importable only inside a running
ComfyUI. Outside it (tests, scripts) the pack still works: no progress bar, no interrupt checks, the device chosen by
``colornet.pipeline.select_device``, and models looked up in ``COLORNET_MODELS_DIR`` / the Hub cache.
"""

from __future__ import annotations

import importlib
import logging
import os
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
    from colornet.pipeline import select_device

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
