"""Small ICC v2 profiles for tests, built byte by byte from the ICC.1 layout (not by the code under test).

``adobe_rgb()``: Adobe RGB (1998)'s published D50 colorants and its 563/256 gamma. ``grey_gamma(1.8)``: the
"Gray Gamma 1.8" profile Photoshop embeds in greyscale scans. LittleCMS (Pillow's ImageCms) reads both, which is
what the tests use as the independent reference.
"""

from __future__ import annotations

import struct

D50 = (0.9642, 1.0, 0.8249)
ADOBE_RGB_COLORANTS = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457))
ADOBE_RGB_GAMMA = 563 / 256


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _gamma(g: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(g * 256)) + b"\0\0"


def _table(values: list[float]) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(f">I{len(values)}H", len(values), *(round(v * 65535) for v in values))


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 8 + b"\0\0\0" + b"\0" * 67


def _text(text: str) -> bytes:
    return b"text\0\0\0\0" + text.encode("ascii") + b"\0"


def build_profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """An ICC v2 display profile with ``tags`` (signature, data), PCS XYZ, D50 illuminant."""
    table = struct.pack(">I", len(tags))
    offset = 128 + 4 + 12 * len(tags)
    data = b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += struct.pack(">4sII", sig, offset + len(data), len(body))
        data += body
    size = 128 + len(table) + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"\0\0\0\0", 0x02100000, b"mntr", space, b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4
    header += b"".join(_s15(v) for v in D50) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28
    assert len(header) == 128, len(header)
    return header + table + data


def adobe_rgb() -> bytes:
    r, g, b = ADOBE_RGB_COLORANTS
    curve = _gamma(ADOBE_RGB_GAMMA)
    return build_profile(b"RGB ", [
        (b"desc", _desc("Test Adobe RGB (1998) compatible")), (b"cprt", _text("public domain")),
        (b"wtpt", _xyz(D50)), (b"rXYZ", _xyz(r)), (b"gXYZ", _xyz(g)), (b"bXYZ", _xyz(b)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ])


def grey_gamma(gamma: float = 1.8) -> bytes:
    return build_profile(b"GRAY", [
        (b"desc", _desc(f"Test Gray Gamma {gamma:g}")), (b"cprt", _text("public domain")),
        (b"wtpt", _xyz(D50)), (b"kTRC", _gamma(gamma)),
    ])


def grey_table(values: list[float]) -> bytes:
    """A grey profile whose curve is a sampled table (dot-gain style)."""
    return build_profile(b"GRAY", [
        (b"desc", _desc("Test Gray table")), (b"cprt", _text("public domain")),
        (b"wtpt", _xyz(D50)), (b"kTRC", _table(values)),
    ])
