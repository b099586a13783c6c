"""Checkpoint files that lie: a small file claiming a huge network, malformed metadata, integer or non-finite
weights -- each refused before anything is allocated, with one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# ------------------------------------------------------------------------------- checkpoint headers


def _tiny_state() -> dict[str, torch.Tensor]:
    from colornet.model import ColorNet, ColorNetConfig

    torch.manual_seed(0)
    config = ColorNetConfig(name="tiny", width=0.0625, global_size=32, global_dim=32)
    return {k: v.contiguous() for k, v in ColorNet(config).state_dict().items()}, config


def _write(path: Path, tensors: dict, metadata_text: str) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata={"colornet_config": metadata_text, "format": "pt"})
    return path


def _document(**arch) -> str:
    import json

    _, config = _tiny_state()
    return json.dumps({"format": "colornet", "architecture": {**config.to_dict(), **arch}})


@pytest.mark.parametrize("width, match", [(8.0, "more than the 400 M"), (2.0, "do not match its architecture")])
def test_a_small_file_claiming_a_huge_network_is_refused_before_any_allocation(tmp_path, width, match):
    """A few-MB file whose header says width 8 used to build ~6.4 GB of parameters before the shape check. Run in a
    child limited to 3 GB of address space, so the old code fails there instead of exhausting this machine."""
    import subprocess
    import sys

    state, _ = _tiny_state()
    path = _write(tmp_path / "liar.safetensors", state, _document(width=width))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from colornet.checkpoint import load_checkpoint\n"
        "from colornet.errors import CheckpointError\n"
        "try:\n"
        f"    load_checkpoint({str(path)!r})\n"
        "except CheckpointError as err:\n"
        "    print('refused:', err); sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused:" in out.stdout and match in out.stdout


def test_parameter_budget_is_checked_before_building(tmp_path, monkeypatch):
    from colornet import checkpoint
    from colornet.errors import CheckpointError

    state, _ = _tiny_state()
    path = _write(tmp_path / "m.safetensors", state, _document())
    checkpoint.load_checkpoint(path)  # fine as it is
    monkeypatch.setattr(checkpoint, "MAX_PARAMETERS", 1000)
    with pytest.raises(CheckpointError, match="more than the 0 M this loader accepts"):
        checkpoint.load_checkpoint(path)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        ("5", "JSON int, not an object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),  # deep nesting: a RecursionError before
        (_document(width="wide"), "'width' is 'wide'"),
        (_document(global_size=-3), "'global_size' is -3"),
        (_document(global_dim=2.5), "'global_dim' is 2.5"),
        (_document(class_names="abc"), "'class_names' must be a list"),
        (_document(head="distribution", vividness=1.5), "'vividness' is 1.5"),
        (_document(head="distribution", vividness=float("nan")), "'vividness' is nan"),
        (_document(head="distribution", vividness=None), "'vividness' is None"),
        ('{"architecture": 7}', "no 'architecture' object"),
    ],
)
def test_malformed_metadata_is_one_clear_error(tmp_path, text, match):
    from colornet.checkpoint import load_checkpoint
    from colornet.errors import CheckpointError

    state, _ = _tiny_state()
    path = _write(tmp_path / "m.safetensors", state, text)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("damage", ["integer", "nan", "inf"])
def test_integer_or_non_finite_weights_are_refused(tmp_path, damage):
    from colornet.checkpoint import load_checkpoint
    from colornet.errors import CheckpointError

    state, _ = _tiny_state()
    key = "colorization.output.weight"
    if damage == "integer":
        state[key] = state[key].round().to(torch.int32)
    else:
        state[key] = state[key].clone()
        state[key].view(-1)[3] = float(damage)
    path = _write(tmp_path / "m.safetensors", state, _document())
    with pytest.raises(CheckpointError, match="floating point" if damage == "integer" else "NaN or infinite"):
        load_checkpoint(path)
