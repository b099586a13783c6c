"""Exports shared by the ONNX and browser tests: each bundled checkpoint is exported once per test process."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from colornet.manifest import load_manifest

_ROOT = Path(tempfile.mkdtemp(prefix="colornet-onnx-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def bundled_names() -> list[str]:
    """Every checkpoint shipped inside the package (the CI exports each of them)."""
    return [entry.name for entry in load_manifest().models.values() if entry.bundled]


@functools.lru_cache(maxsize=None)
def exported(name: str) -> Path:
    """The export folder of a bundled checkpoint, made once, by the CLI (``colornet export-onnx NAME -o DIR``)."""
    pytest.importorskip("onnxscript", reason="ONNX export needs the onnx extra: pip install -e \".[test]\"")
    from colornet.cli import main

    assert main(["export-onnx", name, "-o", str(_ROOT / name)]) == 0
    return _ROOT / name


def model_json(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text())


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of one shape (inf when equal)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
