"""sRGB (D65) <-> CIE L*a*b* in torch, and the network's L / ab scaling.

The reference colour conversion: the model, the ComfyUI nodes and training import it; ``colornet.fastlab`` is the
strip-wise inference version, tested against this one.
It follows the same constants as scikit-image's ``rgb2lab``/``lab2rgb`` (sRGB primaries, D65 white, 2° observer) so
that scikit-image can serve as the independent reference in tests. Every function is batched over ``[B, 3, H, W]``
(or ``[3, H, W]``), differentiable, and device-agnostic.
"""

from __future__ import annotations

import torch

# sRGB -> XYZ (D65), as in scikit-image's ``xyz_from_rgb``.
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
# Reference white D65, 2° observer.
WHITE_D65 = (0.95047, 1.0, 1.08883)

EPSILON = 0.008856  # (6/29)^3, where the Lab curve switches from cube root to linear
KAPPA = 7.787  # slope of the linear part
DELTA = 16.0 / 116.0
F_THRESHOLD = 0.2068966  # 6/29: the same switch on the inverse side (f^3 vs linear)
SRGB_KNEE = 0.04045  # encoded sRGB below this is linear (/ 12.92), above it a 2.4 power
LINEAR_KNEE = 0.0031308  # the same knee on the linear side

L_RANGE = 100.0
AB_SCALE = 110.0  # |a|, |b| of sRGB colours stay below ~110: the network's ab output spans [-110, 110]


def _matrix(rows, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _channels_first(x: torch.Tensor, name: str) -> None:
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"{name} must be shaped [B, 3, H, W] or [3, H, W], got {tuple(x.shape)}")


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # x: (..., 3, H, W); contract the channel axis with the 3x3 matrix.
    return torch.einsum("ij,...jhw->...ihw", m, x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB in [0, 1] to CIE Lab (L in [0, 100], a/b roughly in [-110, 110])."""
    _channels_first(rgb, "rgb")
    rgb = rgb.float() if not rgb.is_floating_point() else rgb
    rgb = rgb.clamp(0.0, 1.0)
    linear = torch.where(rgb > SRGB_KNEE, ((rgb + 0.055) / 1.055).clamp_min(1e-12) ** 2.4, rgb / 12.92)
    xyz = _apply_matrix(_matrix(XYZ_FROM_RGB, rgb), linear)
    white = torch.tensor(WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    t = xyz / white
    # clamp inside the cube root so gradients stay finite in the linear branch
    f = torch.where(t > EPSILON, t.clamp_min(EPSILON) ** (1.0 / 3.0), KAPPA * t + DELTA)
    fx, fy, fz = f.unbind(-3)
    lightness = 116.0 * fy - 16.0
    a = 500.0 * (fx - fy)
    b = 200.0 * (fy - fz)
    return torch.stack((lightness, a, b), dim=-3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab to sRGB in [0, 1]; colours outside the sRGB gamut are clipped into it."""
    _channels_first(lab, "lab")
    lab = lab.float() if not lab.is_floating_point() else lab
    lightness, a, b = lab.unbind(-3)
    fy = (lightness + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp_min(0.0)  # as scikit-image: negative Z is invalid and set to 0
    f = torch.stack((fx, fy, fz), dim=-3)
    t = torch.where(f > F_THRESHOLD, f**3, (f - DELTA) / KAPPA)
    white = torch.tensor(WHITE_D65, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    xyz = t * white
    rgb_from_xyz = torch.linalg.inv(_matrix(XYZ_FROM_RGB, lab).double()).to(lab.dtype)
    linear = _apply_matrix(rgb_from_xyz, xyz)
    srgb = torch.where(
        linear > LINEAR_KNEE, 1.055 * linear.clamp_min(LINEAR_KNEE) ** (1.0 / 2.4) - 0.055, linear * 12.92
    )
    return srgb.clamp(0.0, 1.0)


def rgb_to_luminance(rgb: torch.Tensor) -> torch.Tensor:
    """L channel only, ``[B, 1, H, W]``: what a greyscale photo gives the network."""
    return rgb_to_lab(rgb)[..., :1, :, :]


# --- network scaling: each normalise sits beside its inverse -------------------------------------------------


def normalize_l(lightness: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] -> network input in [-1, 1]."""
    return lightness / (L_RANGE / 2) - 1.0


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """ab in [-110, 110] -> [0, 1], the range of the network's sigmoid output."""
    return (ab / AB_SCALE + 1.0) / 2.0


def unnormalize_ab(ab_norm: torch.Tensor) -> torch.Tensor:
    return (ab_norm * 2.0 - 1.0) * AB_SCALE


def lab_from_l_ab(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Stack ``[B,1,H,W]`` L and ``[B,2,H,W]`` ab into Lab."""
    return torch.cat((lightness, ab), dim=-3)
