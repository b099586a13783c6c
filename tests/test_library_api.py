"""The library's shape: one batch method, one model per weights, no import loop, one error module, short reprs,
a memory budget from the memory actually there."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import lively_model

import colornet
from colornet import images
from colornet.errors import ColorNetError, ImageLoadError, OutOfMemoryError
from colornet.images import RGBImage
from colornet.model import compact_config
from colornet.pipeline import Colorizer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(model=lively_model(compact_config(["a", "b"])), device=torch.device("cpu"))


# ------------------------------------------------------------------------------- item 3: one batch method


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


# ------------------------------------------------------------------------ item 4: structure and dead code


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


# ---------------------------------------------------------------------------------------- item 8: reprs


def test_reprs_are_short(colorizer):
    prior = colorizer.prior_from_rgb(torch.rand(1, 3, 32, 32))
    for thing in (colorizer, prior):
        text = repr(thing)
        assert len(text) < 200 and "tensor(" not in text, text


# ------------------------------------------------------------------------------- item 9: memory budget


def _header_only_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says width x height (the budget is judged before decoding; the pixels never load)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_a_108_megapixel_scan_is_within_the_default_budget_when_memory_allows(tmp_path, monkeypatch):
    """A valid 108 MP scan was refused by the fixed 75 MP default on a machine with 24 GB free."""
    scan = _header_only_png(tmp_path / "scan.png", 12000, 9000)
    monkeypatch.setattr(images, "available_memory", lambda: 24 * 10**9)
    images.check_size(12000, 9000, images.DEFAULT_MAX_MEGAPIXELS, str(scan))  # no error
    with pytest.raises(ImageLoadError) as err:  # past the header: the (fake) pixel data is missing
        images.load_image(scan, keep_uint8=True)
    assert "megapixels" not in str(err.value) and "GB" not in str(err.value)


def test_the_budget_follows_available_memory_and_says_what_it_would_take(tmp_path, monkeypatch):
    scan = _header_only_png(tmp_path / "scan.png", 12000, 9000)
    monkeypatch.setattr(images, "available_memory", lambda: 2 * 10**9)
    with pytest.raises(ImageLoadError) as err:
        images.load_image(scan, keep_uint8=True)
    text = str(err.value)
    need = 12000 * 9000 * images.BYTES_PER_PIXEL_LEAN / 1e9
    assert f"{need:.1f} GB" in text and "2.0 GB" in text and "--max-megapixels 108" in text


def test_a_fixed_limit_still_works_and_0_lifts_it(tmp_path):
    with pytest.raises(ImageLoadError, match="above the 1 MP limit"):
        images.check_size(2000, 1000, 1.0, "x")
    images.check_size(200000, 100000, None, "x")
