"""The one output path (``colornet.outputs``): names, formats, atomic fsynced writes, collisions, --skip-existing
trust, and stopping on SIGTERM/SIGHUP -- for still photos, batches and the frames of a sequence alike."""

import errno
import os
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import lively_model
from PIL import Image

from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from colornet.images import RGBImage, load_image
from colornet.model import compact_config
from colornet.pipeline import Colorizer
from cli_helpers import random_photo as _photo, run_err as _run_err, one_line as _one_line

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


def _grey(path: Path, seed: int = 0, size=(48, 32), mode="L") -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    if mode == "I;16":
        Image.fromarray(arr.astype(np.uint16) * 257).save(path)
    else:
        Image.fromarray(arr).save(path)
    return path


def _lightness(path: Path) -> float:
    """Mean CIE L of a picture (run with --strength 0, an output is its input's L exactly)."""
    import torch

    from colornet.lab import rgb_to_lab

    with Image.open(path) as img:
        rgb = torch.from_numpy(np.asarray(img.convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None]
    return float(rgb_to_lab(rgb)[:, 0].mean())


def _flat_l(value: int) -> float:
    return _lightness_of_array(np.full((4, 4), value, np.uint8))


def _lightness_of_array(arr) -> float:
    import torch

    from colornet.lab import rgb_to_lab

    rgb = torch.from_numpy(np.repeat(arr[..., None], 3, 2).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return float(rgb_to_lab(rgb)[:, 0].mean())


def _run(*argv) -> int:
    return main([str(a) for a in argv])


# --------------------------------------------------------------------------------------------- names, formats


def test_sequence_frames_with_dotted_names_each_get_their_own_output(tmp_path, weights, capsys):
    """clip.0000.png .. clip.0002.png all became clip.png ("3 frame(s) written", one file)."""
    src = tmp_path / "clip"
    src.mkdir()
    for t in range(3):
        _grey(src / f"clip.{t:04d}.png", seed=t)
    out = tmp_path / "out"
    assert _run("colorize", src, "-o", out, "--sequence", "--weights", weights, "-q") == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["clip.0000.png", "clip.0001.png", "clip.0002.png"]
    assert "3 frame(s)" in capsys.readouterr().out


def test_sequence_frames_honour_bit_depth_and_format_options(tmp_path, weights):
    """Sequence mode wrote 16-bit frames as 8-bit and ignored --png-compression and --jpeg-quality."""
    src = tmp_path / "clip"
    src.mkdir()
    for t in range(2):
        _grey(src / f"f{t}.png", seed=t, size=(96, 64), mode="I;16")
    out16 = tmp_path / "o16"
    assert _run("colorize", src, "-o", out16, "--sequence", "--weights", weights, "-q") == EXIT_OK
    with Image.open(out16 / "f0.png") as img:
        assert img.mode in ("RGB;16", "RGB;16B", "I;16", "RGBA;16") or img.info.get("bits", 0) == 16 or \
            _png_bit_depth(out16 / "f0.png") == 16
    sizes = {}
    for quality in (5, 95):
        out = tmp_path / f"q{quality}"
        assert _run("colorize", src, "-o", out, "--sequence", "--format", "jpg", "--jpeg-quality", quality,
                    "--weights", weights, "-q") == EXIT_OK
        sizes[quality] = (out / "f0.jpg").stat().st_size
    assert sizes[5] < sizes[95] / 2
    stored = tmp_path / "c0"
    assert _run("colorize", src, "-o", stored, "--sequence", "--png-compression", 0, "--bit-depth", "8",
                "--weights", weights, "-q") == EXIT_OK
    assert (stored / "f0.png").stat().st_size > 96 * 64 * 3  # level 0 stores the rows uncompressed


def test_sequence_frames_respect_the_megapixel_limit(tmp_path, weights, capsys):
    src = tmp_path / "clip"
    src.mkdir()
    _grey(src / "f0.png", seed=0)
    _grey(src / "f1.png", seed=1, size=(2000, 1000))
    out = tmp_path / "out"
    code = _run("colorize", src, "-o", out, "--sequence", "--max-megapixels", 1, "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED and sorted(p.name for p in out.iterdir()) == ["f0.png"]
    assert "f1.png" in capsys.readouterr().err


def _png_bit_depth(path: Path) -> int:
    return path.read_bytes()[24]  # IHDR's bit depth byte


# ------------------------------------------------------------------------------------- stable names, collisions


def test_names_are_stable_per_input_so_skip_existing_never_takes_one_for_another(tmp_path, weights, capsys):
    """After a.png was colorized alone, a run over a.jpg + a.png with --skip-existing skipped a.jpg for ever."""
    src = tmp_path / "in"
    src.mkdir()
    a_png = _grey(src / "a.png", seed=1)
    out = tmp_path / "out"
    assert _run("colorize", a_png, "-o", out, "--weights", weights, "-q", "--strength", 0) == EXIT_OK
    Image.fromarray(np.full((32, 48), 200, np.uint8)).save(src / "a.jpg")
    capsys.readouterr()
    assert _run("colorize", src, "-o", out, "--weights", weights, "-q", "--skip-existing", "--strength", 0) == EXIT_OK
    names = sorted(p.name for p in out.iterdir())
    assert "a.jpg.png" in names and "a.png.png" in names
    assert abs(_lightness(out / "a.jpg.png") - _flat_l(200)) < 1  # really a.jpg's (flat 200), not a.png's noise
    said = capsys.readouterr().out
    assert "a.jpg.png" in said and "a.png.png" in said  # the summary says which inputs share a name


def test_names_never_cross_with_numbered_files(tmp_path, weights):
    """a.jpg, a.png, a_1.png: a.png was written as a_1.png and a_1.png as a_1_1.png."""
    src = tmp_path / "in"
    src.mkdir()
    for i, name in enumerate(("a.jpg", "a.png", "a_1.png")):
        Image.fromarray(np.full((32, 48), 40 + 80 * i, np.uint8)).save(src / name)
    out = tmp_path / "out"
    assert _run("colorize", src, "-o", out, "--weights", weights, "-q", "--strength", 0) == EXIT_OK  # grey: L only
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg.png", "a.png.png", "a_1.png"]
    for name, value in (("a.jpg.png", 40), ("a.png.png", 120), ("a_1.png", 200)):
        assert abs(_lightness(out / name) - _flat_l(value)) < 1, name


# --------------------------------------------------------------------------------- complete outputs only


def test_skip_existing_redoes_empty_and_truncated_outputs(tmp_path, weights, capsys):
    from colornet.outputs import is_complete

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        _grey(src / f"p{i}.png", seed=i)
    out = tmp_path / "out"
    assert _run("colorize", src, "-o", out, "--weights", weights, "-q") == EXIT_OK
    good = (out / "p0.png").read_bytes()
    (out / "p1.png").write_bytes(b"")
    (out / "p2.png").write_bytes((out / "p2.png").read_bytes()[:-30])
    assert not is_complete(out / "p1.png") and not is_complete(out / "p2.png") and is_complete(out / "p0.png")
    capsys.readouterr()
    assert _run("colorize", src, "-o", out, "--weights", weights, "-q", "--skip-existing") == EXIT_OK
    assert is_complete(out / "p1.png") and is_complete(out / "p2.png")
    assert (out / "p0.png").read_bytes() == good
    captured = capsys.readouterr()
    assert "1 already there" in captured.out and captured.err.count("incomplete") == 2


def test_truncated_jpeg_is_not_complete(tmp_path):
    from colornet.outputs import OutputOptions, is_complete, write_image

    path = tmp_path / "x.jpg"
    write_image(RGBImage(np.full((40, 40, 3), 0.5, np.float32)), path, OutputOptions(format="jpg"))
    assert is_complete(path)
    path.write_bytes(path.read_bytes()[:-10])
    assert not is_complete(path)


def test_images_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    """Image writes skipped fsync, so a power cut could leave a zero-byte file under the real name."""
    from colornet.outputs import OutputOptions, write_image

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    target = tmp_path / "x.png"
    write_image(RGBImage(np.zeros((8, 8, 3), np.float32)), target, OutputOptions())
    assert len(synced) == 1 and Path(synced[0]).parent == tmp_path and synced[0] != str(target)


# ------------------------------------------------------------------------------------------------- signals


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path, weights, sig, status):
    """SIGTERM/SIGHUP killed the process mid-write and left hidden half-written files with an image suffix."""
    from colornet.outputs import is_complete

    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        _grey(src / f"p{i:02d}.png", seed=i, size=(640, 480))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # the child starts with SIGHUP at its default even when the test runner itself runs under nohup (an ignored
    # SIGHUP is inherited, and colornet rightly keeps ignoring it then)
    proc = subprocess.Popen([sys.executable, "-m", "colornet", "colorize", str(src), "-o", str(out), "--weights",
                             str(weights), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err.decode()
    assert b"Traceback" not in err and b"interrupted" in err
    left = sorted(p.name for p in out.iterdir())
    assert left and all(not n.startswith(".") for n in left)  # no temp files
    assert all(is_complete(out / n) for n in left)


# ------------------------------------------------------- output folders, disk, permissions, formats


def test_output_naming_an_existing_file_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    (tmp_path / "taken.txt").write_text("keep me")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "taken.txt", "--weights", weights, "-q")
    assert code == EXIT_USAGE and "existing file" in _one_line(err)
    assert (tmp_path / "taken.txt").read_text() == "keep me"


def test_unwritable_output_folder_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "file" / "sub", "--weights", weights, "-q")
    assert code == EXIT_USAGE and "cannot write" in _one_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_output_folder_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = _run_err(capsys, "colorize", photo, "-o", locked, "--weights", weights, "-q")
    finally:
        locked.chmod(0o700)
    assert code == EXIT_USAGE and "cannot write" in _one_line(err)


def test_disk_full_says_so_stops_and_keeps_what_was_written(tmp_path, weights, capsys, monkeypatch):
    import colornet.outputs as outputs

    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        _photo(src / f"p{i}.png", seed=i)
    real_write, calls = outputs.write_png, []

    def fills_the_disk(fh, pixels, **kw):  # the second file hits ENOSPC halfway through, like a real full disk
        calls.append(1)
        if len(calls) == 2:
            fh.write(b"\x89PNG partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fh, pixels, **kw)

    monkeypatch.setattr(outputs, "write_png", fills_the_disk)
    out = tmp_path / "out"
    code, err = _run_err(capsys, "colorize", src, "-o", out, "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED
    assert err.count("disk full") == 1 and "--skip-existing" in err  # said once, with what to do
    kept = list(out.iterdir())  # the file written before the disk filled (two workers: either p0 or p1 first)
    assert len(kept) == 1 and kept[0].name in ("p0.png", "p1.png")  # no temp file, no half-written output
    assert Image.open(kept[0]).size == (40, 30)  # complete
    assert len(calls) == 2  # stopped: no attempt to write the others on a full disk


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_and_exports_follow_the_umask(tmp_path, weights, capsys, umask, mode):
    photo = _photo(tmp_path / "a.png")
    old = os.umask(umask)
    try:
        code, _ = _run_err(capsys, "colorize", photo, "-o", tmp_path / "out", "--weights", weights, "-q")
        exported = save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path / "export")
    finally:
        os.umask(old)
    assert code == EXIT_OK
    for path in (tmp_path / "out" / "a.png", exported, exported.parent / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def _quant_tables(path):
    with Image.open(path) as img:
        return img.quantization


@pytest.mark.parametrize("argv,quality", [([], 95), (["--jpeg-quality", "60"], 60)])
def test_jpeg_quality(tmp_path, weights, capsys, argv, quality):
    photo = _photo(tmp_path / "a.png")
    code, _ = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "-q", "--format", "jpg", *argv)
    assert code == EXIT_OK
    reference = tmp_path / "ref.jpg"
    Image.new("RGB", (8, 8)).save(reference, quality=quality)  # Pillow's tables for that quality
    assert _quant_tables(tmp_path / "o" / "a.jpg") == _quant_tables(reference)


def test_16bit_input_is_written_as_16bit_png(tmp_path, weights, capsys):
    ramp = np.linspace(0, 65535, 48 * 32).reshape(32, 48).astype(np.uint16)
    src = tmp_path / "scan.png"
    Image.fromarray(ramp).save(src)  # 16-bit greyscale, as from a film scanner
    assert load_image(src).bit_depth == 16
    code, _ = _run_err(capsys, "colorize", src, "-o", tmp_path / "o16", "--weights", weights, "-q")
    assert code == EXIT_OK
    data = (tmp_path / "o16" / "scan.png").read_bytes()
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (48, 32, 16, 2)
    # its 8-bit reading equals the 8-bit output of the same run, and the reference pipeline's image
    code, _ = _run_err(capsys, "colorize", src, "-o", tmp_path / "o8", "--weights", weights, "-q", "--bit-depth", "8")
    eight = np.asarray(Image.open(tmp_path / "o8" / "scan.png"))
    sixteen_as_8 = np.asarray(Image.open(tmp_path / "o16" / "scan.png").convert("RGB"))
    assert np.abs(eight.astype(int) - sixteen_as_8.astype(int)).max() <= 1
    reference = np.asarray(Colorizer.from_pretrained(weights, device="cpu").colorize_image(src).to_pil())
    assert np.abs(eight.astype(int) - reference.astype(int)).max() <= 1
