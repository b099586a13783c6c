"""The one image loader: any file or in-memory image -> float RGB in [0, 1] (+ alpha), and back.

Everything that reads photos (CLI, pipeline, training, benchmarks) goes through ``load_image`` / ``to_rgb_array`` so
that EXIF orientation, CMYK, 16-bit, palette, greyscale and alpha are handled the same way everywhere, and a broken
file produces an ``ImageLoadError`` that says what to do instead of a stack trace from deep inside Pillow.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".tga")
DEFAULT_MAX_PIXELS = 16384 * 16384  # ~268 MP: beyond 8K x 8K, well above anything a user means to colorize


@dataclass
class RGBImage:
    """Decoded pixels: ``rgb`` float32 ``[H, W, 3]`` in [0, 1]; ``alpha`` float32 ``[H, W]`` or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    source: str = "<memory>"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow reports sizes."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _pil_to_rgb(img: Image.Image, source: str) -> RGBImage:
    img = ImageOps.exif_transpose(img)  # photos from phones are stored sideways with an orientation tag
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
        arr = _unit_float(np.asarray(img))
        rgb = arr[..., :3]
        if arr.shape[2] == 4:
            alpha = np.ascontiguousarray(arr[..., 3])
    return RGBImage(np.ascontiguousarray(rgb, dtype=np.float32), alpha, bit_depth, source)


def _unit_float(arr: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1] with torch's threads, in cache-sized strips (numpy's single-threaded astype +
    divide took up to 0.6 s of the CLI's time at 4K)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's buffer is read-only; it is only read here
        src = torch.from_numpy(np.ascontiguousarray(arr))
    out = torch.empty(src.shape, dtype=torch.float32)
    rows = max(1, (1 << 18) // max(src[0].numel(), 1))
    for top in range(0, src.shape[0], rows):
        torch.div(src[top : top + rows], 255.0, out=out[top : top + rows])
    return out.numpy()


def load_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> RGBImage:
    """Decode an image file fully (so truncation is caught here, not halfway through a batch)."""
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max_pixels
            try:
                with Image.open(path) as img:
                    if max_pixels is not None and img.width * img.height > max_pixels:
                        raise ImageLoadError(
                            f"{path}: {img.width}x{img.height} is larger than the {max_pixels:,}-pixel limit; "
                            f"downscale it first or raise the limit (max_pixels / --max-pixels)."
                        )
                    img.load()
                    return _pil_to_rgb(img, str(path))
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageLoadError(f"{path}: image too large to decode safely ({err}); downscale it first.") from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(f"{path}: not an image Pillow can read (corrupt, or an unsupported format).") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(
            f"{path}: could not decode the image ({err}); the file is probably truncated or corrupt - re-export it."
        ) from err


def to_rgb_image(image: "ImageLike") -> RGBImage:
    """Accept a path, a PIL image, a numpy array (HxW, HxWx1/3/4; uint8, uint16 or float 0..1) or an RGBImage."""
    if isinstance(image, RGBImage):
        return image
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image, "<PIL image>")
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().float().numpy()
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    raise TypeError(f"Unsupported image type {type(image).__name__}: pass a path, PIL image, numpy array or tensor")


def _array_to_rgb(arr: np.ndarray) -> RGBImage:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ImageLoadError(f"Array images must be HxW or HxWxC with C in 1..4, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageLoadError(f"Empty image (shape {arr.shape})")
    bit_depth = 8
    if arr.dtype == np.uint8:
        data = arr.astype(np.float32) / 255.0
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


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """float RGB [H, W, 3] in [0, 1] (+ alpha) -> 8-bit PIL image (RGBA when alpha is given)."""
    out = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if alpha is not None:
        a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack((out, a)), "RGBA")
    return Image.fromarray(out, "RGB")


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


ImageLike = "str | os.PathLike | Image.Image | np.ndarray | torch.Tensor | RGBImage"
