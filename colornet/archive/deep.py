"""Colour files with 16 bits a channel (48-bit RGB, 64-bit RGBA, 32-bit grey + alpha PNG and TIFF) at full depth.

Why: Pillow has no 16-bit colour mode, so it decodes these at 8 bits. An archive's 48-bit scan would lose its low byte
before L is taken from it, and the result would be written back at 8 bits. FFmpeg's PNG and TIFF decoders keep all
16, and PyAV (the ``video`` extra, ``pip install "colornet[video]"``) ships them. Without PyAV the loader reads the
file at 8 bits, as before, and says so once per process.

Only the pixels come from here. The file is still opened and decoded by Pillow first (its size check, metadata, ICC
profile, EXIF orientation, and the truncation and corruption checks every file gets), so everything else about loading
stays one implementation (``colornet.images``); FFmpeg's 16 bits are used only where their high byte is Pillow's 8.
"""

from __future__ import annotations

import struct
import threading
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image

# Pillow's rawmode before ";16..." for the colour (and grey + alpha) kinds. RGBX: a fourth sample that is not alpha
# (TIFF ExtraSamples 0, e.g. a film scanner's infrared channel), which Pillow drops, and so does the loader.
_DEEP_RAWMODES = ("RGB", "RGBA", "LA", "RGBX")
_warned_missing = False


def _planned_sixteen_bit(img: Image.Image) -> str | None:
    """The kind ("RGB", "CMYK", ...) of a PNG or TIFF whose tile, planned from the header, unpacks 16-bit samples
    (Pillow's rawmode "<kind>;16..."), else None."""
    if img.format not in ("PNG", "TIFF") or not img.tile:
        return None
    args = img.tile[0].args
    rawmode = args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else "")
    kind, _, bits = rawmode.partition(";")
    return kind if bits.startswith("16") else None


def deep_kind(img: Image.Image) -> str | None:
    """"RGB", "RGBA", "RGBX" or "LA" for a PNG or TIFF that stores 16 bits per colour channel (Pillow would decode
    it at 8), else None. Call before ``img.load()``: the answer comes from the tile Pillow planned from the header.
    "LA": grey + alpha, which Pillow presents as RGBA (so its grey ICC profile would look misplaced)."""
    kind = _planned_sixteen_bit(img)
    return kind if kind in _DEEP_RAWMODES else None


# 16-bit kinds Pillow decodes (at 8 bits) that the 16-bit path does not take
_EIGHT_BIT_ONLY = {"CMYK": "16-bit CMYK", "RGBa": "16-bit colour with premultiplied (associated) alpha"}


def read_at_8_bits_only(img: Image.Image) -> str | None:
    """What a file is that stores 16 bits a channel but is read at 8 all the same ("16-bit CMYK", ...), or None.
    Call before ``img.load()``, as ``deep_kind``: the loader says so rather than drop 8 bits silently."""
    kind = _planned_sixteen_bit(img) if img.format == "TIFF" else None
    return _EIGHT_BIT_ONLY.get(kind) if kind else None


def pillow_misreads_planes(img: Image.Image) -> bool:
    """True for an uncompressed TIFF with its colour planes one after another (PlanarConfiguration 2, e.g.
    Photoshop's "Per Channel" order) and more than 8 bits a sample: Pillow's own TIFF reader takes each plane for
    8-bit samples and returns noise, without an error. Its libtiff reader (``open_with_libtiff``) reads it right."""
    if img.format != "TIFF" or not img.tile or img.tile[0].codec_name != "raw":
        return False
    tags = getattr(img, "tag_v2", {})
    bits = tags.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    return tags.get(284, 1) == 2 and tags.get(277, 1) > 1 and max(bits, default=8) > 8


_libtiff_switch = threading.Lock()


def open_with_libtiff(fh: BinaryIO) -> Image.Image:
    """``fh`` opened by Pillow with its libtiff TIFF reader (the one it uses for compressed files anyway). The switch
    is Pillow's module setting, consulted as a file is opened; another thread opening a TIFF meanwhile gets libtiff
    too, which reads every layout right."""
    from PIL import TiffImagePlugin

    fh.seek(0)
    with _libtiff_switch:
        before = TiffImagePlugin.READ_LIBTIFF
        TiffImagePlugin.READ_LIBTIFF = True
        try:
            return Image.open(fh)
        finally:
            TiffImagePlugin.READ_LIBTIFF = before


def decoder_available(source: str) -> bool:
    """Whether PyAV can be imported; warns once (naming ``source``, the first such file, and what to do) when not.
    Imported, not just looked up: a PyAV whose FFmpeg libraries are missing, or a folder named ``av`` on the path,
    is found but fails to import, and must not turn every 48-bit file into a load error."""
    global _warned_missing
    try:
        import av  # noqa: F401
        from av.error import FFmpegError  # noqa: F401
    except ImportError as err:  # ModuleNotFoundError included
        if not _warned_missing:
            _warned_missing = True
            missing = isinstance(err, ModuleNotFoundError) and err.name == "av"
            remedy = ("install PyAV (pip install \"colornet[video]\")" if missing or "halted" in str(err) else
                      f"PyAV is there but cannot be imported ({err}); reinstall it (pip install --force-reinstall "
                      "av)")
            warnings.warn(
                f"{source}: read at 8 bits of its 16 (Pillow cannot read more), and so are other 48/64-bit PNG and "
                f"TIFF files (said once); {remedy} to read them at full depth and write 16-bit results",
                stacklevel=3,
            )
        return False
    return True


_DEMUXERS = {"PNG": "png_pipe", "TIFF": "tiff_pipe"}  # FFmpeg's single-image readers, by Pillow's format name
# FFmpeg's packed 16-bit pixel formats (byte order, samples a pixel): read straight from the decoded frame. Not
# through PyAV's ``to_ndarray(format=...)``: that converts with swscale, which takes an Adam7-interlaced PNG for
# field-interlaced video and returns rows of zeros, and it costs a copy of the picture.
_PACKED = {
    "rgb48be": (">u2", 3), "rgb48le": ("<u2", 3), "rgba64be": (">u2", 4), "rgba64le": ("<u2", 4),
    "ya16be": (">u2", 2), "ya16le": ("<u2", 2),
}


def decode_words(fh: BinaryIO, image_format: str, has_alpha: bool) -> np.ndarray:
    """The file's 16-bit samples, uint16 ``[H, W, C]`` in either byte order, as stored (before EXIF orientation):
    C is 3 (RGB), 4 (RGBA) or 2 (grey + alpha), and the array is usually a view of FFmpeg's frame (which it keeps
    alive). ``fh``: the open file Pillow read, so FFmpeg reads the same bytes (not a name it could take for a URL, an
    image-sequence pattern or, by then, another file), with the demuxer of Pillow's ``image_format`` (of an APNG, the
    image Pillow reads, not the animation's first frame). Raises ``ValueError`` where FFmpeg cannot decode it."""
    import av
    from av.error import FFmpegError

    fh.seek(0)
    try:
        with av.open(fh, format=_DEMUXERS[image_format]) as container:
            frame = next(container.decode(video=0), None)
    except FFmpegError as err:  # e.g. "Invalid data found when processing input" for a truncated file
        raise ValueError(f"FFmpeg: {err.strerror or err}") from err
    if frame is None:
        raise ValueError("the file holds no picture")
    dtype, packed = _PACKED.get(frame.format.name, (None, 0))
    if packed == 0 or (has_alpha and packed == 3) or (not has_alpha and packed == 2):  # planar, grey, ...
        return frame.to_ndarray(format="rgba64le" if has_alpha else "rgb48le")  # FFmpeg converts it
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)  # rows may be padded
    words = rows[:, : frame.width * packed * 2].view(dtype).reshape(frame.height, frame.width, packed)
    return words if has_alpha else words[..., :3]  # RGB + a sample that is not alpha (RGBX): RGB


def _as_channels(words: np.ndarray, channels: int) -> np.ndarray:
    """``words`` (RGB, RGBA or grey + alpha) as ``channels`` samples a pixel (2: grey + alpha, 3, 4), a small
    copy: used on strips."""
    have = words.shape[2]
    if have == channels:
        return words
    if have == 2:
        return words[..., [0, 0, 0, 1] if channels == 4 else [0, 0, 0]]
    return words[..., [0, 3] if channels == 2 else [0, 1, 2]]


def agrees_with_pillow(words: np.ndarray, eight_bit: np.ndarray) -> bool:
    """Whether FFmpeg's samples are Pillow's 8-bit reading of the same file with the low byte added (Pillow keeps the
    high byte). FFmpeg is lenient: on a tiled TIFF, for one, it returns wrong pixels without an error, so its result
    is used only where the two decoders agree. ``eight_bit``: Pillow's RGB, RGBA or LA array of the file, turned the
    same way as ``words``."""
    if eight_bit.ndim != 3 or words.shape[:2] != eight_bit.shape[:2]:
        return False
    if (words.shape[2] in (2, 4)) != (eight_bit.shape[2] in (2, 4)):  # alpha on one side only
        return False
    for top in range(0, words.shape[0], 256):  # in strips: no full-size temporaries on a large scan
        high = (_as_channels(words[top:top + 256], eight_bit.shape[2]) >> 8).astype(np.int16)
        if np.abs(high - eight_bit[top:top + 256]).max(initial=0) > 1:
            return False
    return True


def to_float(words: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint16 RGB, RGBA or grey + alpha (any byte order, any strides) -> float32 RGB ``[H, W, 3]`` in [0, 1] and
    alpha ``[H, W]`` (or None), contiguous and written in place: no temporaries the size of the picture."""
    scale = np.float32(1.0 / 65535.0)
    rgb = np.empty(words.shape[:2] + (3,), np.float32)
    np.multiply(words[..., :1] if words.shape[2] == 2 else words[..., :3], scale, out=rgb)  # grey: to R, G and B
    if words.shape[2] == 3:
        return rgb, None
    alpha = np.empty(words.shape[:2], np.float32)
    np.multiply(words[..., -1], scale, out=alpha)
    return rgb, alpha


# EXIF orientation -> how to turn stored pixels upright, as Pillow's ImageOps.exif_transpose does
def _upright(arr: np.ndarray, orientation: int) -> np.ndarray:
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(arr, k=-1)
    if orientation == 7:
        return arr[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(arr, k=1)
    return arr


def upright(arr: np.ndarray, orientation: int) -> np.ndarray:
    """``arr`` (``[H, W, ...]``) turned as the EXIF orientation tag (1..8) says: a view, no copy."""
    return _upright(arr, orientation)


def orientation(img: Image.Image) -> int:
    """The EXIF orientation (1..8) Pillow reports for ``img`` now (1 where none, or one it has already applied:
    Pillow turns a single-image TIFF upright itself when it loads it, and drops the tag). Call it on a loaded image,
    or on a TIFF's header (which it does not load): a corrupt EXIF block counts as none, as it does for the
    metadata and for ``ImageOps.exif_transpose`` after them, not as a reason to refuse the photo."""
    try:
        value = img.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError, struct.error, TypeError, KeyError):
        return 1
    return int(value) if value in (2, 3, 4, 5, 6, 7, 8) else 1  # what ImageOps.exif_transpose acts on
