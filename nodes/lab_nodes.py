"""ColorNet Grayscale Extract (IMAGE -> L preview + ab) and ColorNet Lab Combine (L of one IMAGE + ab -> IMAGE)."""

from __future__ import annotations

from typing import Any

import torch

from ._common import AB_TYPE, CATEGORY, ColorNetInputError, each_image, expect_ab, image_to_rgb, rgb_to_image


class ColorNetLumaExtract:
    DESCRIPTION = (
        "Splits an image into its CIE Lab lightness L (returned as a neutral grey IMAGE with 3 equal channels: what "
        "the colorizer sees) and its colour channels ab (a COLORNET_AB value), so a graph can preview the greyscale "
        "input or recombine L and ab later with ColorNet Lab Combine. Works on batches; the alpha of RGBA images is dropped."
    )
    CATEGORY = f"{CATEGORY}/lab"
    FUNCTION = "extract"
    RETURN_TYPES = ("IMAGE", AB_TYPE)
    RETURN_NAMES = ("L", "ab")
    OUTPUT_TOOLTIPS = (
        "Lightness as a grey RGB image [B,H,W,3] in 0..1 (sRGB grey of the same L*; same size as the input).",
        "The original a*b* colour channels (Lab units, [B,2,H,W]) for ColorNet Lab Combine.",
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Image or batch of images (RGB or RGBA, any size)."}),
            }
        }

    def extract(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from colornet.fastlab import compose_rgb, split_lab

        rgb, _alpha = image_to_rgb(image)
        grey = torch.empty((rgb.shape[0], *rgb.shape[2:], 3), dtype=torch.float32)
        ab = torch.empty((rgb.shape[0], 2, *rgb.shape[2:]), dtype=torch.float32)
        for i in each_image(rgb.shape[0]):
            lightness, ab[i : i + 1] = split_lab(rgb[i : i + 1])
            grey[i : i + 1] = rgb_to_image(compose_rgb(lightness, torch.zeros_like(ab[i : i + 1])))
        return grey, ab


class ColorNetLabCombine:
    DESCRIPTION = (
        "Recombines the lightness L of an image with colour channels ab from ColorNet Grayscale Extract into an RGB image. The ab "
        "is resized to the image if their sizes differ; a single ab broadcasts over a batch of images."
    )
    CATEGORY = f"{CATEGORY}/lab"
    FUNCTION = "combine"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("RGB image [B,H,W,3] in 0..1 with the L of 'L' and the colours of 'ab'.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "L": ("IMAGE", {"tooltip": "Image whose Lab lightness is kept (e.g. the L output of ColorNet Grayscale Extract, "
                                           "or any image: only its lightness is used)."}),
                "ab": (AB_TYPE, {"tooltip": "Colour channels from ColorNet Grayscale Extract's 'ab' output."}),
            }
        }

    def combine(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor]:
        from colornet.fastlab import compose_rgb, luminance
        from colornet.hints import HintError, check_aspect
        from colornet.upsample import upsample_ab

        rgb, _ = image_to_rgb(L, "L")
        ab = expect_ab(ab).to("cpu", torch.float32)
        if 0 in ab.shape:
            raise ColorNetInputError(f"'ab' is empty (shape {tuple(ab.shape)}): connect LumaExtract's 'ab' output.")
        if not bool(torch.isfinite(ab).all()):
            raise ColorNetInputError("'ab' contains NaN or infinite values.")
        try:  # the one aspect rule of hints, masks and colour images
            check_aspect(ab.shape[-2:], rgb.shape[-2:], "'ab'")
        except HintError as exc:
            raise ColorNetInputError(f"{exc} (it comes from another picture than 'L')") from None
        if ab.shape[0] not in (1, rgb.shape[0]):
            raise ColorNetInputError(
                f"'ab' holds {ab.shape[0]} images but 'L' holds {rgb.shape[0]}: give one ab for all, or one per image."
            )
        out = torch.empty((rgb.shape[0], *rgb.shape[2:], 3), dtype=torch.float32)
        for i in each_image(rgb.shape[0]):
            lightness = luminance(rgb[i : i + 1])
            ab_i = upsample_ab(ab[i : i + 1] if ab.shape[0] > 1 else ab, lightness)  # guided by L, as the colorizer
            out[i : i + 1] = rgb_to_image(compose_rgb(lightness, ab_i))
        return (out,)
