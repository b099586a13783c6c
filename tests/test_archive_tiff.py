"""TIFF output: 8/16-bit, RGB/RGBA/grey, deflate; decoded by tifffile (an independent reader) and Pillow."""

import io

import numpy as np
import pytest
from PIL import Image

from colornet.archive.tiff import write_tiff

tifffile = pytest.importorskip("tifffile", reason="tifffile (installed with scikit-image) decodes 16-bit RGB TIFF")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("compression", ["deflate", "none"])
def test_round_trip(tmp_path, dtype, channels, compression):
    rng = np.random.default_rng(channels)
    hi = np.iinfo(dtype).max
    pixels = rng.integers(0, hi, (300, 257, channels), dtype=dtype)  # several strips, odd width
    pixels[:100] = pixels[:1]  # a smooth part, so deflate has something to shrink
    path = tmp_path / "out.tif"
    with open(path, "wb") as fh:
        write_tiff(fh, pixels, compression=compression, level=1)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.compression == (8 if compression == "deflate" else 1)
        decoded = page.asarray()
        if channels == 4:
            assert page.extrasamples == (2,)  # unassociated alpha
    assert decoded.dtype == dtype
    assert np.array_equal(decoded.reshape(pixels.shape), pixels)
    if dtype == np.uint8 or channels == 1:
        assert np.array_equal(np.asarray(Image.open(path)).reshape(pixels.shape), pixels)


def test_deflate_shrinks_a_photo_like_image():
    y, x = np.mgrid[0:256, 0:256]
    smooth = np.dstack([(x * 200), (y * 200), ((x + y) * 100)]).astype(np.uint16)
    packed, raw = io.BytesIO(), io.BytesIO()
    write_tiff(packed, smooth)
    write_tiff(raw, smooth, compression="none")
    assert len(packed.getvalue()) < len(raw.getvalue()) / 10  # the horizontal predictor at work


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="uint8/uint16"):
        write_tiff(io.BytesIO(), np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="compression"):
        write_tiff(io.BytesIO(), np.zeros((4, 4, 3), np.uint8), compression="lzw")


def test_completeness_check(tmp_path):
    from colornet.archive.tiff import tiff_complete

    pixels = np.random.default_rng(0).integers(0, 65535, (600, 300, 3), dtype=np.uint16)
    path = tmp_path / "whole.tif"
    with open(path, "wb") as fh:
        write_tiff(fh, pixels)
    data = path.read_bytes()
    assert tiff_complete(path)
    (tmp_path / "cut.tif").write_bytes(data[: len(data) - 1000])
    assert not tiff_complete(tmp_path / "cut.tif")
    zeroed = bytearray(data)
    zeroed[-5000:] = bytes(5000)  # a file whose end never reached the disk
    (tmp_path / "zeroed.tif").write_bytes(bytes(zeroed))
    assert not tiff_complete(tmp_path / "zeroed.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    assert not tiff_complete(tmp_path / "empty.tif")
