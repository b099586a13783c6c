"""Checkpoints: ``model.safetensors`` + ``config.json`` -- never pickle.

The architecture config, class names and training metadata are written to ``config.json`` beside the weights (what
the Hub shows) *and* into the safetensors header metadata, so a single ``.safetensors`` file dropped into a models
folder is self-contained. Loading is strict: every tensor must match the config's architecture by name and shape,
otherwise ``CheckpointMismatchError`` names what differs.
"""

from __future__ import annotations

import json
import math
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
    atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    atomic_write(folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(json.dumps(document, indent=2) + "\n"))
    return weights


_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}
MAX_PARAMETERS = 400_000_000  # ~1.6 GB in float32; the paper's network has 42 M: a config beyond this is refused
_MAX_CLASSES = 100_000


def _open(weights: Path, what: str):
    """``safe_open`` of ``weights`` with the one error for an unreadable file."""
    try:
        return safe_open(str(weights), framework="pt", device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"Could not read {what} from {weights} ({err}). It is not a readable safetensors file: it may be "
            f"truncated or corrupt. Delete it and download it again (`colornet weights download`), or point "
            f"--weights at another checkpoint."
        ) from err


def _parse_document(text: str, source: Path | str) -> dict[str, Any]:
    """The config document from JSON text: an object, or one ``CheckpointError`` (bad JSON, deep nesting, ...)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError; deep nesting a RecursionError
        raise CheckpointError(f"{source}: its ColorNet config is not valid JSON ({type(err).__name__}); "
                              f"restore the checkpoint (or its config.json) from the model repo.") from None
    if not isinstance(document, dict):
        raise CheckpointError(f"{source}: its ColorNet config is a JSON {type(document).__name__}, not an object; "
                              f"is this a ColorNet checkpoint?")
    return document


def read_document(weights: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's config document: from the safetensors header, else ``config.json`` beside the file."""
    weights = Path(weights)
    with _open(weights, "the header") as fh:
        metadata = fh.metadata() or {}
    if _METADATA_KEY in metadata:
        return _parse_document(metadata[_METADATA_KEY], f"{weights} (header)")
    for sidecar in (weights.with_suffix(".json"), weights.parent / CONFIG_NAME):
        if sidecar.is_file():
            try:
                text = sidecar.read_text()
            except (OSError, UnicodeDecodeError) as err:
                raise CheckpointError(f"{sidecar} is unreadable ({err}); restore it from the model repo.") from err
            return _parse_document(text, sidecar)
    raise CheckpointError(
        f"{weights} carries no ColorNet config (no header metadata and no {CONFIG_NAME} beside it); "
        f"put the checkpoint's {CONFIG_NAME} in the same folder."
    )


def config_from_document(document: dict[str, Any], source: str) -> ColorNetConfig:
    """The architecture config of a checkpoint document, every field checked for type and range *before* anything
    is sized from it (a 4 KB file must not be able to make the loader allocate gigabytes)."""
    arch = document.get("architecture")
    if not isinstance(arch, dict):
        raise CheckpointError(f"{source}: config has no 'architecture' object; is this a ColorNet checkpoint?")

    def bad(key: str, want: str) -> CheckpointError:
        return CheckpointError(f"{source}: architecture field '{key}' is {arch[key]!r}; expected {want}.")

    def number(key: str, lo: float, hi: float, whole: bool) -> None:
        value = arch[key]
        kinds = (int,) if whole else (int, float)
        if key in arch and (isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi):
            raise bad(key, f"{'a whole number' if whole else 'a number'} from {lo} to {hi}")

    # vividness: the default decode (1 - vividness is the temperature; NaN or >1 would decode every pixel to NaN
    # or silently to the mode)
    checks = {"width": (1 / 64, 16.0, False), "global_size": (32, 4096, True), "global_dim": (1, 65536, True),
              "vividness": (0.0, 1.0, False), "default_vividness": (0.0, 1.0, False)}
    for key, (lo, hi, whole) in checks.items():
        if key in arch and not (key == "default_vividness" and arch[key] is None):  # None: the trained decode
            number(key, lo, hi, whole)
    if "batch_norm" in arch and not isinstance(arch["batch_norm"], bool):
        raise bad("batch_norm", "true or false")
    if "name" in arch and not isinstance(arch["name"], str):
        raise bad("name", "a string")
    names = arch.get("class_names", [])
    if not (isinstance(names, list) and len(names) <= _MAX_CLASSES and all(isinstance(n, str) for n in names)):
        raise CheckpointError(f"{source}: architecture field 'class_names' must be a list of at most "
                              f"{_MAX_CLASSES:,} strings.")
    try:
        return ColorNetConfig.from_dict(arch)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: architecture config is not usable ({err}).") from err


def expected_shapes(config: ColorNetConfig) -> dict[str, tuple[tuple[int, ...], bool]]:
    """``name -> (shape, is_float)`` of every tensor the architecture has, computed on the meta device: no memory is
    allocated however large the config says the network is."""
    try:
        with torch.device("meta"):
            model = ColorNet(config)
    except (RuntimeError, ValueError, OverflowError, MemoryError) as err:
        raise CheckpointError(f"The architecture config cannot be built ({type(err).__name__}: {err}).") from err
    return {k: (tuple(v.shape), v.is_floating_point()) for k, v in model.state_dict().items()}


def file_shapes(weights: str | os.PathLike) -> dict[str, tuple[tuple[int, ...], str]]:
    """``name -> (shape, safetensors dtype)`` of every tensor in the file, read from its header only."""
    with _open(Path(weights), "the tensor list") as fh:
        return {k: (tuple(fh.get_slice(k).get_shape()), fh.get_slice(k).get_dtype()) for k in fh.keys()}


def load_state_dict(weights: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU (safetensors cannot execute code, unlike pickle)."""
    try:
        with _open(Path(weights), "tensors") as fh:
            return {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(
            f"Could not read tensors from {weights} ({err}). The file may be truncated or corrupt: delete it and "
            f"download it again."
        ) from err


def check_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], source: str) -> None:
    """Raise ``CheckpointMismatchError`` naming every missing, unexpected or wrongly-shaped tensor."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [
        f"{k}: file {found[k]} vs config {expected[k]}"
        for k in sorted(set(expected) & set(found))
        if tuple(found[k]) != tuple(expected[k])
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


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``check_shapes`` of a loaded state dict against a built model."""
    check_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()},
                 {k: tuple(v.shape) for k, v in state.items()}, source)


def load_checkpoint(
    weights: str | os.PathLike, *, device: torch.device | str = "cpu"
) -> tuple[ColorNet, dict[str, Any]]:
    """Build the network from a checkpoint's config and load its weights strictly. Returns (model in eval mode, doc).

    Everything is checked before the network is built: the config's types and ranges, its size (at most
    ``MAX_PARAMETERS``), and every tensor's name, shape and dtype in the file's header against the architecture;
    then every weight must be finite. Any failure is one ``CheckpointError`` saying what is wrong.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise CheckpointError(f"Checkpoint file not found: {weights}")
    document = read_document(weights)
    config = config_from_document(document, str(weights))
    expected = expected_shapes(config)
    count = sum(math.prod(shape) for shape, is_float in expected.values() if is_float)
    if count > MAX_PARAMETERS:
        raise CheckpointError(
            f"{weights}: its config describes a network of {count / 1e6:,.0f} M parameters, more than the "
            f"{MAX_PARAMETERS / 1e6:,.0f} M this loader accepts (the paper's network has 42 M); the config is wrong."
        )
    found = file_shapes(weights)
    check_shapes({k: v[0] for k, v in expected.items()}, {k: v[0] for k, v in found.items()}, str(weights))
    wrong_dtype = [f"{k} ({found[k][1]})" for k, (_, is_float) in expected.items() if is_float and found[k][1] not in _FLOAT_DTYPES]
    if wrong_dtype:
        raise CheckpointError(f"{weights}: weights must be floating point, but {', '.join(wrong_dtype[:5])} are not.")
    state = load_state_dict(weights)
    non_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if non_finite:
        raise CheckpointError(
            f"{weights}: {len(non_finite)} tensor(s) hold NaN or infinite values ({', '.join(non_finite[:5])}): the "
            f"training run diverged or the file is damaged. Use an earlier checkpoint."
        )
    model = ColorNet(config)
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()}, strict=True)
    model.eval()
    return model.to(device), document
