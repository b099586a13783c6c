"""The memory budget: every file judged from its header before decoding, against the memory actually available
(or a fixed limit), one failed input when over it or out of memory, and a message that says what it would take."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from training_helpers import make_photo_folder

from colornet import images
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED
from colornet.cli import main as cli_main
from colornet.errors import ImageLoadError
from colornet.images import load_image
from training.data import load_photos
from cli_helpers import random_photo as _photo, run_err as _run_err

# ---------------------------------------------------------------------------------- library and CLI


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says ``width x height`` but which holds no pixel data: only a header check can judge it."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_the_budget_is_decided_from_the_header_before_decoding(tmp_path):
    from colornet.errors import ImageLoadError

    path = _png_header_only(tmp_path / "huge.png", 16000, 16000)  # 256 MP: under Pillow's own bomb limit
    with pytest.raises(ImageLoadError, match="256 megapixels, above the 75 MP limit"):
        load_image(path, max_megapixels=75)


def test_a_file_over_the_budget_is_one_failed_input_and_the_batch_goes_on(tmp_path, weights, capsys):
    _png_header_only(tmp_path / "a_huge.png", 16000, 16000)
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "b_small.png")
    code = cli_main(["colorize", str(tmp_path / "a_huge.png"), str(tmp_path / "b_small.png"), "-o",
                     str(tmp_path / "out"), "--weights", str(weights), "-q", "--max-megapixels", "50"])
    assert code == 1 and (tmp_path / "out" / "b_small.png").is_file()
    assert "above the 50 MP limit" in capsys.readouterr().err


def test_running_out_of_memory_is_one_failed_input(tmp_path, weights):
    """A real MemoryError (the child is limited to 2 GB of address space; a 144 MP photo needs more) fails that
    photo only; the next one is still written. Before: a numpy MemoryError traceback ended the run."""

    Image.new("L", (12000, 12000), 128).save(tmp_path / "a_big.png")
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "b_small.png")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from colornet.cli import main\n"
        f"sys.exit(main(['colorize', {str(tmp_path / 'a_big.png')!r}, {str(tmp_path / 'b_small.png')!r}, '-o', "
        f"{str(tmp_path / 'out')!r}, '--weights', {str(weights)!r}, '-q', '--max-megapixels', '0']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "not enough memory" in out.stderr and "Traceback" not in out.stderr
    assert (tmp_path / "out" / "b_small.png").is_file() and not (tmp_path / "out" / "a_big.png").exists()


# ------------------------------------------------------------------------ from the memory available


def _header_only_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says width x height (the budget is judged before decoding; the pixels never load)."""
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


def test_a_container_limit_counts_not_only_the_hosts_free_memory(tmp_path, monkeypatch):
    """Inside a container MemAvailable is the host's: a 1 GB-limited container would be OOM-killed, not told."""
    (tmp_path / "max").write_text(str(1 << 30))
    (tmp_path / "current").write_text(str(1 << 28))
    monkeypatch.setattr(images, "_CGROUP_FILES", ((str(tmp_path / "max"), str(tmp_path / "current")),))
    assert images.available_memory() == (1 << 30) - (1 << 28)
    (tmp_path / "max").write_text("max")
    assert images.available_memory() > (1 << 30) - (1 << 28)  # no limit: the system's figure


# -------------------------------------------------------------------------------- the CLI's message


def test_size_limit_message_names_an_option_that_exists(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")  # 40 x 30 = 0.0012 MP
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "-q",
                     "--max-megapixels", "0.001")
    assert code == EXIT_SOME_FAILED and err.count(str(photo)) == 1
    named = [word.strip("(),;") for word in err.split() if word.startswith(("--", "(--"))]
    assert named and all(option.strip("(") in ("--max-megapixels",) for option in named)
    # and the option it names does what it says: a limit above the photo lets it through
    code, _ = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "-q", "--max-megapixels", "1")
    assert code == EXIT_OK


# ----------------------------------------------------------------------------------------- training


def test_a_file_above_the_memory_budget_is_skipped_and_counted(tmp_path):
    """Issue 10.2: the training loader judges the header too; a 256 MP file is one more 'unreadable' photo."""
    import zlib

    data = make_photo_folder(tmp_path / "d", per_class=3, classes=("red",))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 16000, 16000, 8, 2, 0, 0, 0)
    (data / "red" / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    photos = load_photos(data, val_fraction=0.2, store_side=48, grey_chroma=3.0, log=lambda *a: None)
    s = photos.summary
    assert (s.found, s.kept, s.skipped_unreadable) == (4, 3, 1)
    assert "megapixels" in s.unreadable_examples[0]
