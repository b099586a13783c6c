"""Full-resolution Lab arithmetic for inference, fused and in cache-sized strips.

``colornet.lab`` is the reference conversion (readable, differentiable, batched). At 4K/8K its op-by-op form is slow:
every step allocates and walks a whole-image temporary. Here the same maths (the constants of ``colornet.lab``;
results agree with it to float32 round-off, tested) runs fused, strip by strip:

* ``luminance``:  sRGB -> L only (``Y`` from the linearised RGB, one cube root; no a/b);
* ``split_lab``:  sRGB -> L and ab;
* ``compose_rgb``: L + ab -> sRGB with the white point folded into the XYZ->RGB matrix.

Each has a ``*_into`` form working on one strip of a few hundred thousand pixels whose temporaries live in a
``Workspace`` reused from strip to strip (no allocation per strip: on small CPUs allocating and page-faulting big
temporaries costs more than the maths). ``strips`` is the one loop over a tall image that every caller uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .errors import InputError
from .lab import DELTA, EPSILON, F_THRESHOLD, KAPPA, LINEAR_KNEE, SRGB_KNEE, WHITE_D65, XYZ_FROM_RGB

# t = XYZ / white from linear RGB: the white point folded into the rows of the matrix
_T_FROM_RGB = [[m / w for m in row] for row, w in zip(XYZ_FROM_RGB, WHITE_D65)]


def _rgb_from_t_matrix() -> list[list[float]]:
    """XYZ->linear-RGB with the D65 white folded in: ``rgb = M @ (t_x, t_y, t_z)`` where ``t = f^-1(f)``."""
    inv = torch.linalg.inv(torch.tensor(XYZ_FROM_RGB, dtype=torch.float64))
    return (inv * torch.tensor(WHITE_D65, dtype=torch.float64)[None, :]).tolist()


_RGB_FROM_T = _rgb_from_t_matrix()


def strip_rows(width: int, device: torch.device, pixels: int | None = None) -> int:
    """Rows per strip: ~128 K pixels on CPU (stays in cache), ~8 M on GPU (enough work per kernel launch)."""
    budget = pixels or ((1 << 23) if device.type != "cpu" else (1 << 17))
    return max(1, budget // max(width, 1))


def strips(height: int, rows: int) -> Iterator[slice]:
    """Row slices ``top:bottom`` covering ``0..height`` in steps of ``rows`` (the last one may be shorter)."""
    for top in range(0, height, rows):
        yield slice(top, min(top + rows, height))


def image_strips(like: torch.Tensor) -> Iterator[slice]:
    """``strips`` of a ``[..., H, W]`` tensor, sized for its width and device."""
    return strips(like.shape[-2], strip_rows(like.shape[-1], like.device))


class Workspace:
    """Named scratch tensors reused across strips; a tensor is reallocated only when a strip's shape changes."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = torch.empty(shape, dtype=dtype, device=self.device)
            self._buffers[name] = buf
        return buf


def _linear_rgb(rgb: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """Linearised sRGB of a strip ``[B,3,r,W]`` (float clamped to [0, 1], or uint8 / 255), in the workspace."""
    b, _, r, w = rgb.shape
    x = ws.get("lin_x", (b, 3, r, w))
    c = ws.get("lin_c", (b, 3, r, w))
    m = ws.get("lin_m", (b, 3, r, w), torch.bool)
    if rgb.dtype == torch.uint8:  # 8-bit photos stay uint8 until here: a quarter of the memory of float32
        x.copy_(rgb).mul_(1.0 / 255.0)
    else:
        torch.clamp(rgb, 0.0, 1.0, out=x)
    torch.gt(x, SRGB_KNEE, out=m)
    torch.add(x, 0.055, out=c).mul_(1.0 / 1.055).clamp_min_(1e-12).pow_(2.4)
    x.mul_(1.0 / 12.92)
    return torch.where(m, c, x, out=c)


def _f_into(t: torch.Tensor, out: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """The Lab curve ``f(t)`` (cube root, linear near 0) of ``t``, written into ``out``; ``t`` is overwritten."""
    m = ws.get("f_m", tuple(t.shape), torch.bool)
    torch.gt(t, EPSILON, out=m)
    torch.clamp_min(t, EPSILON, out=out).pow_(1.0 / 3.0)
    t.mul_(KAPPA).add_(DELTA)
    return torch.where(m, out, t, out=out)


def _t_row_into(c: torch.Tensor, row: list[float], out: torch.Tensor) -> torch.Tensor:
    """One row of a 3x3 colour matrix applied to the channels of ``c`` ``[B,3,r,W]``, into ``out`` ``[B,1,r,W]``."""
    return torch.mul(c[:, 0:1], row[0], out=out).add_(c[:, 1:2], alpha=row[1]).add_(c[:, 2:3], alpha=row[2])


def luminance_into(rgb: torch.Tensor, out: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """L of an sRGB strip ``[B,3,r,W]`` (any strides) written into ``out`` ``[B,1,r,W]``."""
    b, _, r, w = rgb.shape
    c = _linear_rgb(rgb, ws)
    y = _t_row_into(c, _T_FROM_RGB[1], ws.get("lum_y", (b, 1, r, w)))  # white Y is 1
    fy = _f_into(y, ws.get("lum_f", (b, 1, r, w)), ws)
    return torch.mul(fy, 116.0, out=out).sub_(16.0)


def lab_into(rgb: torch.Tensor, lightness: torch.Tensor, ab: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """L ``[B,1,r,W]`` and ab ``[B,2,r,W]`` of an sRGB strip ``[B,3,r,W]``, written into ``lightness`` and ``ab``."""
    b, _, r, w = rgb.shape
    c = _linear_rgb(rgb, ws)
    t = ws.get("lab_t", (b, 3, r, w))
    for i, row in enumerate(_T_FROM_RGB):
        _t_row_into(c, row, t[:, i : i + 1])
    f = _f_into(t, ws.get("lab_f", (b, 3, r, w)), ws)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    torch.mul(fy, 116.0, out=lightness).sub_(16.0)
    torch.sub(fx, fy, out=ab[:, 0:1]).mul_(500.0)
    torch.sub(fy, fz, out=ab[:, 1:2]).mul_(200.0)
    return lightness


def compose_into(lightness: torch.Tensor, ab: torch.Tensor, out: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """sRGB of an L strip ``[B,1,r,W]`` and ab strip ``[B,2,r,W]``, written into ``out`` ``[B,3,r,W]``: float32 in
    [0, 1], or uint8 0..255 if ``out`` is uint8."""
    b, _, r, w = lightness.shape
    f = ws.get("cmp_f", (b, 3, r, w))
    t = ws.get("cmp_t", (b, 3, r, w))
    lin = ws.get("cmp_lin", (b, 3, r, w))
    m = ws.get("cmp_m", (b, 3, r, w), torch.bool)
    fy = f[:, 1:2]
    torch.add(lightness, 16.0, out=fy).mul_(1.0 / 116.0)
    torch.add(fy, ab[:, 0:1], alpha=1.0 / 500.0, out=f[:, 0:1])
    torch.sub(fy, ab[:, 1:2], alpha=1.0 / 200.0, out=f[:, 2:3]).clamp_min_(0.0)  # negative Z is invalid, as skimage
    torch.gt(f, F_THRESHOLD, out=m)
    torch.mul(f, f, out=t).mul_(f)
    f.sub_(DELTA).mul_(1.0 / KAPPA)
    torch.where(m, t, f, out=t)  # X/Xn, Y/Yn, Z/Zn
    for i, row in enumerate(_RGB_FROM_T):
        _t_row_into(t, row, lin[:, i : i + 1])
    torch.gt(lin, LINEAR_KNEE, out=m)
    torch.clamp_min(lin, LINEAR_KNEE, out=t).pow_(1.0 / 2.4).mul_(1.055).sub_(0.055)
    lin.mul_(12.92)
    torch.where(m, t, lin, out=t)
    if out.dtype == torch.uint8:  # 8-bit results are written as uint8 strip by strip, rounded
        return out.copy_(t.clamp_(0.0, 1.0).mul_(255.0).add_(0.5))
    return out.copy_(t.clamp_(0.0, 1.0))


def _empty(like: torch.Tensor, channels: int) -> torch.Tensor:
    return torch.empty((like.shape[0], channels, *like.shape[-2:]), dtype=torch.float32, device=like.device)


def finite(strip: torch.Tensor, what: str) -> torch.Tensor:
    """``strip`` itself, or an ``InputError`` if it holds a NaN or an infinity: one such pixel would otherwise turn
    a whole frame black (through the global prior) without any error."""
    if strip.is_floating_point() and not bool(torch.isfinite(strip).all()):
        bad = int((~torch.isfinite(strip)).sum())
        raise InputError(f"{what} holds {bad} NaN or infinite value(s): pass finite values (RGB in 0..1).")
    return strip


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """L ``[B,1,H,W]`` of RGB ``[B,3,H,W]`` (float in [0, 1] or uint8). Non-finite input is an ``InputError``."""
    out, ws = _empty(rgb, 1), Workspace(rgb.device)
    for rows in image_strips(rgb):
        luminance_into(finite(rgb[:, :, rows], "The image"), out[:, :, rows], ws)
    return out


def split_lab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB ``[B,3,H,W]`` -> (L ``[B,1,H,W]``, ab ``[B,2,H,W]``); ``compose_rgb`` is its inverse."""
    lightness, ab, ws = _empty(rgb, 1), _empty(rgb, 2), Workspace(rgb.device)
    for rows in image_strips(rgb):
        lab_into(finite(rgb[:, :, rows], "The image"), lightness[:, :, rows], ab[:, :, rows], ws)
    return lightness, ab


def compose_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Full-resolution L ``[B,1,H,W]`` + ab ``[B,2,H,W]`` -> sRGB ``[B,3,H,W]`` in [0, 1]."""
    out, ws = _empty(lightness, 3), Workspace(lightness.device)
    for rows in image_strips(lightness):
        l_strip, ab_strip = finite(lightness[:, :, rows], "L"), finite(ab[:, :, rows], "ab")
        compose_into(l_strip, ab_strip, out[:, :, rows], ws)
    return out
