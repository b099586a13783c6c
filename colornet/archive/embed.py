"""Metadata into each output container, in the places readers (exiftool, Photoshop, Lightroom, browsers) look.

PNG: iCCP (the profile), eXIf (EXIF), iTXt "XML:com.adobe.xmp" (XMP), zTXt "Raw profile type iptc" (IPTC-IIM as
ImageMagick and exiftool store it). JPEG: APP1 Exif, APP1 XMP, APP2 ICC_PROFILE (Pillow), APP13 Photoshop IRB with
the IPTC resource. TIFF: tags 34675, 700, 33723 and the EXIF directories (``colornet.archive.tiff``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from PIL import Image

from .metadata import photoshop_iptc_block, png_iptc_text

__all__ = ["OutputMetadata", "png_chunks", "jpeg_params"]

_JPEG_SEGMENT_MAX = 65533


@dataclass(frozen=True)
class OutputMetadata:
    """What one output file gets: ``exif`` already made true for the result (``metadata.exif_for_output``),
    ``icc`` the profile of the written pixels, ``xmp`` the complete packet (``xmp.build_xmp``), ``iptc`` raw IIM."""

    exif: Image.Exif | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None


def png_chunks(meta: OutputMetadata) -> list[tuple[bytes, bytes]]:
    """(type, data) ancillary chunks for ``pngwrite.write_png``."""
    chunks: list[tuple[bytes, bytes]] = []
    if meta.icc:
        chunks.append((b"iCCP", b"ICC profile\0\0" + zlib.compress(meta.icc)))
    if meta.exif is not None:
        chunks.append((b"eXIf", meta.exif.tobytes()[6:]))  # without "Exif\0\0"
    if meta.xmp:
        # iTXt: keyword, compression flag 0, method 0, empty language tag, empty translated keyword, text
        chunks.append((b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + meta.xmp))
    if meta.iptc:
        text = png_iptc_text(meta.iptc).encode("latin-1")
        chunks.append((b"zTXt", b"Raw profile type iptc\0\0" + zlib.compress(text)))
    return chunks


def jpeg_params(meta: OutputMetadata) -> dict[str, object]:
    """Keyword arguments for Pillow's JPEG ``save``: exif, icc_profile, xmp, and APP13 (IPTC) as ``extra``."""
    params: dict[str, object] = {}
    if meta.exif is not None:
        params["exif"] = meta.exif.tobytes()
    if meta.icc:
        params["icc_profile"] = meta.icc
    if meta.xmp:
        if len(meta.xmp) > _JPEG_SEGMENT_MAX - 29:
            raise ValueError(
                f"the XMP packet is {len(meta.xmp)} bytes, more than one JPEG segment holds; "
                "write PNG or TIFF (--format png|tiff) to keep it"
            )
        params["xmp"] = meta.xmp
    if meta.iptc:
        block = photoshop_iptc_block(meta.iptc)
        if len(block) <= _JPEG_SEGMENT_MAX:
            params["extra"] = b"\xff\xed" + (len(block) + 2).to_bytes(2, "big") + block
    return params
