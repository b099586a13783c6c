"""The one image loader on the bad and unusual inputs users actually have."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from colornet.errors import ImageLoadError
from colornet.images import load_image, to_pil, to_rgb_image


def _photo(w=40, h=30, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def test_rgb_jpeg(tmp_path):
    path = tmp_path / "a.jpg"
    _photo().save(path, quality=95)
    img = load_image(path)
    assert img.rgb.shape == (30, 40, 3) and img.rgb.dtype == np.float32 and img.alpha is None
    assert 0.0 <= img.rgb.min() and img.rgb.max() <= 1.0


def test_rgba_keeps_alpha(tmp_path):
    rgba = np.dstack([np.full((5, 6, 3), 200, np.uint8), np.arange(30, dtype=np.uint8).reshape(5, 6) * 8])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.alpha is not None and np.allclose(img.alpha * 255, rgba[..., 3], atol=0.5)


def test_greyscale_and_la(tmp_path):
    Image.new("L", (7, 3), 128).save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.rgb.shape == (3, 7, 3) and np.allclose(g.rgb, 128 / 255)
    Image.new("LA", (7, 3), (10, 99)).save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").alpha is not None


def test_16bit_greyscale_png_uses_full_range(tmp_path):
    arr = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    img = load_image(tmp_path / "d.png")
    assert img.bit_depth == 16
    assert np.allclose(img.rgb[0, :, 0], [0, 32768 / 65535, 1.0], atol=1e-4)


def test_cmyk_jpeg_converted(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # CMYK red
    img = load_image(tmp_path / "c.jpg")
    r, g, b = img.rgb[4, 4]
    assert r > 0.8 and g < 0.2 and b < 0.2


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (4, 4), 0)
    p.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    img = load_image(tmp_path / "p.png")
    assert img.alpha is not None and img.alpha.max() == 0.0


def test_exif_orientation_applied(tmp_path):
    photo = _photo(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    photo.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_image(tmp_path / "r.jpg").rgb.shape == (40, 30, 3)


def test_tiny_image(tmp_path):
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png").rgb.shape == (1, 1, 3)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_files_raise_clear_error(tmp_path, damage):
    buf = io.BytesIO()
    _photo(64, 64).save(buf, "PNG")
    data = {"truncated": buf.getvalue()[: len(buf.getvalue()) // 2], "garbage": b"not an image" * 10, "empty": b""}
    path = tmp_path / "bad.png"
    path.write_bytes(data[damage])
    with pytest.raises(ImageLoadError, match="bad.png"):
        load_image(path)


def test_truncated_jpeg_raises(tmp_path):
    buf = io.BytesIO()
    _photo(128, 128).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[:600])
    with pytest.raises(ImageLoadError, match="truncated|corrupt"):
        load_image(tmp_path / "t.jpg")


def test_too_large_image_refused_with_advice(tmp_path):
    _photo(100, 100).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="downscale"):
        load_image(tmp_path / "big.png", max_megapixels=50 * 50 / 1e6)
    assert load_image(tmp_path / "big.png", max_megapixels=None).size == (100, 100)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize(
    "arr, depth",
    [
        (np.full((4, 5), 255, np.uint8), 8),
        (np.full((4, 5, 3), 65535, np.uint16), 16),
        (np.ones((4, 5, 4), np.float32), 32),
        (np.ones((4, 5, 1), np.float64), 32),
    ],
)
def test_arrays(arr, depth):
    img = to_rgb_image(arr)
    assert img.rgb.shape == (4, 5, 3) and img.bit_depth == depth and np.allclose(img.rgb, 1.0)
    assert (img.alpha is not None) == (arr.ndim == 3 and arr.shape[2] == 4)


def test_bad_arrays():
    with pytest.raises(ImageLoadError, match="NaN"):
        to_rgb_image(np.full((2, 2, 3), np.nan, np.float32))
    with pytest.raises(ImageLoadError, match="shape"):
        to_rgb_image(np.zeros((2, 2, 7), np.uint8))
    with pytest.raises(ImageLoadError, match="Empty"):
        to_rgb_image(np.zeros((0, 2, 3), np.uint8))
    with pytest.raises(TypeError, match="Unsupported image type"):
        to_rgb_image(42)


def test_tensor_and_pil_inputs_and_output():
    t = torch.rand(6, 7, 3)
    assert np.allclose(to_rgb_image(t).rgb, t.numpy())
    pil = to_pil(to_rgb_image(t).rgb, np.ones((6, 7), np.float32))
    assert pil.mode == "RGBA" and pil.size == (7, 6)


def test_16bit_rgb_png_loads(tmp_path):
    """Pillow decodes 16-bit RGB PNGs to 8 bits per channel; the photo must still load, at 8-bit precision."""
    import struct
    import zlib

    rgb16 = (np.random.default_rng(0).random((20, 30, 3)) * 65535).astype(">u2")

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb16[y].tobytes() for y in range(rgb16.shape[0]))
    header = struct.pack(">IIBBBBB", 30, 20, 16, 2, 0, 0, 0)  # 16 bits per sample, truecolour
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "rgb16.png").write_bytes(png)
    img = load_image(tmp_path / "rgb16.png")
    assert img.rgb.shape == (20, 30, 3)
    assert np.abs(img.rgb - rgb16.astype(np.float64) / 65535).max() < 1 / 255
