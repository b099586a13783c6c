"""Full-resolution Lab arithmetic for inference, fused and in cache-sized strips.

``colornet.lab`` is the reference conversion (readable, differentiable, batched). At 4K/8K its op-by-op form is slow:
every step allocates and walks a whole-image temporary, and the pipeline only needs two things at full resolution:

* ``luminance_into``: sRGB -> L only (``Y`` from the linearised RGB, one cube root; no a/b, no stack);
* ``compose_into``:  L + ab -> sRGB with the white point folded into the XYZ->RGB matrix.

Both work on strips of a few hundred thousand pixels whose temporaries live in a ``Workspace`` reused from strip to
strip (no allocation per strip: on small CPUs allocating and page-faulting big temporaries costs more than the maths).
The constants are those of ``colornet.lab``; results agree with it to float32 round-off (tested).
"""

from __future__ import annotations

import torch

from .lab import _DELTA, _EPSILON, _KAPPA, _WHITE_D65, _XYZ_FROM_RGB

_Y_FROM_RGB = _XYZ_FROM_RGB[1]
_F_THRESHOLD = 0.2068966  # 6/29: where f^3 switches to the linear part, as in lab.lab_to_rgb
_SRGB_THRESHOLD = 0.0031308


def _rgb_from_lab_matrix() -> list[list[float]]:
    """XYZ->linear-RGB with the D65 white folded in: ``rgb = M @ (t_x, t_y, t_z)`` where ``t = f^-1(f)``."""
    inv = torch.linalg.inv(torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64))
    return (inv * torch.tensor(_WHITE_D65, dtype=torch.float64)[None, :]).tolist()


_RGB_FROM_T = _rgb_from_lab_matrix()


def strip_rows(width: int, device: torch.device, pixels: int | None = None) -> int:
    """Rows per strip: ~128 K pixels on CPU (stays in cache), ~8 M on GPU (enough work per kernel launch)."""
    budget = pixels or ((1 << 23) if device.type != "cpu" else (1 << 17))
    return max(1, budget // max(width, 1))


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


def luminance_into(rgb: torch.Tensor, out: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """L of an sRGB strip ``[B,3,r,W]`` (any strides) written into ``out`` ``[B,1,r,W]``."""
    b, _, r, w = rgb.shape
    x = ws.get("lum_x", (b, 3, r, w))
    c = ws.get("lum_c", (b, 3, r, w))
    m = ws.get("lum_m", (b, 3, r, w), torch.bool)
    torch.clamp(rgb, 0.0, 1.0, out=x)
    torch.gt(x, 0.04045, out=m)
    torch.add(x, 0.055, out=c).mul_(1.0 / 1.055).clamp_min_(1e-12).pow_(2.4)
    x.mul_(1.0 / 12.92)
    torch.where(m, c, x, out=c)  # linear RGB
    y = ws.get("lum_y", (b, 1, r, w))
    t = ws.get("lum_t", (b, 1, r, w))
    my = m[:, :1]
    torch.mul(c[:, 0:1], _Y_FROM_RGB[0], out=y).add_(c[:, 1:2], alpha=_Y_FROM_RGB[1]).add_(c[:, 2:3], alpha=_Y_FROM_RGB[2])
    torch.gt(y, _EPSILON, out=my)
    torch.clamp_min(y, _EPSILON, out=t).pow_(1.0 / 3.0)
    y.mul_(_KAPPA).add_(_DELTA)
    torch.where(my, t, y, out=t)  # f(Y)
    return torch.mul(t, 116.0, out=out).sub_(16.0)


def compose_into(lightness: torch.Tensor, ab: torch.Tensor, out: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """sRGB in [0,1] of an L strip ``[B,1,r,W]`` and ab strip ``[B,2,r,W]``, written into ``out`` ``[B,3,r,W]``."""
    b, _, r, w = lightness.shape
    f = ws.get("cmp_f", (b, 3, r, w))
    t = ws.get("cmp_t", (b, 3, r, w))
    lin = ws.get("cmp_lin", (b, 3, r, w))
    m = ws.get("cmp_m", (b, 3, r, w), torch.bool)
    fy = f[:, 1:2]
    torch.add(lightness, 16.0, out=fy).mul_(1.0 / 116.0)
    torch.add(fy, ab[:, 0:1], alpha=1.0 / 500.0, out=f[:, 0:1])
    torch.sub(fy, ab[:, 1:2], alpha=1.0 / 200.0, out=f[:, 2:3]).clamp_min_(0.0)  # negative Z is invalid, as skimage
    torch.gt(f, _F_THRESHOLD, out=m)
    torch.mul(f, f, out=t).mul_(f)
    f.sub_(_DELTA).mul_(1.0 / _KAPPA)
    torch.where(m, t, f, out=t)  # X/Xn, Y/Yn, Z/Zn
    for i, row in enumerate(_RGB_FROM_T):
        torch.mul(t[:, 0:1], row[0], out=lin[:, i : i + 1]).add_(t[:, 1:2], alpha=row[1]).add_(t[:, 2:3], alpha=row[2])
    torch.gt(lin, _SRGB_THRESHOLD, out=m)
    torch.clamp_min(lin, _SRGB_THRESHOLD, out=t).pow_(1.0 / 2.4).mul_(1.055).sub_(0.055)
    lin.mul_(12.92)
    torch.where(m, t, lin, out=t)
    return out.copy_(t.clamp_(0.0, 1.0))
