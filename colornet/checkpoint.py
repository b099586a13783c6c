"""Checkpoints: ``model.safetensors`` + ``config.json`` -- never pickle.

The architecture config, class names and training metadata are written to ``config.json`` beside the weights (what
the Hub shows) *and* into the safetensors header metadata, so a single ``.safetensors`` file dropped into a models
folder is self-contained. Loading is strict: every tensor must match the config's architecture by name and shape,
otherwise ``CheckpointMismatchError`` names what differs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .atomic import atomic_write
from .errors import CheckpointError, CheckpointMismatchError
from .model import ColorNet, ColorNetConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "colornet"
FORMAT_VERSION = 1
_METADATA_KEY = "colornet_config"


def checkpoint_document(config: ColorNetConfig, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document stored as ``config.json``."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": config.to_dict(),
        "training": training or {},
    }


def _atomic_write(path: Path, write) -> None:
    """Write via a temp file in the same folder + rename, so a crash never leaves a half-written file."""
    atomic_write(path, write)  # the mode follows the umask, like any file the user creates


def save_checkpoint(
    model: ColorNet,
    folder: str | os.PathLike,
    *,
    training: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``folder/model.safetensors`` and ``folder/config.json``; returns the weights path."""
    folder = Path(folder)
    document = checkpoint_document(model.config, training)
    tensors = {
        k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in model.state_dict().items()
    }
    metadata = {_METADATA_KEY: json.dumps(document), "format": "pt"}
    weights = folder / WEIGHTS_NAME
    _atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    _atomic_write(folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(json.dumps(document, indent=2) + "\n"))
    return weights


def read_document(weights: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's config document: from the safetensors header, else ``config.json`` beside the file."""
    weights = Path(weights)
    try:
        with safe_open(str(weights), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{weights} is not a readable safetensors file ({err}). It may be truncated or corrupt: delete it and "
            f"download it again (`colornet weights download`), or point --weights at another checkpoint."
        ) from err
    if _METADATA_KEY in metadata:
        return json.loads(metadata[_METADATA_KEY])
    for sidecar in (weights.with_suffix(".json"), weights.parent / CONFIG_NAME):
        if sidecar.is_file():
            try:
                return json.loads(sidecar.read_text())
            except json.JSONDecodeError as err:
                raise CheckpointError(f"{sidecar} is not valid JSON ({err}); restore it from the model repo.") from err
    raise CheckpointError(
        f"{weights} carries no ColorNet config (no header metadata and no {CONFIG_NAME} beside it); "
        f"put the checkpoint's {CONFIG_NAME} in the same folder."
    )


def load_state_dict(weights: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU (safetensors cannot execute code, unlike pickle)."""
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as fh:
            return {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"Could not read tensors from {weights} ({err}). The file may be truncated or corrupt: delete it and "
            f"download it again."
        ) from err


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise ``CheckpointMismatchError`` naming every missing, unexpected or wrongly-shaped tensor."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs config {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} shape mismatch(es): " + "; ".join(wrong[:5]))
        if missing:
            parts.append(f"{len(missing)} missing: " + ", ".join(missing[:5]))
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: " + ", ".join(unexpected[:5]))
        raise CheckpointMismatchError(
            f"The tensors in {source} do not match its architecture config ({' | '.join(parts)}). The weights and "
            f"config.json probably come from different checkpoints: use the config.json published with these weights."
        )


def load_checkpoint(
    weights: str | os.PathLike, *, device: torch.device | str = "cpu"
) -> tuple[ColorNet, dict[str, Any]]:
    """Build the network from a checkpoint's config and load its weights strictly. Returns (model in eval mode, doc)."""
    weights = Path(weights)
    if not weights.is_file():
        raise CheckpointError(f"Checkpoint file not found: {weights}")
    document = read_document(weights)
    if "architecture" not in document:
        raise CheckpointError(f"{weights}: config has no 'architecture' section; is this a ColorNet checkpoint?")
    config = ColorNetConfig.from_dict(document["architecture"])
    model = ColorNet(config)
    state = load_state_dict(weights)
    check_state_dict(model, state, str(weights))
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()}, strict=True)
    model.eval()
    return model.to(device), document
