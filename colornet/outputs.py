"""Writing colorized results: PNG (8 or 16 bit, chosen compression) or JPEG, atomically, with the user's umask.

8-bit results usually arrive as uint8 already (the colorizer's lean path); float results are quantised once here,
in strips. Then ``colornet.pngwrite`` (PNG: fast, 8 or 16 bit) or Pillow (JPEG) encodes them.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from .atomic import atomic_write
from .errors import ColorNetError
from .images import RGBImage, to_uint8
from .pngwrite import write_png

if TYPE_CHECKING:
    from .archive.carry import ArchiveOptions

OUTPUT_FORMATS = ("png", "jpg", "tiff")
DEFAULT_PNG_COMPRESSION = 1  # zlib level: 4K PNG ~0.3 s instead of 1.4-2 s at level 6, files ~10-30 % larger
DEFAULT_JPEG_QUALITY = 95
BIT_DEPTHS = ("auto", "8", "16")


class DiskFullError(ColorNetError, OSError):
    """The output disk is full: nothing more can be written, so the run stops (earlier outputs are kept)."""


@dataclass(frozen=True)
class OutputOptions:
    """How results are written. ``bit_depth``: "auto" = 16-bit PNG when the input had more than 8 bits."""

    format: str = "png"
    png_compression: int = DEFAULT_PNG_COMPRESSION
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    bit_depth: str = "auto"

    def suffix(self) -> str:
        return "." + self.format


def quantize(result: RGBImage, bits: int) -> np.ndarray:
    """``[H, W, 3 or 4]`` uint8/uint16 pixels of a result (alpha appended when present), rounded to nearest.

    8 bits: ``images.to_uint8`` (a uint8 result, the lean path, is only made contiguous). 16 bits: in strips of a
    few hundred rows with torch (the float result is usually a channels-first view; strips stay in cache).
    """
    if bits == 8:
        rgb = to_uint8(result.rgb)
        return rgb if result.alpha is None else np.dstack((rgb, to_uint8(result.alpha)))
    h, w = result.rgb.shape[:2]
    out = torch.empty((h, w, 3 if result.alpha is None else 4), dtype=torch.int32)  # no uint16 arithmetic in torch
    rgb = torch.from_numpy(result.as_float())
    alpha = torch.from_numpy(result.alpha) if result.alpha is not None else None
    rows = max(1, (1 << 18) // max(w, 1))
    for top in range(0, h, rows):
        part = slice(top, top + rows)
        out[part, :, :3] = rgb[part].mul(65535.0).add_(0.5).clamp_(0.0, 65535.0)
        if alpha is not None:
            out[part, :, 3] = alpha[part].mul(65535.0).add_(0.5).clamp_(0.0, 65535.0)
    return out.numpy().astype(np.uint16)


def output_bits(result: RGBImage, options: OutputOptions) -> int:
    if options.format == "jpg" or options.bit_depth == "8":
        return 8
    if options.bit_depth == "16":
        return 16
    return 16 if result.bit_depth > 8 else 8


def save_result(
    result: RGBImage, target: Path, options: OutputOptions, archive: "ArchiveOptions | None" = None
) -> int:
    """Write one result atomically; returns the file's size. ``archive``: metadata and provenance to embed
    (``colornet.archive.carry``; None: pixels only). A full disk raises ``DiskFullError`` (the temp file is removed)."""
    from .archive.carry import prepare_output
    from .archive.embed import OutputMetadata, jpeg_params, png_chunks
    from .archive.tiff import write_tiff

    meta = OutputMetadata()
    if archive is not None:
        result, meta = prepare_output(result, archive)
    pixels = quantize(result, output_bits(result, options))

    def write(tmp: str) -> None:
        if options.format == "png":
            with open(tmp, "wb") as fh:
                write_png(fh, pixels, compression=options.png_compression, chunks=png_chunks(meta))
        elif options.format == "tiff":
            with open(tmp, "wb") as fh:
                write_tiff(fh, pixels, icc=meta.icc, xmp=meta.xmp, iptc=meta.iptc, exif=meta.exif)
        else:  # JPEG has no alpha channel
            Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB").save(
                tmp, format="JPEG", quality=options.jpeg_quality, **jpeg_params(meta)
            )

    try:
        atomic_write(target, write, fsync=False)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"disk full while writing {target} ({os.strerror(err.errno)})") from err
        raise
    return target.stat().st_size


def decodes_fully(path: Path) -> bool:
    """True when ``path`` is an image file Pillow decodes to the end (what ``--skip-existing`` trusts without a
    report): a truncated or zero-filled file left by another tool is redone."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        with Image.open(path) as img:
            img.load()
        return True
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
