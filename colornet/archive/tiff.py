"""TIFF output: 8- or 16-bit RGB/RGBA (or grey), deflate with the horizontal predictor, metadata in the IFD.

Why not Pillow's TIFF writer: Pillow has no 16-bit RGB image mode, so a colorized 16-bit scan could only be written
as 8 bits. Pixels are written here as strips of about 256 KB, each deflated on its own (threads: zlib releases the
GIL); the directory is serialised by Pillow's ``ImageFileDirectory_v2`` (the same code Pillow's writer uses), which
also writes the EXIF and GPS sub-IFDs. Alpha is unassociated (ExtraSamples = 2), as the PNG output's is.
"""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
from PIL import Image, TiffTags
from PIL.TiffImagePlugin import ImageFileDirectory_v2

from .metadata import NOT_EXIF

__all__ = ["write_tiff", "TIFF_COMPRESSIONS"]

TIFF_COMPRESSIONS = ("deflate", "none")
_STRIP_BYTES = 1 << 18
# tags that describe the pixel layout: never copied from the input's EXIF, always written from the pixels
_STRUCTURE = NOT_EXIF | {274, 34665, 34853, 0xA005}
_EXIF_SUB_IFDS = (0x8769, 0x8825)  # Exif, GPS


def _predict(strip: np.ndarray) -> np.ndarray:
    """TIFF Predictor 2 (horizontal differencing): each sample minus its left neighbour, per channel, wrapping."""
    out = strip.copy()
    np.subtract(strip[:, 1:], strip[:, :-1], out=out[:, 1:])
    return out


def write_tiff(
    fh: BinaryIO,
    pixels: np.ndarray,
    *,
    compression: str = "deflate",
    level: int = 6,
    threads: int | None = None,
    icc: bytes | None = None,
    xmp: bytes | None = None,
    iptc: bytes | None = None,
    exif: Image.Exif | None = None,
    software: str | None = None,
) -> None:
    """Write ``pixels`` (``[H, W]`` or ``[H, W, C]``, C in 1..4, uint8 or uint16) as a little-endian TIFF.

    ``icc``/``xmp``/``iptc`` go in their TIFF tags (34675, 700, 33723); ``exif``'s IFD0 tags (camera, artist,
    copyright, dates, resolution ...) join the image's IFD0 and its Exif/GPS directories become sub-IFDs.
    """
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_tiff needs uint8/uint16 [H, W, 1..4], got {pixels.dtype} {pixels.shape}")
    if compression not in TIFF_COMPRESSIONS:
        raise ValueError(f"TIFF compression must be one of {TIFF_COMPRESSIONS}, got {compression!r}")
    h, w, c = pixels.shape
    bits = 16 if pixels.dtype == np.uint16 else 8
    row_bytes = w * c * bits // 8
    rows = max(1, min(h, _STRIP_BYTES // max(row_bytes, 1)))
    pixels = pixels.astype("<u2", copy=False) if bits == 16 else pixels
    starts = list(range(0, h, rows))

    def strip(top: int) -> bytes:
        part = np.ascontiguousarray(pixels[top : top + rows])
        if compression == "none":
            return part.tobytes()
        return zlib.compress(_predict(part).tobytes(), level)

    threads = threads if threads is not None else min(2, os.cpu_count() or 1)
    if threads > 1 and len(starts) > 1 and compression != "none":
        with ThreadPoolExecutor(max_workers=threads) as pool:
            data = list(pool.map(strip, starts))
    else:
        data = [strip(top) for top in starts]

    ifd = ImageFileDirectory_v2(prefix=b"II")

    def put(tag: int, value: object, kind: int) -> None:
        ifd.tagtype[tag] = kind
        ifd[tag] = value

    if exif is not None:
        for tag, value in exif.items():
            if tag not in _STRUCTURE and tag not in _EXIF_SUB_IFDS:
                ifd[tag] = value
        for tag in _EXIF_SUB_IFDS:
            sub = exif.get_ifd(tag)
            if sub:
                put(tag, dict(sub), TiffTags.LONG)
    put(256, w, TiffTags.LONG)
    put(257, h, TiffTags.LONG)
    put(258, (bits,) * c, TiffTags.SHORT)
    put(259, 8 if compression == "deflate" else 1, TiffTags.SHORT)
    put(262, 2 if c >= 3 else 1, TiffTags.SHORT)  # RGB, or BlackIsZero
    offsets, total = [], 0
    for piece in data:
        offsets.append(total)  # relative: ImageFileDirectory_v2.tobytes adds where the pixel data starts
        total += len(piece)
    put(273, tuple(offsets), TiffTags.LONG)
    put(274, 1, TiffTags.SHORT)
    put(277, c, TiffTags.SHORT)
    put(278, rows, TiffTags.LONG)
    put(279, tuple(len(p) for p in data), TiffTags.LONG)
    if 282 not in ifd:
        put(282, 72.0, TiffTags.RATIONAL)
        put(283, 72.0, TiffTags.RATIONAL)
        put(296, 2, TiffTags.SHORT)
    put(284, 1, TiffTags.SHORT)
    if software and 305 not in ifd:
        put(305, software, TiffTags.ASCII)
    if compression == "deflate":
        put(317, 2, TiffTags.SHORT)
    if c in (2, 4):
        put(338, (2,), TiffTags.SHORT)  # unassociated alpha
    put(339, (1,) * c, TiffTags.SHORT)
    if xmp:
        put(700, xmp, TiffTags.BYTE)
    if iptc:  # as LONGs, as Photoshop writes it (readers expect that type); the bytes are unchanged
        padded = iptc + b"\0" * (-len(iptc) % 4)
        ifd.tagtype[33723] = TiffTags.LONG
        # set without Pillow's per-tag count check, which knows this tag as one LONG and would keep 4 bytes
        ifd._tags_v2[33723] = struct.unpack(f"<{len(padded) // 4}I", padded)
    if icc:
        put(34675, icc, TiffTags.UNDEFINED)
    fh.write(b"II*\0" + (8).to_bytes(4, "little"))
    fh.write(ifd.tobytes(8))
    for piece in data:
        fh.write(piece)


def tiff_complete(path: str | os.PathLike) -> bool:
    """True when every strip a TIFF's first directory lists lies inside the file and (deflate) inflates to its full
    size: what a truncated or zero-filled file is not (``--skip-existing`` trusts only complete outputs)."""
    from PIL import UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.format != "TIFF":
                return False
            tags = img.tag_v2
            offsets, counts = tags.get(273), tags.get(279)
            compression = tags.get(259, 1)
            width, height, rows = img.width, img.height, tags.get(278, img.height)
            bits = tags.get(258, (8,))
            samples = tags.get(277, 1)
        if not offsets or not counts or len(offsets) != len(counts):
            return False
        size = os.path.getsize(path)
        row_bytes = width * samples * (bits[0] if isinstance(bits, tuple) else bits) // 8
        with open(path, "rb") as fh:
            for i, (offset, count) in enumerate(zip(offsets, counts)):
                if offset + count > size:
                    return False
                if compression in (8, 32946):
                    fh.seek(offset)
                    strip_rows = min(rows, height - i * rows)
                    if len(zlib.decompress(fh.read(count))) != strip_rows * row_bytes:
                        return False
        return True
    except (OSError, SyntaxError, ValueError, TypeError, zlib.error, UnidentifiedImageError):
        return False
