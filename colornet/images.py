"""The one image loader: any file or in-memory image -> float RGB in [0, 1] (+ alpha), and back.

Everything that reads photos (CLI, pipeline, training, benchmarks) goes through ``load_image`` / ``to_rgb_array`` so
that EXIF orientation, CMYK, 16-bit, palette, greyscale and alpha are handled the same way everywhere, and a broken
file produces an ``ImageLoadError`` that says what to do instead of a stack trace from deep inside Pillow.

Colour management happens here too: pixels in an embedded ICC profile other than sRGB (Adobe RGB, a grey gamma-1.8
scan, a CMYK profile) are converted to sRGB before anything takes L from them (``colornet.archive.icc``), and the
file's metadata (EXIF, IPTC, XMP, the profile) is kept on the result for the output writer
(``RGBImage.metadata``, ``colornet.archive.metadata``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .archive.deep import (
    agrees_with_pillow, decode_words, decoder_available, deep_kind, open_with_libtiff, orientation,
    pillow_misreads_planes, read_at_8_bits_only, to_float, upright,
)
from .archive.icc import ProfileError, convert_with_littlecms, is_srgb, parse_profile, to_srgb
from .archive.metadata import ImageMetadata, read_metadata
from .errors import ImageLoadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".tga")
# The memory budget. A file is judged from its header, before decoding: by default ("auto") it is refused when
# colorizing it would need more than MEMORY_SHARE of the memory available right now, at the bytes per pixel measured
# by benchmarks/bench_memory.py (peak RSS above the loaded model): an 8-bit photo ~14 bytes a pixel on the lean path
# (uint8 in and out, L in float32), a 16-bit or float file ~30 (kept in float32). So a 108 MP archive scan (~1.5 GB)
# goes through on a machine with a few GB free, and is refused on one without, with a message that says what it
# would take. A number is a fixed limit in megapixels; ``None`` (``--max-megapixels 0``) means no limit.
AUTO = "auto"
DEFAULT_MAX_MEGAPIXELS: float | str | None = AUTO
BYTES_PER_PIXEL_LEAN = 14.0
BYTES_PER_PIXEL_FLOAT = 30.0
MEMORY_SHARE = 0.6  # of MemAvailable: the reader decodes ahead and two CPU workers may run side by side
FALLBACK_MEGAPIXELS = 75.0  # where the available memory cannot be read (not Linux, no psutil)


@dataclass
class RGBImage:
    """Decoded pixels: ``rgb`` ``[H, W, 3]``, float32 in [0, 1] -- or uint8 in 0..255 where an 8-bit source was
    kept lean (``keep_uint8``; the colorizer's results for 8-bit inputs); ``alpha`` float32 ``[H, W]`` or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    source: str = "<memory>"
    metadata: ImageMetadata | None = None  # what the file carried (EXIF, IPTC, XMP, ICC); None for arrays

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow reports sizes."""
        return self.rgb.shape[1], self.rgb.shape[0]

    def as_float(self) -> np.ndarray:
        """``rgb`` as float32 in [0, 1] whatever it is stored as."""
        return self.rgb if self.rgb.dtype == np.float32 else _uint8_to_float(self.rgb)

    def to_pil(self) -> Image.Image:
        """An 8-bit PIL image (RGBA when there is alpha), e.g. to show or save a result."""
        return to_pil(self.rgb, self.alpha)

    def save(self, path: str | os.PathLike, **params: object) -> None:
        """Save as an 8-bit image file; the format follows the suffix (JPEG drops alpha). ``params`` go to Pillow
        (e.g. ``quality=95``)."""
        image = self.to_pil()
        if Path(path).suffix.lower() in (".jpg", ".jpeg") and image.mode == "RGBA":
            image = image.convert("RGB")
        image.save(path, **params)


def _uint8_to_float(arr: np.ndarray) -> np.ndarray:
    """uint8 -> float32 / 255 with a single output allocation (no float temporary)."""
    out = np.empty(arr.shape, np.float32)
    np.multiply(arr, np.float32(1.0 / 255.0), out=out)
    return out


ImageLike = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor | RGBImage
"""Anything ``to_rgb_image`` (and so ``colorize``) accepts as one image."""


_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_LITTLECMS_MODES = ("RGB", "RGBA", "L", "LA", "CMYK", "P")  # 8-bit modes LittleCMS (via ImageCms) can convert


def _colour_plan(icc: bytes | None, mode: str) -> tuple[str, object]:
    """What to do with an embedded profile: ("none"|"srgb", None), ("matrix", MatrixProfile), ("littlecms", None)
    or ("ignored: <why>", None)."""
    if not icc:
        return "none", None
    if is_srgb(icc):
        return "srgb", None
    if mode == "CMYK":  # only LittleCMS converts CMYK (and says so if the profile is not a CMYK one)
        return "littlecms", None
    try:
        profile = parse_profile(icc)
    except ProfileError as err:
        if mode in _LITTLECMS_MODES:
            return "littlecms", None
        return f"ignored: {err}", None
    wanted = "GRAY" if mode in _GREY_MODES else "RGB"
    if profile.space != wanted:
        return f"ignored: a {profile.space} profile on a {mode} image", None
    return "matrix", profile


def _pil_to_rgb(img: Image.Image, source: str, keep_uint8: bool = False, grey: bool = False) -> RGBImage:
    """``grey``: a 16-bit grey + alpha file, which Pillow presents as RGBA; its colour is managed as grey."""
    metadata = read_metadata(img)
    mode = "LA" if grey else img.mode
    plan, profile = _colour_plan(metadata.icc, mode)
    img = ImageOps.exif_transpose(img)  # photos from phones are stored sideways with an orientation tag
    if plan == "littlecms":
        alpha_band = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            alpha_band = img.getchannel("A") if img.mode == "RGBA" else None
        try:
            img = convert_with_littlecms(img.convert("L") if mode == "LA" else img, metadata.icc)
            if alpha_band is not None:
                img.putalpha(alpha_band)
            plan = "converted (LittleCMS)"
        except ProfileError as err:
            plan = f"ignored: {err}"
    image = _decode_pixels(img, source, keep_uint8)
    if plan == "matrix":
        lean = image.rgb.dtype == np.uint8
        rgb = to_srgb(image.rgb, profile)  # uint8 goes through a lookup table, float stays float
        image.rgb = to_uint8(rgb) if lean and keep_uint8 else rgb
        plan = "converted"
    image.metadata = metadata.with_colour(plan)
    return image


def _eight_bits(path: Path, why: str, remedy: str) -> None:
    warnings.warn(f"{path}: read at 8 bits of its 16 ({why}); {remedy}", stacklevel=4)


def _deep_to_rgb(img: Image.Image, fh: BinaryIO, stored: int, path: Path, grey: bool) -> RGBImage | None:
    """A 16-bit-a-channel colour file at full depth (``colornet.archive.deep``), with the same metadata, orientation
    and colour management as ``_pil_to_rgb``. ``img`` is loaded (Pillow's 8 bits, the check of FFmpeg's 16) from
    ``fh``; ``stored``: the EXIF orientation of the pixels as stored; ``grey``: grey + alpha. None, with a warning
    that says why and what to do, where the file is to be read at 8 bits: its profile needs LittleCMS (8-bit only),
    or FFmpeg failed or disagreed with Pillow."""
    metadata = read_metadata(img)
    plan, profile = _colour_plan(metadata.icc, "LA" if grey else img.mode)
    if plan == "littlecms":
        try:  # one LittleCMS cannot use either is ignored by the 8-bit path too: then keep the 16 bits
            convert_with_littlecms(Image.new("L" if grey or img.mode == "LA" else "RGB", (1, 1)), metadata.icc)
        except ProfileError as err:
            plan = f"ignored: {err}"
        else:
            _eight_bits(path, "its ICC profile is not a matrix/TRC one, and only LittleCMS converts such a profile, "
                        "at 8 bits", "to keep 16 bits, convert the file to a matrix profile (Adobe RGB, ProPhoto, "
                        "sRGB, ...) in an image editor first")
            return None
    try:
        words = decode_words(fh, img.format, has_alpha=img.mode in ("RGBA", "LA"))
    except ValueError as err:
        remedy = ("re-save it with an image editor (FFmpeg rejects some damaged chunks Pillow skips, such as a "
                  "corrupt EXIF block)" if img.format == "PNG" else
                  "re-save it as a PNG or as an uncompressed or deflate TIFF (not BigTIFF)")
        _eight_bits(path, f"FFmpeg could not decode them: {err}", f"to keep 16 bits, {remedy}")
        return None
    words = upright(words, stored)  # FFmpeg's pixels are as stored; Pillow turns a TIFF upright as it loads it
    if not agrees_with_pillow(words, upright(np.asarray(img), orientation(img))):
        _eight_bits(path, "FFmpeg's 16-bit decoding of it does not match Pillow's 8-bit one; FFmpeg misreads some "
                    "TIFF layouts, such as tiles", "to keep 16 bits, re-save it as a PNG or as a TIFF in strips "
                    "(e.g. tiffcp -s in.tif out.tif)")
        return None
    rgb, alpha = to_float(words)
    del words
    if plan == "matrix":
        rgb = to_srgb(rgb, profile)
        plan = "converted"
    return RGBImage(np.ascontiguousarray(rgb, dtype=np.float32), alpha, 16, str(path), metadata.with_colour(plan))


def _decode_pixels(img: Image.Image, source: str, keep_uint8: bool) -> RGBImage:
    mode = img.mode
    alpha = None
    bit_depth = 8
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        # 16-bit greyscale PNG/TIFF decode as I;16 (or I); scale by the container's range
        scale = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        bit_depth = 16 if scale > 255 else 8
        grey = np.clip(arr / scale, 0.0, 1.0)
        rgb = np.repeat(grey[..., None], 3, axis=2)
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ImageLoadError(f"{source}: a floating-point image with NaN or infinite pixels; re-export it.")
        hi = float(arr.max(initial=1.0))
        grey = np.clip(arr / (hi if hi > 1.0 else 1.0), 0.0, 1.0)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        bit_depth = 32
    else:
        if mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif mode == "CMYK":
            img = img.convert("RGB")  # Pillow's naive CMYK->RGB; good enough to get the luminance right
        elif mode in ("1", "L"):
            img = img.convert("RGB")
        elif mode in ("LA", "La"):
            img = img.convert("RGBA")
        elif mode in ("RGBa",):
            img = img.convert("RGBA")
        elif mode not in ("RGB", "RGBA"):
            img = img.convert("RGB")  # YCbCr, LAB, HSV, ...
        arr = np.asarray(img)  # uint8 [H, W, 3|4]: 3-4 bytes a pixel, converted once below
        if arr.shape[2] == 4:
            alpha = _uint8_to_float(arr[..., 3])
        rgb = arr[..., :3].copy() if keep_uint8 else _uint8_to_float(arr[..., :3])  # writable, contiguous
        return RGBImage(rgb, alpha, bit_depth, source)
    return RGBImage(np.ascontiguousarray(rgb, dtype=np.float32), alpha, bit_depth, source)


def load_image(
    path: str | os.PathLike, *, max_megapixels: float | str | None = DEFAULT_MAX_MEGAPIXELS, keep_uint8: bool = False
) -> RGBImage:
    """Decode an image file fully (so truncation is caught here, not halfway through a batch).

    ``max_megapixels``: the memory budget, judged from the header before any decoding (``check_size``).
    ``keep_uint8``: keep an 8-bit file's pixels as uint8 (a quarter of the memory; the colorizer converts in strips).
    Every failure, running out of memory included, is an ``ImageLoadError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # the size is judged by check_size below, with a message naming the option
            try:
                with open(path, "rb") as fh, _open(fh) as img:
                    kind = deep_kind(img)  # 48/64-bit colour: Pillow would read 8 of its 16 bits
                    deep, grey = kind is not None, kind == "LA"
                    lean = keep_uint8 and img.mode not in _WIDE_MODES and not deep
                    check_size(img.width, img.height, max_megapixels, str(path), lean=lean)
                    if (what := None if deep else read_at_8_bits_only(img)) is not None:
                        warnings.warn(f"{path}: read at 8 bits of its 16 (colornet reads {what} at 8 bits only); to "
                                      "keep 16 bits, convert it to 16-bit RGB (with unassociated alpha, if any) in an "
                                      "image editor first", stacklevel=2)
                    turns = deep and img.format == "TIFF"  # Pillow turns a TIFF upright as it loads it
                    stored = orientation(img) if turns else 1  # so read it before (a PNG's: after, not to load it)
                    img.load()  # Pillow decodes every file: its truncation and corruption checks hold for all
                    if deep and decoder_available(str(path)):
                        image = _deep_to_rgb(img, fh, stored if turns else orientation(img), path, grey)
                        if image is not None:
                            return image
                    return _pil_to_rgb(img, str(path), keep_uint8, grey)
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(
            f"{path}: not enough memory to decode it; downscale it, or free memory and try again."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageLoadError(f"{path}: image too large to decode safely ({err}); downscale it first.") from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(f"{path}: not an image Pillow can read (corrupt, or an unsupported format).") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(
            f"{path}: could not decode the image ({err}); the file is probably truncated or corrupt - re-export it."
        ) from err
    except Exception as err:  # Pillow's plugins raise anything on a crafted file (KeyError, IndexError, struct.error)
        raise ImageLoadError(
            f"{path}: could not decode the image ({type(err).__name__}: {err}); the file is probably corrupt - "
            "re-export it."
        ) from err


def _open(fh: BinaryIO) -> Image.Image:
    """Pillow's image of an open file (header only), by the reader that decodes it right."""
    img = Image.open(fh)
    if pillow_misreads_planes(img):  # a 16-bit "per channel" TIFF: Pillow's own reader returns noise
        img = open_with_libtiff(fh)  # (not img.close(): that would close fh)
    return img


_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # decoded to float32, not kept uint8


_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1 -- a container's limit, which MemAvailable does not show
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup (container) memory limit, or None where there is no limit."""
    for limit_file, usage_file in _CGROUP_FILES:
        try:
            with open(limit_file, encoding="ascii") as fh:
                limit = fh.read().strip()
            with open(usage_file, encoding="ascii") as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:  # no limit set
            return None
        return max(0, int(limit) - usage)
    return None


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now: Linux ``MemAvailable`` (else psutil), and no more than
    what the container's memory limit leaves; None where neither can be read."""
    system = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    system = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if system is None:
        try:
            import psutil  # type: ignore[import-not-found]

            system = int(psutil.virtual_memory().available)
        except ImportError:
            pass
    room = _cgroup_room()
    if system is None or room is None:
        return room if system is None else system
    return min(system, room)


def bytes_to_colorize(width: int, height: int, *, lean: bool = True) -> float:
    """Peak memory (bytes, above the loaded model) of colorizing a ``width x height`` photo, as measured."""
    return width * height * (BYTES_PER_PIXEL_LEAN if lean else BYTES_PER_PIXEL_FLOAT)


def check_size(
    width: int, height: int, max_megapixels: float | str | None, source: str, *, lean: bool = True
) -> None:
    """``ImageLoadError`` if a ``width x height`` photo is over the budget: ``max_megapixels`` a number (a fixed
    limit), "auto" (what the memory available now allows) or None/0 (no limit). ``lean``: an 8-bit photo kept uint8."""
    if not max_megapixels:
        return
    megapixels = width * height / 1e6
    need = bytes_to_colorize(width, height, lean=lean)
    if max_megapixels == AUTO:
        available = available_memory()
        if available is None:
            max_megapixels = FALLBACK_MEGAPIXELS
        elif need <= MEMORY_SHARE * available:
            return
        else:
            raise ImageLoadError(
                f"{source}: {width}x{height} ({megapixels:,.0f} MP) would need about {need / 1e9:.1f} GB to colorize, "
                f"and {available / 1e9:.1f} GB of memory is available now (colornet plans for {MEMORY_SHARE:.0%} of "
                f"it); free memory (about {need / MEMORY_SHARE / 1e9:.1f} GB available would do), downscale it, or "
                f"pass --max-megapixels {megapixels:.0f} (max_megapixels={megapixels:.0f}) to try anyway."
            )
    if megapixels > float(max_megapixels):
        raise ImageLoadError(
            f"{source}: {width}x{height} is {megapixels:,.0f} megapixels, above the {float(max_megapixels):g} MP limit "
            f"given; colorizing it would need about {need / 1e9:.1f} GB. Raise the limit (--max-megapixels / "
            f"max_megapixels; auto = what the available memory allows, 0 = no limit), or downscale it."
        )


def to_rgb_image(
    image: ImageLike, *, keep_uint8: bool = False, max_megapixels: float | str | None = DEFAULT_MAX_MEGAPIXELS
) -> RGBImage:
    """Accept a path, a PIL image, a numpy array (HxW, HxWx1/3/4; uint8, uint16 or float 0..1) or an RGBImage.

    ``keep_uint8``: 8-bit sources keep uint8 pixels (see ``load_image``); ``max_megapixels`` applies to files."""
    if isinstance(image, RGBImage):
        return image
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, keep_uint8=keep_uint8, max_megapixels=max_megapixels)
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image, "<PIL image>", keep_uint8)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        image = (image if image.dtype == torch.uint8 else image.float()).numpy()
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image, keep_uint8)
    raise TypeError(f"Unsupported image type {type(image).__name__}: pass a path, PIL image, numpy array or tensor")


def _array_to_rgb(arr: np.ndarray, keep_uint8: bool = False) -> RGBImage:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ImageLoadError(f"Array images must be HxW or HxWxC with C in 1..4, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageLoadError(f"Empty image (shape {arr.shape})")
    bit_depth = 8
    if arr.dtype == np.uint8 and keep_uint8:
        alpha = _uint8_to_float(arr[..., -1]) if arr.shape[2] in (2, 4) else None
        data = arr[..., : 3 if arr.shape[2] >= 3 else 1]
        data = np.repeat(data, 3, axis=2) if data.shape[2] == 1 else np.ascontiguousarray(data)
        return RGBImage(data, alpha, bit_depth)
    if arr.dtype == np.uint8:
        data = _uint8_to_float(arr)
    elif arr.dtype == np.uint16:
        data = arr.astype(np.float32) / 65535.0
        bit_depth = 16
    elif np.issubdtype(arr.dtype, np.floating):
        data = arr.astype(np.float32)
        if not np.isfinite(data).all():
            raise ImageLoadError("Array image contains NaN or infinite values")
        data = np.clip(data, 0.0, 1.0)
        bit_depth = 32
    else:
        raise ImageLoadError(f"Unsupported array dtype {arr.dtype}: use uint8, uint16 or float in [0, 1]")
    channels = data.shape[2]
    alpha = None
    if channels in (2, 4):
        alpha = np.ascontiguousarray(data[..., -1])
        data = data[..., :-1]
    if data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    return RGBImage(np.ascontiguousarray(data), alpha, bit_depth)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8 (rounded), in row blocks so the float temporaries stay small; uint8 as it is."""
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    out = np.empty(x.shape, np.uint8)
    step = max(1, (1 << 20) // max(1, x[0].size))
    for top in range(0, x.shape[0], step):
        np.clip(x[top : top + step] * 255.0 + 0.5, 0, 255, out=out[top : top + step], casting="unsafe")
    return out


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """RGB [H, W, 3] (float in [0, 1] or uint8) + float alpha -> 8-bit PIL image (RGBA when alpha is given)."""
    out = to_uint8(rgb)
    if alpha is not None:
        return Image.fromarray(np.dstack((out, to_uint8(alpha))), "RGBA")
    return Image.fromarray(out, "RGB")


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS

