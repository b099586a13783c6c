"""The library's shape: one batch method, one model per weights, no import loop, one error module, short reprs,
a memory budget from the memory actually there."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import lively_model
from PIL import Image

import colornet
from colornet import colorize
from colornet.errors import ColorNetError, OutOfMemoryError
from colornet.images import RGBImage
from colornet.model import compact_config
from colornet.pipeline import Colorizer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(model=lively_model(compact_config(["a", "b"])), device=torch.device("cpu"))


# --------------------------------------------------------------------------------- one batch method


def test_a_mask_keeps_an_8bit_photo_8bit(colorizer):
    """A mask turned an 8-bit photo's result into float32 while the README promises uint8."""
    photo = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    mask = torch.zeros(1, 1, 24, 32)
    mask[..., :16] = 1
    out = colorizer.colorize_image(photo, mask=mask)
    assert out.rgb.dtype == np.uint8
    assert np.array_equal(out.rgb[:, 16:], photo[:, 16:])  # the masked-out half is the input, bit for bit


def test_colorize_batch_splits_a_batch_that_does_not_fit_together(colorizer):
    """The out-of-memory fallback lives in Colorizer.colorize_batch (it was copied in batchrun)."""

    class Tight(Colorizer):
        def colorize_rgb(self, rgb, *args, **kwargs):
            if rgb.shape[0] > 1:
                raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB")
            if float(rgb.float().mean()) > 200:  # the "huge" one: too big even alone
                raise torch.OutOfMemoryError("CUDA out of memory")
            return super().colorize_rgb(rgb, *args, **kwargs)

    tight = Tight(model=colorizer.model, device=colorizer.device)
    imgs = [RGBImage(np.full((16, 16, 3), v, np.uint8), source=f"img{v}") for v in (10, 250, 90)]
    results = tight.colorize_batch(imgs)
    assert isinstance(results[1], OutOfMemoryError) and "img250" in str(results[1])
    for i in (0, 2):
        assert isinstance(results[i], RGBImage) and results[i].rgb.dtype == np.uint8
        assert np.array_equal(results[i].rgb, colorizer.colorize_batch([imgs[i]])[0].rgb)


def test_batchrun_has_no_colorize_logic_of_its_own():
    text = (ROOT / "colornet" / "batchrun.py").read_text()
    assert "out_dtype" not in text and "out of memory" not in text.lower().replace("out-of-memory", "")


def test_colorize_reuses_one_model_across_working_sizes(tmp_path, monkeypatch):
    """``colorize()`` loaded the model again for every working size."""
    from colornet import pipeline, weights

    loads = []
    real = weights.load_model
    monkeypatch.setattr(weights, "load_model", lambda *a, **k: (loads.append(1), real(*a, **k))[1])
    monkeypatch.setattr(pipeline, "_MODELS", {})
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    small = pipeline.colorize(photo, device="cpu", working_size=16)
    full = pipeline.colorize(photo, device="cpu", working_size=0)
    assert len(loads) == 1 and small.shape == full.shape == photo.shape


# -------------------------------------------------------------------------- structure and dead code


def test_sequence_does_not_import_the_pipeline():
    """pipeline <-> sequence imported each other (the pipeline lazily, to break the loop)."""
    code = "import sys, colornet.sequence; print('colornet.pipeline' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_every_error_class_lives_in_errors_and_is_exported():
    for info in pkgutil.iter_modules(colornet.__path__):
        if info.name in ("__main__",):
            continue
        try:
            importlib.import_module(f"colornet.{info.name}")
        except ImportError:  # an optional extra (PyAV) not installed
            continue
    found = set()
    todo = [ColorNetError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    ours = {c for c in found if c.__module__.startswith("colornet")}
    assert {c.__module__ for c in ours} == {"colornet.errors"}, sorted(f"{c.__module__}.{c.__name__}" for c in ours)
    assert {c.__name__ for c in ours} <= set(colornet.__all__)


@pytest.mark.parametrize("module,name", [("colornet.pipeline", "to_output_image"), ("colornet.inputs", "expand_inputs"),
                                         ("colornet.lab", "unnormalize_l")])
def test_dead_code_is_gone(module, name):
    assert not hasattr(importlib.import_module(module), name)


def test_colorizer_has_no_mode_property():
    assert "mode" not in Colorizer.__dict__


def test_no_measured_figures_or_stale_claims_in_docstrings():
    stale = ["~60 M", "60 M parameters", "the only colour conversion", "shipped vividness 0.62"]
    measured = r"\d+(\.\d+)? ?(ms|dB)\b"
    import re

    offenders = []
    for path in sorted((ROOT / "colornet").glob("*.py")):
        text = path.read_text()
        for claim in stale:
            if claim in text:
                offenders.append(f"{path.name}: {claim}")
        for match in re.finditer(r'"""(.*?)"""', text, re.S):
            if re.search(measured, match.group(1)):
                offenders.append(f"{path.name}: {re.search(measured, match.group(1)).group(0)}")
    assert not offenders, offenders


def test_one_word_for_the_half_resolution_ab_grid():
    import re

    for path in sorted((ROOT / "colornet").glob("*.py")):
        assert not re.search(r"ab_low|_ab_low\b", path.read_text()), path.name


# -------------------------------------------------------------------------------------------- reprs


def test_reprs_are_short(colorizer):
    prior = colorizer.prior_from_rgb(torch.rand(1, 3, 32, 32))
    for thing in (colorizer, prior):
        text = repr(thing)
        assert len(text) < 200 and "tensor(" not in text, text


# ------------------------------------------------------------------ what the API returns, packaging


def test_public_errors_are_exported_from_colornet():
    import colornet

    for name in ("ColorNetError", "InputError", "ImageLoadError", "OutOfMemoryError", "CheckpointError",
                 "CheckpointMismatchError", "WeightsNotFoundError", "ChecksumMismatchError", "ManifestError"):
        assert issubclass(getattr(colornet, name), colornet.ColorNetError) and name in colornet.__all__


def test_colorize_returns_the_kind_and_dtype_it_was_given(weights):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    out = colorize(u8, weights=str(weights))
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (24, 32, 3)
    rgba = colorize(np.dstack((u8, np.full((24, 32), 200, np.uint8))), weights=str(weights))
    assert rgba.dtype == np.uint8 and rgba.shape == (24, 32, 4) and (rgba[..., 3] == 200).all()
    f32 = colorize(u8.astype(np.float32) / 255, weights=str(weights))
    assert f32.dtype == np.float32 and np.abs(f32 * 255 - out).max() <= 1.0  # the same colours, as floats
    t = colorize(torch.from_numpy(u8), weights=str(weights))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and torch.equal(t, torch.from_numpy(out))
    pil = colorize(Image.fromarray(u8), weights=str(weights))
    assert isinstance(pil, Image.Image) and np.array_equal(np.asarray(pil), out)


def test_a_result_saves_with_to_pil_and_save(colorizer, tmp_path):
    src = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(src).save(tmp_path / "in.png")
    result = colorizer.colorize_image(tmp_path / "in.png")
    result.save(tmp_path / "out.png")
    result.save(tmp_path / "out.jpg", quality=95)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(result.to_pil()))
    assert Image.open(tmp_path / "out.jpg").size == (32, 24)


def test_requirements_txt_matches_pyproject():
    import re

    import tomllib

    root = Path(__file__).resolve().parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = sorted(d for d in deps if not d.startswith("torch"))  # ComfyUI brings its own torch
    lines = (root / "requirements.txt").read_text().splitlines()
    assert sorted(ln.strip() for ln in lines if ln.strip() and not re.match(r"\s*#", ln)) == wanted


def test_requirements_have_lower_bounds_only():
    """Installing the pack must never move a package the host already has: no upper bound, pin or exclusion that a
    host's other packages could trip over (README "Supported versions"; tools/check_host_env.py tests the bounds)."""
    import re
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    requirements += [ln.strip() for ln in (root / "requirements.txt").read_text().splitlines()
                     if ln.strip() and not ln.lstrip().startswith("#")]
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+(\[[\w,-]+\])?>=[0-9][0-9.]*", requirement), requirement
