"""What a photo file carries besides pixels, read once by the image loader and written back by the output writer.

Kept: EXIF (camera, dates, artist, copyright, GPS, ...; the orientation is reset to 1 because the loader has already
turned the pixels upright, the grey thumbnail in IFD1 is dropped because it would contradict the colour result, and
the pixel dimensions are updated), IPTC-IIM records, the XMP packet (merged with ColorNet's provenance by
``colornet.archive.xmp``) and the ICC profile's *meaning*: the pixels are converted to sRGB on input
(``colornet.archive.icc``) and written with the sRGB profile, or converted back into the input's RGB profile.
Photoshop image resources other than IPTC, JPEG comments and PNG text chunks are not carried.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass, field, replace

from PIL import Image

__all__ = ["ImageMetadata", "read_metadata", "exif_for_output", "iptc_from_photoshop", "photoshop_iptc_block",
           "png_iptc_text", "iptc_from_png_text"]

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
COLOR_SPACE = 0xA001


@dataclass(frozen=True)
class ImageMetadata:
    """Metadata of one decoded file. ``icc``: the embedded profile as found (None: none); ``colour``: what the loader
    did with it ("none", "srgb", "converted", or "ignored: <why>"); ``exif``: the raw EXIF block (TIFF header
    onwards, no "Exif\\0\\0"); ``iptc``: IPTC-IIM records (the bytes inside Photoshop resource 0x0404);
    ``xmp``: the XMP packet's bytes."""

    exif: bytes | None = None
    iptc: bytes | None = None
    xmp: bytes | None = None
    icc: bytes | None = None
    colour: str = "none"
    source_format: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def with_colour(self, colour: str) -> "ImageMetadata":
        return replace(self, colour=colour)

    @property
    def empty(self) -> bool:
        return not (self.exif or self.iptc or self.xmp or self.icc)


def _bytes(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, tuple):  # TIFF BYTE/LONG arrays read by Pillow as tuples
        if len(value) == 1 and isinstance(value[0], (bytes, str)):
            return _bytes(value[0])
        try:
            return bytes(value)
        except (TypeError, ValueError):  # LONGs: their byte order is the file's, unknown here -- not guessed
            return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value) or None
    return None


def iptc_from_photoshop(resources: dict) -> bytes | None:
    """The IPTC-IIM block (resource 0x0404) of a Photoshop image-resource dict as Pillow parses JPEG APP13."""
    value = resources.get(0x0404)
    if isinstance(value, dict):
        value = value.get("data")
    return _bytes(value)


def photoshop_iptc_block(iptc: bytes) -> bytes:
    """An APP13 payload ("Photoshop 3.0" + one 8BIM resource 0x0404) carrying ``iptc``."""
    data = iptc + (b"\0" if len(iptc) % 2 else b"")
    return b"Photoshop 3.0\0" + b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iptc)) + data


def png_iptc_text(iptc: bytes) -> str:
    """ImageMagick's "Raw profile type iptc" text (what exiftool reads as IPTC in a PNG): name, length, hex lines."""
    hexed = binascii.hexlify(iptc).decode("ascii")
    lines = "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    return f"\niptc\n{len(iptc):8d}\n{lines}\n"


def iptc_from_png_text(text: str) -> bytes | None:
    match = re.match(r"\s*\S+\s+(\d+)\s+([0-9a-fA-F\s]+)", text)
    if not match:
        return None
    try:
        data = binascii.unhexlify(re.sub(r"\s", "", match.group(2)))
    except binascii.Error:
        return None
    data = data[: int(match.group(1))]
    if data.startswith(b"Photoshop 3.0\0") or data.startswith(b"8BIM"):
        return None  # a Photoshop resource block, not bare IIM: not worth unpacking here
    return data or None


# tags of IFD0 that describe pixel storage, or that are carried on their own (XMP, IPTC, ICC), or that hold a whole
# layered Photoshop document: never part of the EXIF carried to an output (a TIFF input's IFD0 has them all)
NOT_EXIF = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 290, 291, 292, 293, 317, 318,
    319, 320, 321, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341, 513, 514, 515, 529, 530, 531, 532, 700, 33723,
    34377, 34675, 37724,
})


def read_metadata(img: Image.Image) -> ImageMetadata:
    """EXIF, IPTC, XMP and ICC of a just-opened Pillow image (before any transpose or conversion)."""
    info = img.info
    iptc = xmp = None
    tags = getattr(img, "tag_v2", None)
    if tags is not None:
        # the IPTC tag's raw bytes, read before anything unpacks it: Photoshop types it as LONGs, and Pillow
        # (which expects one LONG) would keep only the first four bytes
        iptc = _bytes(getattr(tags, "_tagdata", {}).get(33723))
        xmp = _bytes(tags.get(700)) if 700 in tags else None
    exif = None
    try:
        raw = img.getexif()
        for tag in NOT_EXIF & set(raw):
            del raw[tag]
        if len(raw) or raw.get_ifd(EXIF_IFD):
            exif = raw.tobytes()[6:]  # without "Exif\0\0"
    except (OSError, ValueError, SyntaxError, struct.error, TypeError, KeyError):
        exif = None  # a corrupt EXIF block is dropped, not a reason to refuse the photo
    xmp = xmp or _bytes(info.get("xmp") or info.get("XML:com.adobe.xmp"))
    if iptc is None and isinstance(info.get("photoshop"), dict):
        iptc = iptc_from_photoshop(info["photoshop"])
    if iptc is None and isinstance(info.get("Raw profile type iptc"), str):
        iptc = iptc_from_png_text(info["Raw profile type iptc"])
    icc = _bytes(info.get("icc_profile"))
    return ImageMetadata(exif=exif, iptc=iptc, xmp=xmp, icc=icc, source_format=img.format)


def exif_for_output(exif: bytes | None, width: int, height: int, *, srgb: bool = True) -> Image.Exif | None:
    """The input's EXIF made true for the result: orientation 1 (the pixels are already upright), no IFD1
    thumbnail (a grey preview of a colour photo), pixel dimensions of the result, ColorSpace 1 (sRGB) or
    0xFFFF (uncalibrated: see the embedded profile) as ``srgb`` says. None when there is none."""
    if not exif:
        return None
    out = Image.Exif()
    try:
        out.load(b"Exif\0\0" + exif)
        if ORIENTATION in out:
            out[ORIENTATION] = 1
        sub = out.get_ifd(EXIF_IFD)
        if sub:
            if PIXEL_X in sub:
                sub[PIXEL_X] = width
            if PIXEL_Y in sub:
                sub[PIXEL_Y] = height
            if COLOR_SPACE in sub:
                sub[COLOR_SPACE] = 1 if srgb else 0xFFFF
        out.tobytes()  # fails here, not in the writer, if a value cannot be re-encoded; IFD1 is never written
    except (OSError, ValueError, SyntaxError, struct.error, TypeError, KeyError, AttributeError):
        return None
    return out
