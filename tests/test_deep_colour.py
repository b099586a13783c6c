"""48-bit RGB / 64-bit RGBA PNG and TIFF scans are read at all 16 bits and come back 16-bit (colornet.archive.deep).

The files are written by the project's own PNG and TIFF encoders and read back through FFmpeg's decoders (PyAV), two
independent implementations; orientation is checked against Pillow's ``ImageOps.exif_transpose`` and colour
management against LittleCMS.
"""

from __future__ import annotations

import io
import struct
import sys
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from colornet.archive import deep
from colornet.archive.tiff import write_tiff
from colornet.errors import ImageLoadError
from colornet.images import load_image
from colornet.lab import rgb_to_lab
from colornet.pngwrite import write_png
from icc_profiles import adobe_rgb

pytest.importorskip("av", reason="16-bit colour decoding needs PyAV: pip install -e \".[test]\"")


def _words(h: int, w: int, channels: int, seed: int = 0) -> np.ndarray:
    """Random 16-bit samples: almost none of them survives a round trip through 8 bits."""
    return np.random.default_rng(seed).integers(0, 65536, (h, w, channels), dtype=np.uint16)


def _write(path, words: np.ndarray, chunks=()) -> None:
    with open(path, "wb") as fh:
        if path.suffix == ".png":
            write_png(fh, words, chunks=chunks)
        else:
            write_tiff(fh, words)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [3, 4])
def test_every_16_bit_sample_is_kept(tmp_path, suffix, channels):
    words = _words(23, 37, channels)
    path = tmp_path / f"scan{suffix}"
    _write(path, words)
    with Image.open(path) as img:
        assert deep.deep_kind(img) is not None  # what Pillow would read at 8 bits
    image = load_image(path)
    assert image.bit_depth == 16 and image.rgb.dtype == np.float32 and image.rgb.shape == (23, 37, 3)
    assert np.abs(image.rgb * 65535 - words[..., :3]).max() < 0.02
    if channels == 4:
        assert np.abs(image.alpha * 65535 - words[..., 3]).max() < 0.02
    else:
        assert image.alpha is None


def test_8_bit_and_16_bit_grey_files_are_not_sent_to_ffmpeg(tmp_path):
    Image.fromarray(_words(5, 6, 3).astype(np.uint8)).save(tmp_path / "rgb8.png")
    Image.fromarray(_words(5, 6, 1)[..., 0]).save(tmp_path / "grey16.png")
    for name in ("rgb8.png", "grey16.png"):
        with Image.open(tmp_path / name) as img:
            assert deep.deep_kind(img) is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_pixels_as_pillow_does(orientation):
    pixels = _words(5, 7, 3).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img = Image.fromarray(pixels)
    img.info["exif"] = exif.tobytes()
    img.getexif()[0x0112] = orientation
    assert np.array_equal(deep.upright(pixels, orientation), np.asarray(ImageOps.exif_transpose(img)))


def test_orientation_and_profile_of_a_deep_png(tmp_path):
    """A sideways 48-bit Adobe RGB scan: turned upright, converted to sRGB (as LittleCMS does), still 16 bits."""
    words = _words(12, 20, 3, seed=1)
    exif = Image.Exif()
    exif[0x0112] = 6
    icc = adobe_rgb()
    chunks = [(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc)), (b"eXIf", exif.tobytes()[6:])]
    _write(tmp_path / "scan.png", words, chunks)
    image = load_image(tmp_path / "scan.png")
    assert image.bit_depth == 16 and image.rgb.shape == (20, 12, 3)
    upright = np.rot90(words, k=-1)
    # LittleCMS on the 8-bit version is the reference for the colour; the 16-bit result must sit within its rounding
    srgb = ImageCms.createProfile("sRGB")
    reference = ImageCms.profileToProfile(Image.fromarray((upright / 257).round().astype(np.uint8)),
                                          ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb)
    assert np.abs(image.rgb * 255 - np.asarray(reference, dtype=np.float32)).mean() < 1.0
    assert np.abs(image.rgb * 65535 - np.round(image.rgb * 255) * 257).max() > 100  # not 8-bit values


def test_colorized_scan_keeps_its_16_bit_lightness(tmp_path):
    """The product's promise for a 48-bit scan: a 16-bit result whose L is the scan's, not an 8-bit copy's."""
    from colornet.cli import main

    y, x = np.mgrid[0:64, 0:96]
    grey = (20000 + 25000 * (0.6 * x / 95 + 0.4 * y / 63)).astype(np.uint16)  # a smooth mid-grey 16-bit ramp
    words = np.repeat(grey[..., None], 3, axis=2)
    _write(tmp_path / "scan.png", words)
    assert main(["colorize", str(tmp_path / "scan.png"), "-o", str(tmp_path / "out"), "-q"]) == 0
    result = load_image(tmp_path / "out" / "scan.png")
    assert result.bit_depth == 16

    def lightness(rgb: np.ndarray) -> torch.Tensor:
        return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None])[0, 0]

    truth = lightness(words / 65535)
    eight_bit = lightness(np.round(words / 257) / 255)
    assert float((eight_bit - truth).abs().median()) > 0.05  # what reading at 8 bits would cost
    assert float((lightness(result.rgb) - truth).abs().median()) < 0.01


def test_a_truncated_deep_file_is_a_clear_error(tmp_path):
    _write(tmp_path / "whole.png", _words(40, 50, 3))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_image(tmp_path / "cut.png")


def test_without_pyav_the_scan_is_read_at_8_bits_and_the_warning_says_what_to_install(tmp_path, monkeypatch):
    words = _words(6, 8, 3)
    _write(tmp_path / "scan.tif", words)
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    monkeypatch.setattr(deep, "_warned_missing", False)
    with pytest.warns(UserWarning, match=r"colornet\[video\]"):
        image = load_image(tmp_path / "scan.tif")
    assert image.bit_depth == 8
    assert np.abs(image.rgb * 255 - np.round(words / 257)).max() < 1.001  # Pillow's 8-bit reading, as before


def test_where_ffmpeg_decodes_wrongly_the_scan_is_read_at_8_bits_with_a_warning(tmp_path):
    """FFmpeg returns wrong pixels, without an error, for a tiled TIFF: the check against Pillow's 8 bits catches it."""
    tifffile = pytest.importorskip("tifffile")
    words = _words(37, 53, 3)
    tifffile.imwrite(tmp_path / "tiled.tif", words, photometric="rgb", tile=(16, 16))
    with open(tmp_path / "tiled.tif", "rb") as fh, Image.open(fh) as img:
        assert not deep.agrees_with_pillow(deep.decode_words(fh, "TIFF", False), np.asarray(img))
    with pytest.warns(UserWarning, match="read at 8 bits"):
        image = load_image(tmp_path / "tiled.tif")
    assert image.bit_depth == 8
    assert np.abs(image.rgb * 255 - (words >> 8)).max() < 1.001


@pytest.mark.parametrize("orientation", range(2, 9))
def test_a_sideways_deep_tiff_keeps_its_16_bits(tmp_path, orientation):
    """Pillow turns a TIFF upright as it loads it (and drops the tag); FFmpeg gives the pixels as stored. Compared
    without knowing that, every sideways 48-bit TIFF fell back to 8 bits."""
    tifffile = pytest.importorskip("tifffile")  # the project's encoder writes results, always upright
    words = _words(9, 14, 3, seed=orientation)
    tifffile.imwrite(tmp_path / "scan.tif", words, photometric="rgb", extratags=[(0x0112, "H", 1, orientation, True)])
    with Image.open(tmp_path / "scan.tif") as img:
        assert img.getexif().get(0x0112) == orientation
        reference = np.asarray(ImageOps.exif_transpose(img))  # Pillow's 8-bit reading, upright
    image = load_image(tmp_path / "scan.tif")
    assert image.bit_depth == 16 and image.rgb.shape == reference.shape
    assert np.abs(image.rgb * 65535 - deep.upright(words, orientation)).max() < 0.02
    assert np.abs(np.round(image.rgb * 65535).astype(np.int32) // 256 - reference).max() <= 1


def test_a_relative_name_ffmpeg_would_take_for_a_url_is_read_at_16_bits(tmp_path, monkeypatch):
    """FFmpeg reads the file Pillow opened, not its name: "scan:1.png" in the working folder is no protocol."""
    words = _words(6, 8, 3)
    _write(tmp_path / "scan:1.png", words)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image("scan:1.png")
    assert image.bit_depth == 16
    assert np.abs(image.rgb * 65535 - words).max() < 0.02


def _apng(path, default: np.ndarray, frame: np.ndarray) -> None:
    """An APNG whose default image (IDAT) is not part of the animation: its one frame (fdAT) is another picture."""
    h, w, _ = default.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    def idat(words: np.ndarray) -> bytes:
        rows = np.ascontiguousarray(words.astype(">u2")).view(np.uint8).reshape(h, -1)
        return zlib.compress(b"".join(b"\0" + row.tobytes() for row in rows))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"acTL", struct.pack(">II", 1, 0)) + chunk(b"IDAT", idat(default))
                     + chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, w, h, 0, 0, 1, 10, 0, 0))
                     + chunk(b"fdAT", struct.pack(">I", 1) + idat(frame)) + chunk(b"IEND", b""))


def test_an_apng_is_read_as_pillow_reads_it_at_16_bits(tmp_path):
    """FFmpeg's APNG demuxer starts at the animation (skipping a default image that is not part of it); Pillow reads
    the default image. FFmpeg is now told to read the file as one PNG, so the two agree."""
    default, frame = _words(7, 9, 3, seed=1), _words(7, 9, 3, seed=2)
    _apng(tmp_path / "anim.png", default, frame)
    with Image.open(tmp_path / "anim.png") as img:
        assert np.abs(np.asarray(img).astype(int) - (default >> 8)).max() <= 1  # Pillow: the default image
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(tmp_path / "anim.png")
    assert image.bit_depth == 16
    assert np.abs(image.rgb * 65535 - default).max() < 0.02


def _adam7_png(path, words: np.ndarray) -> None:
    """A 16-bit PNG, Adam7-interlaced (the project's encoder writes only non-interlaced files)."""
    h, w, c = words.shape
    scanlines = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        sub = np.ascontiguousarray(words[y0::dy, x0::dx].astype(">u2"))
        if sub.size:
            scanlines += b"".join(b"\0" + row.tobytes() for row in sub.view(np.uint8).reshape(sub.shape[0], -1))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = {2: 4, 3: 2, 4: 6}[c]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 1))
                     + chunk(b"IDAT", zlib.compress(scanlines)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_an_interlaced_deep_png_keeps_its_16_bits(tmp_path, channels):
    """PyAV's pixel-format conversion takes an Adam7 PNG for interlaced video and returns rows of zeros; the samples
    are now read from FFmpeg's frame as decoded."""
    words = _words(37, 53, channels, seed=channels)
    _adam7_png(tmp_path / "adam7.png", words)
    with Image.open(tmp_path / "adam7.png") as img:
        assert img.info.get("interlace") and deep.deep_kind(img) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(tmp_path / "adam7.png")
    assert image.bit_depth == 16
    colour = words[..., :1] if channels == 2 else words[..., :3]
    assert np.abs(image.rgb * 65535 - colour).max() < 0.02
    if channels != 3:
        assert np.abs(image.alpha * 65535 - words[..., -1]).max() < 0.02


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("pyav", [True, False])
def test_a_per_channel_16_bit_tiff_is_read_right(tmp_path, monkeypatch, channels, pyav):
    """Uncompressed planes one after another (Photoshop's "Per Channel" order): Pillow's own TIFF reader took them
    for 8-bit planes and returned noise, with or without PyAV; its libtiff reader is used for them now."""
    tifffile = pytest.importorskip("tifffile")
    words = _words(21, 30, channels, seed=channels)
    tifffile.imwrite(tmp_path / "planes.tif", np.moveaxis(words, 2, 0), photometric="rgb", planarconfig="separate",
                     extrasamples=["unassalpha"] if channels == 4 else None)
    if not pyav:
        monkeypatch.setitem(sys.modules, "av", None)
        monkeypatch.setattr(deep, "_warned_missing", True)
    image = load_image(tmp_path / "planes.tif")
    assert image.bit_depth == (16 if pyav else 8)
    tolerance = 0.02 if pyav else 257  # at 8 bits: Pillow's high byte
    assert np.abs(image.rgb * 65535 - words[..., :3]).max() < tolerance
    if channels == 4:
        assert np.abs(image.alpha * 65535 - words[..., 3]).max() < tolerance


def _lut_profile() -> bytes:
    """An RGB profile LittleCMS uses but colornet's matrix code cannot: a colour lookup table (AToB0, lut16)
    that maps RGB to XYZ with an identity matrix, no curves and a 2-point grid."""
    from icc_profiles import D50, _desc, _text, _xyz, build_profile

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    table = [0, 65535]
    grid = [(r, g, b) for r in (0, 1) for g in (0, 1) for b in (0, 1)]
    srgb_to_xyz = np.array([[0.4361, 0.3851, 0.1431], [0.2225, 0.7169, 0.0606], [0.0139, 0.0971, 0.7141]])
    clut = b"".join(struct.pack(">3H", *(np.clip(srgb_to_xyz @ np.array(p, float) / (1 + 32767 / 32768), 0, 1)
                                         * 65535).round().astype(int)) for p in grid)
    lut16 = (b"mft2" + b"\0" * 4 + bytes([3, 3, 2, 0]) + b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
             + struct.pack(">HH", 2, 2) + b"".join(struct.pack(">2H", *table) for _ in range(3)) + clut
             + b"".join(struct.pack(">2H", *table) for _ in range(3)))
    return build_profile(b"RGB ", [(b"desc", _desc("Test LUT RGB")), (b"cprt", _text("public domain")),
                                   (b"wtpt", _xyz(D50)), (b"A2B0", lut16)])


def test_a_profile_only_littlecms_converts_is_read_at_8_bits_with_a_warning_that_says_so(tmp_path):
    from colornet.images import _colour_plan

    icc = _lut_profile()
    assert _colour_plan(icc, "RGB") == ("littlecms", None)
    ImageCms.ImageCmsProfile(io.BytesIO(icc))  # LittleCMS opens it
    _write(tmp_path / "scan.png", _words(6, 8, 3), [(b"iCCP", b"LUT\0\0" + zlib.compress(icc))])
    with pytest.warns(UserWarning, match=r"scan\.png: read at 8 bits .*ICC profile.*matrix profile"):
        image = load_image(tmp_path / "scan.png")
    assert image.bit_depth == 8 and image.metadata.colour == "converted (LittleCMS)"


def test_a_profile_nothing_can_use_is_ignored_and_the_16_bits_kept(tmp_path):
    """The 8-bit path ignores a profile LittleCMS cannot use either; the deep path did not need to give up 8 bits."""
    words = _words(6, 8, 3)
    _write(tmp_path / "scan.png", words, [(b"iCCP", b"junk\0\0" + zlib.compress(b"not a profile" * 20))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(tmp_path / "scan.png")
    assert image.bit_depth == 16 and np.abs(image.rgb * 65535 - words).max() < 0.02
    assert image.metadata.colour.startswith("ignored")


def test_without_pyav_the_warning_names_the_file(tmp_path, monkeypatch):
    _write(tmp_path / "scan one.tif", _words(6, 8, 3))
    monkeypatch.setitem(sys.modules, "av", None)
    monkeypatch.setattr(deep, "_warned_missing", False)
    with pytest.warns(UserWarning, match=r"scan one\.tif: read at 8 bits.*pip install \"colornet\[video\]\""):
        load_image(tmp_path / "scan one.tif")


def test_a_fourth_sample_that_is_not_alpha_is_dropped_and_the_16_bits_kept(tmp_path):
    """64-bit RGB + an unspecified extra sample (TIFF ExtraSamples 0; a film scanner's infrared channel, say): Pillow
    reads it as RGB ("RGBX;16"), so it was read at 8 bits without a word."""
    tifffile = pytest.importorskip("tifffile")
    words = _words(11, 13, 4, seed=5)
    tifffile.imwrite(tmp_path / "rgbi.tif", words, photometric="rgb", extrasamples=["unspecified"])
    with Image.open(tmp_path / "rgbi.tif") as img:
        assert img.mode == "RGB" and deep.deep_kind(img) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(tmp_path / "rgbi.tif")
    assert image.bit_depth == 16 and image.alpha is None
    assert np.abs(image.rgb * 65535 - words[..., :3]).max() < 0.02


@pytest.mark.parametrize("pyav", [True, False])
def test_a_16_bit_grey_alpha_png_has_its_grey_profile_applied(tmp_path, monkeypatch, pyav):
    """Pillow presents 16-bit grey + alpha as RGBA, so a grey ("Gray Gamma 1.8") profile looked misplaced and was
    ignored, at 16 bits and at 8: the scan came out lighter or darker than it is. LittleCMS is the reference."""
    from icc_profiles import grey_gamma

    icc = grey_gamma(1.8)
    words = _words(6, 8, 2, seed=3)
    _write(tmp_path / "scan.png", words, [(b"iCCP", b"Gray\0\0" + zlib.compress(icc))])
    if not pyav:
        monkeypatch.setitem(sys.modules, "av", None)
        monkeypatch.setattr(deep, "_warned_missing", True)
    image = load_image(tmp_path / "scan.png")
    assert image.bit_depth == (16 if pyav else 8) and image.metadata.colour == "converted"
    grey = Image.fromarray((words[..., 0] / 257).round().astype(np.uint8), "L")
    reference = ImageCms.profileToProfile(grey, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                          ImageCms.createProfile("sRGB"), outputMode="RGB")
    assert np.abs(image.rgb * 255 - np.asarray(reference, dtype=np.float32)).mean() < 1.0
    assert np.abs(image.alpha * 65535 - words[..., 1]).max() < (0.02 if pyav else 257)


def test_a_corrupt_exif_block_does_not_refuse_a_deep_png(tmp_path):
    """The 8-bit reading of the same file drops the corrupt block and goes on; reading the orientation for the deep
    path must not turn it into an ImageLoadError."""
    words = _words(6, 8, 3)
    _write(tmp_path / "scan.png", words, [(b"eXIf", b"garbage-not-tiff")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = load_image(tmp_path / "scan.png")
    assert image.rgb.shape == (6, 8, 3) and image.metadata.exif is None
    said = [str(w.message) for w in caught if "read at 8 bits" in str(w.message)]
    assert len(said) == (image.bit_depth == 8)  # FFmpeg 8.1 refuses the chunk: then a warning says so


def test_a_pyav_that_cannot_be_imported_means_8_bits_not_a_load_error(tmp_path, monkeypatch):
    """Found but broken (its FFmpeg libraries missing, say): the file was refused as 'probably corrupt'; now it is
    read at 8 bits, and the warning says what is wrong with PyAV."""
    (tmp_path / "site" / "av").mkdir(parents=True)
    (tmp_path / "site" / "av" / "__init__.py").write_text(
        'raise ImportError("libavformat.so.61: cannot open shared object file")\n')
    for name in [n for n in sys.modules if n == "av" or n.startswith("av.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(deep, "_warned_missing", False)
    words = _words(6, 8, 3)
    _write(tmp_path / "scan.png", words)
    with pytest.warns(UserWarning, match=r"scan\.png: read at 8 bits.*cannot be imported \(libavformat"):
        image = load_image(tmp_path / "scan.png")
    assert image.bit_depth == 8 and np.abs(image.rgb * 255 - np.round(words / 257)).max() < 1.001


@pytest.mark.parametrize("kind", ["cmyk", "premultiplied"])
def test_a_16_bit_kind_read_at_8_bits_only_says_so(tmp_path, kind):
    """16-bit CMYK and 16-bit RGB with associated alpha have no 16-bit path; they lost 8 bits without a word."""
    tifffile = pytest.importorskip("tifffile")
    words = _words(5, 7, 4, seed=9)
    options = {"photometric": "separated"} if kind == "cmyk" else {"photometric": "rgb", "extrasamples": ["assocalpha"]}
    tifffile.imwrite(tmp_path / "scan.tif", words, **options)
    with pytest.warns(UserWarning, match=r"scan\.tif: read at 8 bits of its 16 .*(CMYK|premultiplied)"):
        image = load_image(tmp_path / "scan.tif")
    assert image.bit_depth == 8
