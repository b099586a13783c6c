"""ColorNet Chroma Transfer: the full-resolution lightness of one IMAGE + the colours of another (any size) -> IMAGE."""

from __future__ import annotations

from typing import Any

import torch

from . import _comfy
from ._common import CATEGORY, ColorNetInputError, image_to_rgb, rgb_to_image


class ColorNetChromaTransfer:
    DESCRIPTION = (
        "Puts the colours of one image onto the full-resolution lightness of another: e.g. a small colour render of "
        "a scan (from a diffusion model) onto the scan itself. The colour (Lab a*b*) is brought up to full size "
        "guided by the lightness image's own edges, so all detail is the lightness image's. Same picture, any size "
        "(same aspect ratio). Batch in, batch out; one colour image may serve a whole batch; RGBA alpha of 'luma' "
        "is passed through."
    )
    CATEGORY = f"{CATEGORY}/colorize"
    FUNCTION = "transfer"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The colour picture at the size of 'luma': its lightness, the colours of 'color'.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "luma": ("IMAGE", {"tooltip": "Full-resolution image whose lightness (Lab L) is kept; its own "
                                              "colour is ignored (a greyscale scan, or any image)."}),
                "color": ("IMAGE", {"tooltip": "Image of the same picture whose colours (Lab a*b*) are used; any "
                                               "size, typically smaller. One for the whole batch, or one per image."}),
                "upsample": (["guided", "bilinear"], {
                    "default": "guided",
                    "tooltip": "guided: colour edges follow the lightness edges (sharper); bilinear: plain resize.",
                }),
            }
        }

    def transfer(self, luma: torch.Tensor, color: torch.Tensor, upsample: str = "guided") -> tuple[torch.Tensor]:
        from colornet.errors import ColorNetError
        from colornet.transfer import transfer_chroma_rgb

        rgb, alpha = image_to_rgb(luma, "luma")
        col, _ = image_to_rgb(color, "color")
        if col.shape[0] not in (1, rgb.shape[0]):
            raise ColorNetInputError(
                f"'color' holds {col.shape[0]} images but 'luma' holds {rgb.shape[0]}: give one, or one per image."
            )
        if upsample not in ("guided", "bilinear"):
            raise ColorNetInputError(f"upsample must be 'guided' or 'bilinear', got {upsample!r}")
        out = torch.empty((rgb.shape[0], *rgb.shape[2:], 3), dtype=torch.float32)
        bar = _comfy.progress_bar(rgb.shape[0])
        for i in range(rgb.shape[0]):
            _comfy.check_interrupt()
            col_i = col[i : i + 1] if col.shape[0] > 1 else col
            try:
                out[i : i + 1] = rgb_to_image(transfer_chroma_rgb(rgb[i : i + 1], col_i, mode=upsample))
            except ColorNetError as exc:  # another aspect ratio, NaN pixels
                raise ColorNetInputError(f"color: {exc}") from exc
            bar.update(1)
        if alpha is not None:
            out = torch.cat((out, alpha), dim=-1)
        return (out,)
