"""Issue 10 (CLI part): every user mistake is one line with the right exit status; outputs are safe and readable."""

import errno
import json
import os
import stat
import struct

import numpy as np
import pytest
from PIL import Image

from colornet import constants
from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from colornet.images import load_image
from colornet.model import compact_config
from colornet.pipeline import Colorizer
from helpers import lively_model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


def _photo(path, size=(40, 30), seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def _run(capsys, *argv):
    """(exit status, stderr) of ``colornet argv``; a usage error from argparse counts as its exit status."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------------- item 5: one-line errors


def test_output_naming_an_existing_file_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    (tmp_path / "taken.txt").write_text("keep me")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "taken.txt", "--weights", weights, "-q")
    assert code == EXIT_USAGE and "existing file" in _one_line(err)
    assert (tmp_path / "taken.txt").read_text() == "keep me"


def test_unwritable_output_folder_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "file" / "sub", "--weights", weights, "-q")
    assert code == EXIT_USAGE and "cannot write" in _one_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_output_folder_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = _run(capsys, "colorize", photo, "-o", locked, "--weights", weights, "-q")
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
    code, err = _run(capsys, "colorize", src, "-o", out, "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED
    assert err.count("disk full") == 1 and "--skip-existing" in err  # said once, with what to do
    kept = list(out.iterdir())  # the file written before the disk filled (two workers: either p0 or p1 first)
    assert len(kept) == 1 and kept[0].name in ("p0.png", "p1.png")  # no temp file, no half-written output
    assert Image.open(kept[0]).size == (40, 30)  # complete
    assert len(calls) == 2  # stopped: no attempt to write the others on a full disk


@pytest.mark.parametrize("argv", [["--strength", "-1"], ["--strength", "nan"], ["--png-compression", "12"],
                                  ["--batch-size", "0"], ["--jpeg-quality", "0"], ["--working-size", "-5"]])
def test_bad_numbers_are_one_line_usage_errors(tmp_path, weights, capsys, argv):
    photo = _photo(tmp_path / "a.png")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, *argv)
    assert code == EXIT_USAGE and argv[0] in _one_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_bad_reference_weight_is_a_usage_error(tmp_path, weights, capsys, value):
    photo = _photo(tmp_path / "a.png")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights,
                     "--reference", photo, "--reference-weight", value)
    assert code == EXIT_USAGE and "--reference-weight" in _one_line(err)


def test_unknown_device_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "--device", "foo")
    assert code == EXIT_USAGE and "unknown device 'foo'" in _one_line(err).lower()


def test_cuda_without_cuda_is_a_usage_error(tmp_path, weights, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    photo = _photo(tmp_path / "a.png")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "--device", "cuda")
    assert code == EXIT_USAGE and "no CUDA GPU" in _one_line(err)


def test_weights_list_with_a_malformed_manifest_is_one_line(tmp_path, capsys, monkeypatch):
    manifest = json.loads(constants.PACKAGE_MANIFEST.read_text())
    name = manifest["default"]
    manifest["models"][name].update(repo_id="not a repo id!!", revision="a" * 40, bundled=False)
    bad = tmp_path / "weights_manifest.json"
    bad.write_text(json.dumps(manifest))
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", bad)
    code, err = _run(capsys, "weights", "list")
    assert code == EXIT_SOME_FAILED and _one_line(err).startswith("error:")
    bad.write_text("{not json")
    code, err = _run(capsys, "weights", "list")
    assert code == EXIT_SOME_FAILED and _one_line(err).startswith("error:")


def test_models_dir_with_unknown_user_is_a_usage_error(tmp_path, weights, capsys, monkeypatch):
    monkeypatch.setenv("COLORNET_MODELS_DIR", "~nouser_colornet_test/x")
    code, err = _run(capsys, "weights", "list")
    assert code == EXIT_USAGE and "COLORNET_MODELS_DIR" in _one_line(err)
    photo = _photo(tmp_path / "a.png")
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "-q")
    assert code == EXIT_USAGE and "no such user" in _one_line(err)


# ------------------------------------------------------------------------------- items 6, 7, 9: files and folders


def test_existing_file_name_is_literal_not_a_glob(tmp_path, weights, capsys):
    literal = _photo(tmp_path / "[a].png", seed=1)
    _photo(tmp_path / "a.png", seed=2)
    out = tmp_path / "out"
    code, _ = _run(capsys, "colorize", literal, "-o", out, "--weights", weights, "-q")
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["[a].png"]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_and_exports_follow_the_umask(tmp_path, weights, capsys, umask, mode):
    photo = _photo(tmp_path / "a.png")
    old = os.umask(umask)
    try:
        code, _ = _run(capsys, "colorize", photo, "-o", tmp_path / "out", "--weights", weights, "-q")
        exported = save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path / "export")
    finally:
        os.umask(old)
    assert code == EXIT_OK
    for path in (tmp_path / "out" / "a.png", exported, exported.parent / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_output_folder_inside_the_input_folder_is_never_searched(tmp_path, weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _photo(src / "a.png")
    for _ in range(2):
        code, _ = _run(capsys, "colorize", src, "-o", src / "out", "--weights", weights, "-q")
        assert code == EXIT_OK
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*.png")) == ["a.png", "out/a.png"]
    # a recursive glob over the input folder does not pick up the outputs either
    code, _ = _run(capsys, "colorize", f"{src}/**/*.png", "-o", src / "out", "--weights", weights, "-q", "--skip-existing")
    assert code == EXIT_OK and not (src / "out" / "out").exists()


# ----------------------------------------------------------------------------------------- item 10: messages


def test_each_failure_is_reported_once_with_its_path_once(tmp_path, weights, capsys):
    good = _photo(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    missing = tmp_path / "missing.png"
    code, err = _run(capsys, "colorize", good, broken, missing, "-o", tmp_path / "o", "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED
    assert err.count(str(broken)) == 1 and err.count(str(missing)) == 1
    assert "2 input(s) failed" in err


def test_empty_folder_names_the_folder_and_the_extensions(tmp_path, weights, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    code, err = _run(capsys, "colorize", empty, "-o", tmp_path / "o", "--weights", weights)
    assert code == EXIT_USAGE
    assert str(empty) in err and ".png" in err and ".jpg" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_is_not_a_regular_file(tmp_path, weights, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    good = _photo(tmp_path / "good.png")
    code, err = _run(capsys, "colorize", fifo, good, "-o", tmp_path / "o", "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED and "not a regular file" in err
    assert (tmp_path / "o" / "good.png").is_file()


# -------------------------------------------------------------------------------------- item 12: CLI options


def test_version(capsys):
    from colornet import __version__

    assert main(["--version"]) == 0 and __version__ in capsys.readouterr().out


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [("--working-size", "512"), ("--jpeg-quality", "95"), ("--png-compression", "1"),
                            ("--strength", "1.0"), ("--batch-size", "1")]:
        assert f"(default: {default})" in text.split(option, 2)[-1].split("--", 1)[0] or \
            f"(default: {default})" in text, option


def _quant_tables(path):
    with Image.open(path) as img:
        return img.quantization


@pytest.mark.parametrize("argv,quality", [([], 95), (["--jpeg-quality", "60"], 60)])
def test_jpeg_quality(tmp_path, weights, capsys, argv, quality):
    photo = _photo(tmp_path / "a.png")
    code, _ = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "-q", "--format", "jpg", *argv)
    assert code == EXIT_OK
    reference = tmp_path / "ref.jpg"
    Image.new("RGB", (8, 8)).save(reference, quality=quality)  # Pillow's tables for that quality
    assert _quant_tables(tmp_path / "o" / "a.jpg") == _quant_tables(reference)


def test_16bit_input_is_written_as_16bit_png(tmp_path, weights, capsys):
    ramp = np.linspace(0, 65535, 48 * 32).reshape(32, 48).astype(np.uint16)
    src = tmp_path / "scan.png"
    Image.fromarray(ramp).save(src)  # 16-bit greyscale, as from a film scanner
    assert load_image(src).bit_depth == 16
    code, _ = _run(capsys, "colorize", src, "-o", tmp_path / "o16", "--weights", weights, "-q")
    assert code == EXIT_OK
    data = (tmp_path / "o16" / "scan.png").read_bytes()
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (48, 32, 16, 2)
    # its 8-bit reading equals the 8-bit output of the same run, and the reference pipeline's image
    code, _ = _run(capsys, "colorize", src, "-o", tmp_path / "o8", "--weights", weights, "-q", "--bit-depth", "8")
    eight = np.asarray(Image.open(tmp_path / "o8" / "scan.png"))
    sixteen_as_8 = np.asarray(Image.open(tmp_path / "o16" / "scan.png").convert("RGB"))
    assert np.abs(eight.astype(int) - sixteen_as_8.astype(int)).max() <= 1
    reference = np.asarray(Colorizer.from_pretrained(weights, device="cpu").colorize_image(src).to_pil())
    assert np.abs(eight.astype(int) - reference.astype(int)).max() <= 1


def test_size_limit_message_names_an_option_that_exists(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")  # 40 x 30 = 0.0012 MP
    code, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "-q",
                     "--max-megapixels", "0.001")
    assert code == EXIT_SOME_FAILED and err.count(str(photo)) == 1
    named = [word.strip("(),;") for word in err.split() if word.startswith(("--", "(--"))]
    assert named and all(option.strip("(") in ("--max-megapixels",) for option in named)
    # and the option it names does what it says: a limit above the photo lets it through
    code, _ = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "-q", "--max-megapixels", "1")
    assert code == EXIT_OK
