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

import importlib.util
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

_DEEP_RAWMODES = ("RGB", "RGBA", "LA")  # Pillow's rawmode before ";16..." for the colour (and grey+alpha) kinds
_warned_missing = False


def deep_colour(img: Image.Image) -> bool:
    """True for a PNG or TIFF that stores 16 bits per colour channel (Pillow would decode it at 8). Call before
    ``img.load()``: the answer comes from the tile Pillow planned from the header."""
    if img.format not in ("PNG", "TIFF") or not img.tile:
        return False
    args = img.tile[0].args
    rawmode = args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else "")
    kind, _, bits = rawmode.partition(";")
    return kind in _DEEP_RAWMODES and bits.startswith("16")


def decoder_available() -> bool:
    """Whether PyAV is installed; warns once (naming the extra) when it is not."""
    global _warned_missing
    if importlib.util.find_spec("av") is None:
        if not _warned_missing:
            _warned_missing = True
            warnings.warn(
                "a 16-bit-per-channel colour image is read at 8 bits (Pillow cannot do more); install PyAV "
                "(pip install \"colornet[video]\") to read such files at full depth and write 16-bit results",
                stacklevel=3,
            )
        return False
    return True


def decode_words(path: str | Path, has_alpha: bool) -> np.ndarray:
    """The file's 16-bit samples, uint16 ``[H, W, 4 if has_alpha else 3]`` (grey is spread to RGB), as stored
    (before EXIF orientation). Raises ``ValueError`` where FFmpeg cannot decode the file."""
    import av
    from av.error import FFmpegError

    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise ValueError("the file holds no picture")
            return frame.to_ndarray(format="rgba64le" if has_alpha else "rgb48le")
    except FFmpegError as err:  # e.g. "Invalid data found when processing input" for a truncated file
        raise ValueError(f"FFmpeg: {err.strerror or err}") from err


def agrees_with_pillow(words: np.ndarray, eight_bit: np.ndarray) -> bool:
    """Whether FFmpeg's samples are Pillow's 8-bit reading of the same file with the low byte added (Pillow keeps the
    high byte). FFmpeg is lenient: on a tiled TIFF, for one, it returns wrong pixels without an error, so its result
    is used only where the two decoders agree. ``eight_bit``: Pillow's RGB, RGBA or LA array of the file."""
    if eight_bit.ndim != 3 or words.shape[:2] != eight_bit.shape[:2]:
        return False
    if eight_bit.shape[2] == 2:  # grey + alpha: FFmpeg spread the grey to RGB
        words = words[..., [0, 3]]
    elif eight_bit.shape[2] != words.shape[2]:
        return False
    for top in range(0, words.shape[0], 256):  # in strips: no full-size temporaries on a large scan
        high = (words[top:top + 256] >> 8).astype(np.int16)
        if np.abs(high - eight_bit[top:top + 256]).max(initial=0) > 1:
            return False
    return True


def to_float(words: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint16 RGB(A) -> float32 RGB ``[H, W, 3]`` in [0, 1] and alpha ``[H, W]`` (or None)."""
    scaled = np.empty(words.shape, np.float32)
    np.multiply(words, np.float32(1.0 / 65535.0), out=scaled)
    if words.shape[2] == 4:
        return np.ascontiguousarray(scaled[..., :3]), np.ascontiguousarray(scaled[..., 3])
    return scaled, None


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


def upright(arr: np.ndarray | None, orientation: int) -> np.ndarray | None:
    """``arr`` (``[H, W, ...]``) turned as the EXIF orientation tag (1..8) says, contiguous."""
    return None if arr is None else np.ascontiguousarray(_upright(arr, orientation))
