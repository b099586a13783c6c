"""Colour management of inputs: pixels in an embedded ICC profile -> sRGB, and back (the one place that reads ICC).

Why: the network sees CIE L computed as if the pixels were sRGB. A scan saved in Adobe RGB, ProPhoto or with a grey
gamma-1.8 profile stores other numbers for the same brightness; taken as sRGB it comes out too dark or too light.

Matrix/TRC profiles (what scanners, cameras and editors embed for RGB and grey: Adobe RGB, Display P3, ProPhoto,
"Gray Gamma 1.8/2.2", Dot Gain curves) are converted here in float32 numpy, so 16-bit scans stay 16-bit: TRC to
linear, the profile's D50 colorants to PCS XYZ, the sRGB colorants' inverse to linear sRGB, sRGB's curve (ICC
relative colorimetric, as a matrix-shaper transform is). Anything else (LUT-based or CMYK profiles) goes through
LittleCMS via Pillow's ``ImageCms``, which works on 8-bit images only -- those files are 8-bit anyway.
``tests/test_archive_icc.py`` compares both against LittleCMS.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

from ..lab import LINEAR_KNEE, SRGB_KNEE

__all__ = ["MatrixProfile", "ProfileError", "parse_profile", "srgb_profile_bytes", "to_srgb", "from_srgb",
           "is_srgb", "convert_with_littlecms"]


class ProfileError(ValueError):
    """The embedded profile cannot be read or is not a matrix/TRC profile."""


# ------------------------------------------------------------------------------------------------ sRGB curve


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """Encoded sRGB in [0, 1] -> linear light (IEC 61966-2-1, the same knee as ``colornet.lab``)."""
    v = np.asarray(v, np.float32)
    return np.where(v > SRGB_KNEE, ((np.maximum(v, SRGB_KNEE) + 0.055) / 1.055) ** 2.4, v / 12.92).astype(np.float32)


def srgb_encode(y: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> encoded sRGB."""
    y = np.clip(np.asarray(y, np.float32), 0.0, 1.0)
    return np.where(y > LINEAR_KNEE, 1.055 * np.maximum(y, LINEAR_KNEE) ** (1 / 2.4) - 0.055, y * 12.92).astype(
        np.float32
    )


# --------------------------------------------------------------------------------------------- tone curves


@dataclass(frozen=True)
class ToneCurve:
    """An ICC ``curv`` or ``para`` tone reproduction curve: encoded value in [0, 1] -> linear in [0, 1]."""

    gamma: float | None = None  # curv with one entry, or identity (1.0)
    table: tuple[float, ...] | None = None  # curv with a sampled table
    para: tuple[int, tuple[float, ...]] | None = None  # (function type, parameters)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
        if self.table is not None:
            grid = np.linspace(0.0, 1.0, len(self.table), dtype=np.float32)
            return np.interp(x, grid, np.asarray(self.table, np.float32)).astype(np.float32)
        if self.para is not None:
            return _parametric(self.para[0], self.para[1], x)
        return (x ** np.float32(self.gamma)).astype(np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Linear -> encoded: exact for a gamma, by dense sampling (monotonic curves) otherwise."""
        y = np.clip(np.asarray(y, np.float32), 0.0, 1.0)
        if self.table is None and self.para is None:
            return (y ** np.float32(1.0 / self.gamma)).astype(np.float32)
        grid = np.linspace(0.0, 1.0, 65536, dtype=np.float32)
        forward = np.maximum.accumulate(self(grid))  # monotonic for interp
        return np.interp(y, forward, grid).astype(np.float32)

    def is_srgb(self) -> bool:
        grid = np.linspace(0.0, 1.0, 1024, dtype=np.float32)
        return float(np.abs(self(grid) - srgb_decode(grid)).max()) < 0.5 / 255 / 4


def _parametric(kind: int, p: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """ICC.1 parametricCurveType, function types 0-4."""
    g = p[0]
    if kind == 0:
        y = x**g
    elif kind == 1:
        a, b = p[1], p[2]
        y = np.where(x >= -b / a, np.maximum(a * x + b, 0) ** g, 0.0)
    elif kind == 2:
        a, b, c = p[1], p[2], p[3]
        y = np.where(x >= -b / a, np.maximum(a * x + b, 0) ** g + c, c)
    elif kind == 3:
        a, b, c, d = p[1], p[2], p[3], p[4]
        y = np.where(x >= d, np.maximum(a * x + b, 0) ** g, c * x)
    elif kind == 4:
        a, b, c, d, e, f = p[1], p[2], p[3], p[4], p[5], p[6]
        y = np.where(x >= d, np.maximum(a * x + b, 0) ** g + e, c * x + f)
    else:
        raise ProfileError(f"unknown parametric curve type {kind}")
    return np.clip(y, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class MatrixProfile:
    """A parsed matrix/TRC profile. ``colorants``: 3x3, columns = the red, green, blue primaries' PCS XYZ (D50);
    None for a grey profile. ``curves``: one TRC per channel (one for grey)."""

    space: str  # "RGB" or "GRAY"
    curves: tuple[ToneCurve, ...]
    colorants: np.ndarray | None
    description: str = ""


def _s15(data: bytes, offset: int) -> float:
    return struct.unpack_from(">i", data, offset)[0] / 65536.0


def _tag_table(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 132 or data[36:40] != b"acsp":
        raise ProfileError("not an ICC profile (no 'acsp' signature)")
    count = struct.unpack_from(">I", data, 128)[0]
    if count > 1000 or 132 + 12 * count > len(data):
        raise ProfileError("ICC profile tag table is corrupt")
    tags = {}
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        if off + size > len(data):
            raise ProfileError(f"ICC tag {sig!r} points past the end of the profile")
        tags[sig] = data[off : off + size]
    return tags


def _curve(tag: bytes) -> ToneCurve:
    kind = tag[:4]
    if kind == b"curv":
        n = struct.unpack_from(">I", tag, 8)[0]
        if n == 0:
            return ToneCurve(gamma=1.0)
        if n == 1:
            return ToneCurve(gamma=struct.unpack_from(">H", tag, 12)[0] / 256.0)
        values = struct.unpack_from(f">{n}H", tag, 12)
        return ToneCurve(table=tuple(v / 65535.0 for v in values))
    if kind == b"para":
        ftype = struct.unpack_from(">H", tag, 8)[0]
        nparams = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(ftype)
        if nparams is None:
            raise ProfileError(f"unknown parametric curve type {ftype}")
        params = tuple(_s15(tag, 12 + 4 * i) for i in range(nparams))
        return ToneCurve(para=(ftype, params))
    raise ProfileError(f"unsupported tone curve type {kind!r}")


def _xyz(tag: bytes) -> tuple[float, float, float]:
    if tag[:4] != b"XYZ ":
        raise ProfileError("colorant tag is not XYZType")
    return _s15(tag, 8), _s15(tag, 12), _s15(tag, 16)


def _description(tags: dict[bytes, bytes]) -> str:
    tag = tags.get(b"desc", b"")
    try:
        if tag[:4] == b"desc":  # v2 textDescriptionType
            n = struct.unpack_from(">I", tag, 8)[0]
            return tag[12 : 12 + n].split(b"\0")[0].decode("latin-1")
        if tag[:4] == b"mluc":  # v4 multiLocalizedUnicodeType: first record
            size, off = struct.unpack_from(">II", tag, 20)
            return tag[off : off + size].decode("utf-16-be", "replace")
    except (struct.error, UnicodeDecodeError):
        pass
    return ""


@lru_cache(maxsize=64)  # a batch of scans from one scanner carries one profile: parse it once
def parse_profile(data: bytes) -> MatrixProfile:
    """Parse a matrix/TRC RGB or grey profile; ``ProfileError`` for anything else (LUT-only, CMYK, Lab, broken)."""
    tags = _tag_table(data)
    space = data[16:20]
    desc = _description(tags)
    try:
        if space == b"GRAY":
            if b"kTRC" not in tags:
                raise ProfileError("grey profile without a kTRC curve")
            return MatrixProfile("GRAY", (_curve(tags[b"kTRC"]),), None, desc)
        if space == b"RGB ":
            needed = (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")
            if not all(t in tags for t in needed):
                raise ProfileError("RGB profile is LUT-based (no matrix/TRC tags)")
            colorants = np.array([_xyz(tags[t]) for t in needed[:3]], np.float64).T  # columns = primaries
            if abs(np.linalg.det(colorants)) < 1e-6:
                raise ProfileError("RGB profile's colorant matrix is singular")
            curves = tuple(_curve(tags[t]) for t in needed[3:])
            return MatrixProfile("RGB", curves, colorants, desc)
    except struct.error as err:
        raise ProfileError(f"ICC profile is truncated ({err})") from None
    raise ProfileError(f"profile colour space {space!r} is not RGB or grey")


@lru_cache(maxsize=1)
def srgb_profile_bytes() -> bytes:
    """LittleCMS's built-in sRGB profile, embedded in every sRGB output."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@lru_cache(maxsize=1)
def _srgb() -> MatrixProfile:
    return parse_profile(srgb_profile_bytes())


def _rgb_to_srgb_matrix(profile: MatrixProfile) -> np.ndarray:
    return np.linalg.inv(_srgb().colorants) @ profile.colorants


@lru_cache(maxsize=64)
def is_srgb(data: bytes) -> bool:
    """True when converting from this profile would change no pixel by more than a quarter of an 8-bit level."""
    try:
        profile = parse_profile(data)
    except ProfileError:
        return False
    if profile.space != "RGB":
        return False
    return bool(np.abs(_rgb_to_srgb_matrix(profile) - np.eye(3)).max() < 2e-3) and all(
        c.is_srgb() for c in profile.curves
    )


# ----------------------------------------------------------------------------------------------- converting


def _linear(pixels: np.ndarray, curve: ToneCurve) -> np.ndarray:
    """One channel, encoded (uint8 0..255 or float in [0, 1]) -> linear float32; uint8 through a 256-entry table."""
    if pixels.dtype == np.uint8:
        return curve(np.arange(256, dtype=np.float32) / 255.0)[pixels]
    return curve(pixels)


def to_srgb(pixels: np.ndarray, profile: MatrixProfile) -> np.ndarray:
    """Encoded pixels (uint8, or float in [0, 1]; ``[H, W, 3]`` for RGB, ``[H, W]`` or ``[H, W, 3]`` with equal
    channels for grey) in ``profile`` -> encoded sRGB ``[H, W, 3]`` float32. Out-of-gamut colours are clipped."""
    h, w = pixels.shape[:2]
    out = np.empty((h, w, 3), np.float32)
    rows = max(1, (1 << 18) // max(w, 1))
    matrix = _rgb_to_srgb_matrix(profile).astype(np.float32) if profile.space == "RGB" else None
    for top in range(0, h, rows):  # strips: the float temporaries stay small
        part = pixels[top : top + rows]
        if matrix is None:  # grey: the same relative luminance (Y) in sRGB; neutral stays neutral
            grey = part if part.ndim == 2 else part[..., 0]
            out[top : top + rows] = srgb_encode(_linear(grey, profile.curves[0]))[..., None]
        else:
            linear = np.stack([_linear(part[..., i], c) for i, c in enumerate(profile.curves)], axis=-1)
            out[top : top + rows] = srgb_encode(linear @ matrix.T)
    return out


def from_srgb(pixels: np.ndarray, profile: MatrixProfile) -> np.ndarray:
    """Encoded sRGB ``[H, W, 3]`` float in [0, 1] -> encoded pixels in an RGB ``profile`` (to write a result back
    into its input's colour space). Colours outside that space are clipped."""
    if profile.space != "RGB":
        raise ProfileError("a colour result cannot be written in a grey profile")
    matrix = np.linalg.inv(_rgb_to_srgb_matrix(profile)).astype(np.float32)
    h, w = pixels.shape[:2]
    out = np.empty((h, w, 3), np.float32)
    rows = max(1, (1 << 18) // max(w, 1))
    for top in range(0, h, rows):
        linear = np.clip(srgb_decode(pixels[top : top + rows]) @ matrix.T, 0.0, 1.0)
        out[top : top + rows] = np.stack([c.inverse(linear[..., i]) for i, c in enumerate(profile.curves)], -1)
    return out


def convert_with_littlecms(img: Image.Image, profile: bytes) -> Image.Image:
    """An 8-bit Pillow image (RGB, L, CMYK, ...) in ``profile`` -> RGB in sRGB via LittleCMS (any profile kind)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        mode = img.mode if img.mode in ("RGB", "L", "CMYK") else "RGB"
        if img.mode != mode:
            img = img.convert(mode)
        return ImageCms.profileToProfile(
            img, source, target, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as err:
        raise ProfileError(f"LittleCMS cannot use the embedded profile ({err})") from None
