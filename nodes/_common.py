"""Glue shared by the nodes: the ComfyUI type names, the model handle, and IMAGE <-> colornet tensor layout.

Only layout and validation live here (ComfyUI's IMAGE is ``[B, H, W, C]`` float in 0..1; colornet works on
``[B, 3, H, W]``); every colour computation is a call into ``colornet``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from . import _comfy

# Custom ComfyUI socket types (links only connect equal type names).
MODEL_TYPE = "COLORNET_MODEL"
PRIOR_TYPE = "GLOBAL_PRIOR"
AB_TYPE = "COLORNET_AB"

CATEGORY = "ColorNet"  # one tree in the node library; every node sits in a sub-folder of it (none at its root)


class ColorNetInputError(ValueError):
    """A node input that cannot be used; the message says which input and what to connect instead."""


@dataclass
class ColorNetModel:
    """What flows on a COLORNET_MODEL link: a loaded ``colornet.pipeline.Colorizer`` plus how to run it."""

    colorizer: Any  # colornet.pipeline.Colorizer (imported lazily: keeps pack import light)
    name: str
    source: str = ""
    dtype: torch.dtype = torch.float32

    @property
    def class_names(self) -> list[str]:
        return self.colorizer.class_names

    @contextlib.contextmanager
    def precision(self) -> Iterator[None]:
        """Autocast to the chosen dtype on accelerators; plain float32 otherwise."""
        device = self.colorizer.device
        if self.dtype == torch.float32:
            yield
        else:
            with torch.autocast(device_type=device.type, dtype=self.dtype):
                yield

    def __repr__(self) -> str:  # shown by ComfyUI's debug tools
        return f"ColorNetModel({self.name!r}, device={self.colorizer.device}, dtype={self.dtype})"


def expect_model(value: Any, input_name: str = "colornet_model") -> ColorNetModel:
    if isinstance(value, ColorNetModel):
        return value
    raise ColorNetInputError(
        f"Input '{input_name}' must be a {MODEL_TYPE} (the output of a 'ColorNet Loader' node), got "
        f"{type(value).__name__}. Connect a ColorNet Loader to it."
    )


def expect_prior(value: Any, input_name: str) -> Any:
    from colornet.prior import GlobalPrior

    if isinstance(value, GlobalPrior):
        return value
    raise ColorNetInputError(
        f"Input '{input_name}' must be a {PRIOR_TYPE} (the output of a 'ColorNet Global Prior' or 'ColorNet Prior Mix' node), got "
        f"{type(value).__name__}."
    )


def expect_ab(value: Any, input_name: str = "ab") -> torch.Tensor:
    if isinstance(value, torch.Tensor) and value.dim() == 4 and value.shape[1] == 2:
        return value
    got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
    raise ColorNetInputError(
        f"Input '{input_name}' must be {AB_TYPE} (the 'ab' output of a 'ColorNet Grayscale Extract' node), got {got}."
    )


def image_to_rgb(image: Any, input_name: str = "image") -> tuple[torch.Tensor, torch.Tensor | None]:
    """ComfyUI IMAGE ``[B,H,W,C]`` (C = 1, 3 or 4) -> (RGB ``[B,3,H,W]`` float32 on the CPU, alpha ``[B,H,W,1]`` or None).

    A single image ``[H,W,C]`` is taken as a batch of one. Raises ``ColorNetInputError`` for anything else.
    """
    if not isinstance(image, torch.Tensor):
        raise ColorNetInputError(
            f"Input '{input_name}' must be an IMAGE (a torch tensor [batch, height, width, channels] in 0..1, e.g. "
            f"from a Load Image node), got {type(image).__name__}."
        )
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4 or image.shape[-1] not in (1, 3, 4):
        raise ColorNetInputError(
            f"Input '{input_name}' must be an IMAGE shaped [batch, height, width, 1|3|4 channels], got "
            f"{tuple(image.shape)}. A MASK or latent cannot be colorized: connect an IMAGE output."
        )
    if image.shape[0] == 0:
        raise ColorNetInputError(f"Input '{input_name}' is an empty batch (0 images): nothing to process.")
    if image.shape[1] == 0 or image.shape[2] == 0:
        raise ColorNetInputError(f"Input '{input_name}' has an empty size {tuple(image.shape[1:3])}.")
    if image.dtype == torch.uint8:  # 0..255 (a custom node's output): the same picture as IMAGE's 0..1 floats
        image = image.detach().to("cpu", torch.float32).div_(255.0)
    elif image.is_floating_point():
        image = image.detach().to("cpu", torch.float32)
    else:
        raise ColorNetInputError(f"Input '{input_name}' must be float (0..1) or uint8 (0..255), got {image.dtype}.")
    alpha = image[..., 3:4] if image.shape[-1] == 4 else None
    rgb = image[..., :3] if image.shape[-1] >= 3 else image.expand(*image.shape[:3], 3)
    return rgb.permute(0, 3, 1, 2), alpha


def rgb_to_image(rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """RGB ``[B,3,H,W]`` -> ComfyUI IMAGE ``[B,H,W,3|4]`` float32, contiguous, on the CPU."""
    out = rgb.detach().to("cpu", torch.float32).permute(0, 2, 3, 1)
    if alpha is not None:
        out = torch.cat((out, alpha.to(out)), dim=-1)
    return out.contiguous()


def each_image(count: int) -> Iterator[int]:
    """``range(count)`` for a node's per-image loop: ComfyUI's progress bar advances after each image and Cancel is
    honoured before each (both no-ops outside ComfyUI)."""
    bar = _comfy.progress_bar(count)
    for i in range(count):
        _comfy.check_interrupt()
        yield i
        bar.update(1)


def encode_priors(model: ColorNetModel, rgb: torch.Tensor) -> Any:
    """One prior row per image of ``rgb`` ``[B,3,H,W]`` (one image at a time: bounded memory), on the CPU."""
    from colornet.prior import GlobalPrior

    with _comfy.on_device(model, tuple(rgb.shape[-2:])), model.precision():
        rows = [model.colorizer.prior_from_rgb(rgb[i : i + 1]).to("cpu") for i in each_image(rgb.shape[0])]
    return GlobalPrior.concat(rows)
