"""The PNG encoder: every file it writes must decode (with Pillow, and by hand for 16-bit RGB) to the exact pixels."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from colornet import pngwrite
from colornet.pngwrite import write_png


def _encode(pixels: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    write_png(buf, pixels, **kw)
    return buf.getvalue()


def _decode_by_hand(data: bytes) -> np.ndarray:
    """A minimal independent PNG reader (colour types 0/2/4/6, filters 0-4) for what Pillow reads only as 8-bit."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, ctype = header[:4]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    bpp = channels * depth // 8
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * bpp)
    out = np.zeros((h, w * bpp), np.int64)
    for y in range(h):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        prev = out[y - 1] if y else np.zeros(w * bpp, np.int64)
        for x in range(w * bpp):
            a = out[y, x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            pred = [0, a, b, (a + b) // 2, min((a, b, c), key=lambda v: abs(a + b - c - v))][kind]
            out[y, x] = (line[x] + pred) % 256
    out = out.astype(np.uint8).reshape(h, w, bpp)
    if depth == 16:
        return out.view(">u2").reshape(h, w, channels).astype(np.uint16)
    return out.reshape(h, w, channels)


@pytest.mark.parametrize("channels,mode", [(3, "RGB"), (4, "RGBA"), (1, "L")])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_8bit_round_trip_through_pillow(channels, mode, level, monkeypatch):
    monkeypatch.setattr(pngwrite, "_PIECE_BYTES", 4000)  # several deflate pieces, compressed in parallel and joined
    rng = np.random.default_rng(level)
    ramp = np.linspace(0, 255, 170)[None, :, None]
    pixels = np.clip(ramp + rng.normal(0, 20, (110, 170, channels)), 0, 255).astype(np.uint8)
    assert pixels.size > 4 * pngwrite._PIECE_BYTES
    img = Image.open(io.BytesIO(_encode(pixels, compression=level)))
    assert img.mode == mode
    np.testing.assert_array_equal(np.asarray(img).reshape(pixels.shape), pixels)


def test_16bit_grey_round_trip_through_pillow():
    pixels = np.random.default_rng(1).integers(0, 65536, (37, 23), dtype=np.uint16)
    img = Image.open(io.BytesIO(_encode(pixels)))
    assert img.mode.startswith("I;16")
    np.testing.assert_array_equal(np.asarray(img).astype(np.uint16), pixels)


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_decodes_exactly(channels):
    pixels = np.random.default_rng(2).integers(0, 65536, (9, 7, channels), dtype=np.uint16)
    data = _encode(pixels, threads=1)
    assert data[24] == 16  # IHDR bit depth
    np.testing.assert_array_equal(_decode_by_hand(data), pixels)
    Image.open(io.BytesIO(data)).load()  # and Pillow accepts it (at 8-bit precision)


def test_compression_levels_trade_size():
    ramp = np.linspace(0, 255, 512)
    pixels = np.stack([*np.meshgrid(ramp, ramp), np.full((512, 512), 128.0)], -1).astype(np.uint8)
    sizes = [len(_encode(pixels, compression=level)) for level in (0, 1, 9)]
    assert sizes[0] > sizes[1] >= sizes[2]


def test_rejects_what_png_cannot_hold():
    with pytest.raises(ValueError):
        _encode(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        _encode(np.zeros((4, 4, 3), np.uint8), compression=10)
