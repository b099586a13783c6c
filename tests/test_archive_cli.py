"""``colornet colorize`` as an archivist uses it: metadata and provenance read back with exiftool in PNG, JPEG and
TIFF, --metadata strip, --output-profile input, 16-bit TIFF, and the run report with --skip-existing."""

import hashlib
import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image, ImageCms

from colornet.archive.metadata import photoshop_iptc_block
from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, main
from colornet.model import compact_config
from helpers import lively_model
from icc_profiles import adobe_rgb, grey_gamma

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")
DST = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
IPTC = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x74\x00\x10(c) Archive 1950" + b"\x1c\x02\x50\x00\x07Someone"
SCAN_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/print">'
    b'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour, 1950</rdf:li></rdf:Alt></dc:title>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    config = compact_config(["beach", "forest", "street"])
    config.head = "distribution"  # as the default checkpoint: --vividness applies
    return save_checkpoint(lively_model(config), tmp_path_factory.mktemp("w"))


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """A 64x40 JPEG scan stored sideways (orientation 6) in Adobe RGB, with EXIF, IPTC and XMP."""
    folder = tmp_path_factory.mktemp("scan")
    y, x = np.mgrid[0:40, 0:64]
    grey = (40 + x * 2 + y).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013B], exif[0x8298] = "Nikon", "LS-5000", "Ann Artist", "(c) City Archive"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "1950:01:02 03:04:05"
    app13 = photoshop_iptc_block(IPTC)
    path = folder / "scan.jpg"
    Image.fromarray(np.dstack([grey] * 3)).save(
        path, quality=95, exif=exif, icc_profile=adobe_rgb(), xmp=SCAN_XMP,
        extra=b"\xff\xed" + (len(app13) + 2).to_bytes(2, "big") + app13)
    return path


def _exiftool(path) -> dict:
    out = subprocess.run([EXIFTOOL, "-j", "-G1", "-struct", "-n", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)[0]


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _colorize(scan, out, weights, *extra) -> None:
    assert main(["colorize", str(scan), "-o", str(out), "--weights", str(weights), "-q", *extra]) == EXIT_OK


@needs_exiftool
@pytest.mark.parametrize("fmt,suffix", [("png", ".png"), ("jpg", ".jpg"), ("tiff", ".tiff")])
def test_exiftool_reads_provenance_and_the_original_metadata(tmp_path, scan, weights, fmt, suffix):
    _colorize(scan, tmp_path, weights, "--format", fmt, "--vividness", "0.3", "--strength", "1.2")
    out = tmp_path / ("scan" + suffix)
    tags = _exiftool(out)
    # provenance
    assert tags["XMP-iptcExt:DigitalSourceType"] == DST
    assert tags["XMP-colornet:CheckpointSHA256"] == _sha256(weights)
    assert tags["XMP-colornet:SourceSHA256"] == _sha256(scan)
    assert tags["XMP-colornet:SourceDigitalSourceType"].endswith("/print")
    assert tags["XMP-colornet:Software"].startswith("ColorNet ")
    assert float(tags["XMP-colornet:Vividness"]) == pytest.approx(0.3)
    assert float(tags["XMP-colornet:Strength"]) == pytest.approx(1.2)
    assert tags["XMP-xmpMM:History"][-1]["SoftwareAgent"].startswith("ColorNet ")
    # the scan's own metadata
    assert (tags["IFD0:Make"], tags["IFD0:Model"]) == ("Nikon", "LS-5000")
    assert tags["IFD0:Artist"] == "Ann Artist" and tags["IFD0:Copyright"] == "(c) City Archive"
    assert tags["ExifIFD:DateTimeOriginal"] == "1950:01:02 03:04:05"
    assert tags["IFD0:Orientation"] == 1  # applied to the pixels, so reset
    assert tags["IPTC:CopyrightNotice"] == "(c) Archive 1950" and tags["IPTC:By-line"] == "Someone"
    assert tags["XMP-dc:Title"] == "Harbour, 1950"
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    with Image.open(out) as img:
        assert img.size == (40, 64)  # upright: the sideways scan was turned


@needs_exiftool
def test_strip_keeps_only_provenance_and_profile(tmp_path, scan, weights):
    _colorize(scan, tmp_path, weights, "--metadata", "strip")
    tags = _exiftool(tmp_path / "scan.png")
    assert tags["XMP-iptcExt:DigitalSourceType"] == DST
    assert "ICC_Profile:ProfileDescription" in tags
    leaked = [k for k in tags if k.startswith(("IFD0:", "ExifIFD:", "IPTC:", "XMP-dc:"))]
    assert leaked == []


def test_output_profile_input_writes_adobe_rgb(tmp_path, scan, weights):
    _colorize(scan, tmp_path / "srgb", weights)
    _colorize(scan, tmp_path / "adobe", weights, "--output-profile", "input")
    srgb = np.asarray(Image.open(tmp_path / "srgb" / "scan.png").convert("RGB")).astype(float)
    adobe_img = Image.open(tmp_path / "adobe" / "scan.png")
    assert adobe_img.info["icc_profile"] == adobe_rgb()
    # LittleCMS takes the Adobe RGB file back to sRGB: the same picture as the sRGB output
    back = ImageCms.profileToProfile(
        adobe_img.convert("RGB"), ImageCms.ImageCmsProfile(__import__("io").BytesIO(adobe_rgb())),
        ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    assert np.abs(np.asarray(back).astype(float) - srgb).max() <= 2
    assert np.abs(np.asarray(adobe_img.convert("RGB")).astype(float) - srgb).max() > 3  # really another space


def test_16_bit_grey_scan_becomes_16_bit_tiff_with_alpha(tmp_path, weights):
    tifffile = pytest.importorskip("tifffile", reason="tifffile (with scikit-image) reads 16-bit RGB TIFF")
    y, x = np.mgrid[0:48, 0:64]
    grey = (x * 1000 + y * 7).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "grey16.png", icc_profile=grey_gamma(1.8))
    rgba = np.dstack([np.full((48, 64, 3), 128, np.uint8), (x * 4).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    _colorize(tmp_path / "grey16.png", tmp_path / "out", weights, "--format", "tiff")
    _colorize(tmp_path / "alpha.png", tmp_path / "out", weights, "--format", "tiff")
    deep = tifffile.imread(tmp_path / "out" / "grey16.tiff")
    assert deep.dtype == np.uint16 and deep.shape == (48, 64, 3)
    assert len(np.unique(deep[..., 1])) > 256  # more levels than 8 bits hold
    with_alpha = tifffile.imread(tmp_path / "out" / "alpha.tiff")
    assert with_alpha.shape == (48, 64, 4) and np.array_equal(with_alpha[..., 3], rgba[..., 3])


def _photos(folder, n, size=(96, 64)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8), "L").save(folder / f"p{i:02d}.png")
    return folder


def test_report_has_one_line_per_input(tmp_path, weights):
    src = _photos(tmp_path / "in", 3)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    report = tmp_path / "run.jsonl"
    code = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights), "-q",
                 "--report", str(report)])
    assert code == EXIT_SOME_FAILED
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(line["input"].rsplit("/", 1)[1] for line in lines) == ["broken.png", "p00.png", "p01.png", "p02.png"]
    by_name = {line["input"].rsplit("/", 1)[1]: line for line in lines}
    assert by_name["broken.png"]["status"] == "failed" and by_name["broken.png"]["error"]
    for name in ("p00.png", "p01.png", "p02.png"):
        line = by_name[name]
        assert line["status"] == "written" and line["error"] is None
        assert line["output_bytes"] == (tmp_path / "out" / name).stat().st_size
        assert line["input_bytes"] == (src / name).stat().st_size
        assert (line["width"], line["height"]) == (96, 64) and line["seconds"] > 0
        assert line["checkpoint_sha256"] == _sha256(weights)


def test_skip_existing_redoes_outputs_that_are_not_complete(tmp_path, weights):
    src = _photos(tmp_path / "in", 3)
    out, report = tmp_path / "out", tmp_path / "run.jsonl"
    args = ["colorize", str(src), "-o", str(out), "--weights", str(weights), "-q", "--report", str(report)]
    assert main(args) == EXIT_OK
    good = (out / "p00.png").read_bytes()
    (out / "p01.png").write_bytes((out / "p01.png").read_bytes()[:200])  # truncated behind colornet's back
    (out / "p02.png").unlink()
    assert main([*args, "--skip-existing"]) == EXIT_OK
    second_run = [json.loads(line) for line in report.read_text().splitlines()][3:]
    status = {line["input"].rsplit("/", 1)[1]: line["status"] for line in second_run}
    assert status == {"p00.png": "skipped", "p01.png": "written", "p02.png": "written"}
    assert (out / "p00.png").read_bytes() == good
    Image.open(out / "p01.png").load()


def test_killed_run_leaves_a_valid_report_and_resumes(tmp_path, weights):
    """SIGKILL mid-run: every report line is whole JSON, every output it lists decodes, a resumed run finishes."""
    src = _photos(tmp_path / "in", 16, size=(384, 256))
    out, report = tmp_path / "out", tmp_path / "run.jsonl"
    args = [sys.executable, "-m", "colornet", "colorize", str(src), "-o", str(out), "--weights", str(weights), "-q",
            "--report", str(report)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if report.exists() and report.read_text().count("\n") >= 2:
            proc.kill()
            break
        time.sleep(0.01)
    proc.wait()
    lines = [json.loads(line) for line in report.read_text().splitlines()]  # all whole: parses
    assert 2 <= len(lines)
    for line in lines:
        Image.open(line["output"]).load()
    assert main([a for a in args[3:]] + ["--skip-existing"]) == EXIT_OK
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    written = [line["input"] for line in lines if line["status"] == "written"]
    assert sorted(set(written)) == sorted(str(p) for p in src.iterdir())
    assert len(written) == len(set(written)) or proc.returncode != -9  # nothing written twice unless it finished


def test_sequence_frames_get_provenance_and_report_lines(tmp_path, weights):
    frames = _photos(tmp_path / "clip", 3)
    report = tmp_path / "run.csv"
    assert main(["colorize", str(frames), "-o", str(tmp_path / "out"), "--weights", str(weights), "-q", "--sequence",
                 "--report", str(report)]) == EXIT_OK
    import csv

    rows = list(csv.DictReader(open(report)))
    assert sorted(r["input"].rsplit("/", 1)[1] for r in rows) == ["p00.png", "p01.png", "p02.png"]
    assert {r["status"] for r in rows} == {"written"} and {r["checkpoint_sha256"] for r in rows} == {_sha256(weights)}
    xmp = Image.open(tmp_path / "out" / "p01.png").info["XML:com.adobe.xmp"]
    assert DST in xmp and _sha256(frames / "p01.png") in xmp
