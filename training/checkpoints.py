"""Resumable training checkpoints, written atomically, the newest K kept.

A checkpoint is a folder ``out_dir/ckpt-<iter>/`` holding

* ``model.safetensors`` + ``config.json`` -- written by ``colornet.checkpoint.save_checkpoint`` (so any training
  checkpoint loads with the library's ``load_checkpoint``), the training state in ``config.json["training"]``;
* ``optimizer.safetensors`` -- the optimiser's tensors, with its param groups and scalars in the header metadata.

No pickle anywhere. The folder is first written as a hidden temp folder and renamed into place only once every file is
complete and fsynced, so a crash (even ``kill -9``) in the middle of a save leaves the earlier checkpoints untouched
and at worst a ``.ckpt-*.tmp`` folder, which the next save deletes. Saving a step that exists again moves the old
copy to ``.ckpt-N.old`` first; if the process dies between the two renames, that copy is still found (and put back)
as step N, never swept away as a stale temp folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from colornet.checkpoint import (CONFIG_NAME, WEIGHTS_NAME, check_state_dict, file_shapes, load_state_dict,
                                 read_document, save_checkpoint)
from colornet.errors import CheckpointError

OPTIMIZER_NAME = "optimizer.safetensors"
_CKPT_RE = re.compile(r"^ckpt-(\d+)$")
_OLD_RE = re.compile(r"^\.(ckpt-\d+)\.old(?:\.tmp)?$")  # the previous copy of a step being saved again


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def optimizer_to_safetensors(optimizer: torch.optim.Optimizer, path: Path) -> None:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    meta = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}
    save_file(tensors, str(path), metadata=meta)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def optimizer_from_safetensors(path: Path, *, header_only: bool = False) -> dict[str, Any]:
    """The optimiser state dict stored by ``optimizer_to_safetensors``. A truncated or damaged file is a
    ``CheckpointError`` (safetensors checks at open that the header covers the whole file, so ``header_only`` is
    enough to tell, without reading the tensors)."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            tensors = {} if header_only else {k: fh.get_tensor(k) for k in fh.keys()}
        json.loads(meta["param_groups"])
    except (SafetensorError, OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path} is not a readable optimiser state ({err}); it may be truncated") from err
    state: dict[int, dict[str, Any]] = {}
    for name, value in list(tensors.items()) + list(json.loads(meta.get("scalars", "{}")).items()):
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": json.loads(meta["param_groups"])}


def list_checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoint folders, oldest first. A ``.ckpt-N.old`` copy counts as step N while ``ckpt-N`` is
    missing (a process killed between the two renames of a re-save left it as the only complete copy)."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    found = {p.name: p for p in out.iterdir() if p.is_dir() and _CKPT_RE.match(p.name)}
    for p in out.iterdir():
        if (m := _OLD_RE.match(p.name)) and p.is_dir() and m.group(1) not in found:
            found[m.group(1)] = p
    return [found[name] for name in sorted(found, key=lambda n: int(_CKPT_RE.match(n).group(1)))]


def _recover_old_copies(out: Path) -> None:
    """Put back a ``.ckpt-N.old`` whose ``ckpt-N`` is missing; delete it when ``ckpt-N`` is complete again."""
    for p in out.iterdir():
        if (m := _OLD_RE.match(p.name)) and p.is_dir():
            if (out / m.group(1)).is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.rename(p, out / m.group(1))


def save_training_checkpoint(
    out_dir: str | os.PathLike,
    iter_num: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    training: dict[str, Any],
    keep_last: int = 3,
) -> Path:
    """Write ``ckpt-<iter_num>`` atomically, then delete all but the newest ``keep_last`` and stale temp folders."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _recover_old_copies(out)
    final = out / f"ckpt-{iter_num:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".ckpt-{iter_num:08d}.", suffix=".tmp", dir=out))
    try:
        save_checkpoint(model, tmp, training=dict(training, iter_num=iter_num))  # each file fsynced + renamed
        optimizer_to_safetensors(optimizer, tmp / OPTIMIZER_NAME)
        _fsync_dir(tmp)
        if final.exists():  # the same step saved again (e.g. after a resume): move the old one out of the way first
            # named so the stale-temp sweep below never matches it: between the two renames it is the only copy
            previous = out / f".{final.name}.old"
            os.rename(final, previous)
            os.rename(tmp, final)
            _fsync_dir(out)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.rename(tmp, final)  # atomic: the checkpoint appears complete or not at all
        _fsync_dir(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(out)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in out.glob(".ckpt-*.tmp"):  # left by a process killed mid-save (never a previous copy: see above)
        if not _OLD_RE.match(stale.name):
            shutil.rmtree(stale, ignore_errors=True)
    return final


def load_training_checkpoint(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(model state dict, optimizer state dict, checkpoint document) of one checkpoint folder."""
    folder = Path(folder)
    weights = folder / WEIGHTS_NAME
    document = read_document(weights)
    state = load_state_dict(weights)
    opt_path = folder / OPTIMIZER_NAME
    if not opt_path.is_file():
        raise CheckpointError(f"{folder} has no {OPTIMIZER_NAME}; it cannot be resumed (only used as init_from)")
    return state, optimizer_from_safetensors(opt_path), document


def latest_checkpoint(out_dir: str | os.PathLike, log=print) -> Path | None:
    """The newest checkpoint whose files all read back (weights, config, optimiser state); older ones are tried, with
    a line saying so, when the newest is damaged (a truncated model or optimizer file alike)."""
    for folder in reversed(list_checkpoints(out_dir)):
        try:
            read_document(folder / WEIGHTS_NAME)
            file_shapes(folder / WEIGHTS_NAME)
            if not (folder / CONFIG_NAME).is_file():
                raise CheckpointError(f"{folder} has no {CONFIG_NAME}")
            optimizer_from_safetensors(folder / OPTIMIZER_NAME, header_only=True)
            return folder
        except CheckpointError as err:
            log(f"resume: skipping damaged checkpoint {folder.name} ({str(err).splitlines()[0][:200]})")
            continue
    return None


__all__ = [
    "save_training_checkpoint",
    "load_training_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "check_state_dict",
]
