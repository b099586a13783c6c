"""ColorNet Colorize: greyscale (or colour) IMAGE + optional GLOBAL_PRIOR -> colorized IMAGE."""

from __future__ import annotations

from typing import Any

import torch

from . import _comfy
from ._common import (CATEGORY, MODEL_TYPE, PRIOR_TYPE, ColorNetInputError, expect_model, expect_prior, image_to_rgb,
                      rgb_to_image)
from ._controls import hint_layer_input, mask_input

CONTROL_INPUTS = {  # optional artist controls (colornet.hints / colornet.masking)
    "hints": ("IMAGE", {
        "tooltip": "Colour hints: an image whose hinted pixels ask for their colour (its a*b*; the photo keeps its "
                   "own lightness). The colour spreads through regions of similar lightness and stops at edges. "
                   "Which pixels are hints: 'hints_mask', else the image's alpha. Any size with the photo's aspect.",
    }),
    "hints_mask": ("MASK", {
        "tooltip": "Where the hints are (1 = hint, values = confidence), e.g. the area painted in the mask editor. "
                   "For an RGBA hint file loaded with Load Image, invert its mask (Load Image's mask is 1 - alpha).",
    }),
    "mask": ("MASK", {
        "tooltip": "Colorize only here: 1 = colorize, 0 = keep the input pixel exactly (colour stays colour, grey "
                   "stays grey); soft values blend the colour, keeping lightness. One mask, or one per image.",
    }),
}


STEPS_PER_IMAGE = 100  # the progress bar's resolution within one image (tiles and strips report into it)
VIVIDNESS_SLIDER_DEFAULT = 0.4  # where the slider starts (the default checkpoint's own value); used only when chosen
LEGACY_VIVIDNESS_DEFAULT = -1.0  # what workflows saved before the vividness_from toggle hold for "checkpoint default"


def chosen_vividness(vividness: float, vividness_from: bool | None) -> float | None:
    """The vividness to run with; None = the checkpoint's own default.

    ``vividness_from`` True (the toggle's "checkpoint default") or a saved -1 -> None; False -> the slider.
    None (an API prompt saved before the toggle existed) -> the slider's value, -1 meaning the default as it did."""
    if vividness_from or float(vividness) == LEGACY_VIVIDNESS_DEFAULT:
        return None
    return float(vividness)


class ColorNetFuseColorize:
    DESCRIPTION = (
        "Colorizes images with ColorNet. The network predicts colour from the image's lightness; its global prior "
        "(scene-level features fused into every pixel) comes from the image itself, or from the optional "
        "global_prior input: wire a ColorNet Global Prior of another photo to transfer that photo's look. The output keeps "
        "the input's full-resolution lightness (colour is predicted at the working resolution and upsampled guided "
        "by it). Batch in, batch out; RGBA alpha is passed through. Optional artist controls: colour 'hints' spread "
        "along the image's edges, and a 'mask' limiting where colour is applied."
    )
    CATEGORY = f"{CATEGORY}/colorize"
    FUNCTION = "colorize"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("Colorized image(s), same size, batch and channel count as the input, values in 0..1.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        from colornet.defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
        from colornet.sequence import PRIOR_MODES  # lazy: importing the pack stays light

        return {
            "required": {
                "colornet_model": (MODEL_TYPE, {"tooltip": "Model from a ColorNet Loader."}),
                "image": ("IMAGE", {"tooltip": "Image(s) to colorize; any colour they already have is ignored "
                                               "(only lightness is used). Batches and RGBA are supported."}),
                "strength": ("FLOAT", {
                    "default": DEFAULT_STRENGTH, "min": 0.0, "max": 4.0, "step": 0.05,
                    "tooltip": "Chroma of the prediction: 0 = greyscale, 1 = as predicted, >1 boosts the colours.",
                }),
            },
            "optional": {
                # optional (it always has a value in the UI) so that API prompts saved before the rename, which carry
                # the hidden ``working_resolution`` instead, still validate and keep their value
                "working_size": ("INT", {
                    "default": DEFAULT_WORKING_SIZE, "min": 0, "max": 8192, "step": 16,
                    "tooltip": "Longer side (px) the network runs at; larger images are scaled down for the "
                               "prediction and the colour is upsampled guided by the full-size lightness. 0 = run "
                               "at full resolution (slow, more memory).",
                }),
                "vividness": ("FLOAT", {
                    "default": VIVIDNESS_SLIDER_DEFAULT, "min": 0.0, "max": 1.0, "step": 0.01,
                    "tooltip": "Used when 'vividness_from' is 'this slider'. Checkpoints with a colour-distribution "
                               "head (the default): how bold each pixel's colour is, within what the network finds "
                               "plausible for that pixel: 0 = the muted end, 1 = the bold end; the hues stay the "
                               "same. (strength scales every colour alike.) Paper (regression) checkpoints have no "
                               "such choice: use strength.",
                }),
                "global_prior": (PRIOR_TYPE, {
                    "tooltip": "Optional global prior (ColorNet Global Prior / ColorNet Prior Mix) replacing each image's own: one prior "
                               "for the whole batch, or one per image. Not connected = each image's own prior.",
                }),
                "prior_mode": (list(PRIOR_MODES), {
                    "default": "per_image",
                    "tooltip": "per_image: each image its own global prior (stills). For a batch of video frames: "
                               "per_shot = one look per shot (cuts found from lightness; frames after a cut do not "
                               "carry the previous shot's colours), whole_batch = one look for the whole batch. "
                               "Ignored when global_prior is connected.",
                }),
                "temporal_smoothing": ("FLOAT", {
                    "default": 0.0, "min": 0.0, "max": 1.0, "step": 0.05,
                    "tooltip": "For video frames in batch order: smooth colour over time along the motion (0 = off, "
                               "0.8 = recommended for video, 1 = strongest). Never changes lightness; resets at cuts.",
                }),
                **CONTROL_INPUTS,
                # last, so that the widget values of workflows saved before it keep their places
                "vividness_from": ("BOOLEAN", {
                    "default": True, "label_on": "checkpoint default", "label_off": "this slider",
                    "tooltip": "Where vividness comes from: the checkpoint's own default (each checkpoint knows the "
                               "value it was tuned for), or the vividness slider above.",
                }),
            },
            "hidden": {"working_resolution": "INT"},  # the old name of working_size, in workflows saved before
        }

    @classmethod
    def VALIDATE_INPUTS(cls, vividness: float = VIVIDNESS_SLIDER_DEFAULT) -> bool | str:
        """Workflows saved before the vividness_from toggle hold vividness -1 ("the checkpoint's default"), below
        the slider's range: accept it (and 0..1), so that they still run."""
        if vividness == LEGACY_VIVIDNESS_DEFAULT or 0.0 <= vividness <= 1.0:
            return True
        return f"vividness must be between 0 and 1, got {vividness}"

    def colorize(self, colornet_model: Any, image: torch.Tensor, strength: float | None = None,
                 working_size: int | None = None, global_prior: Any = None,
                 vividness: float = LEGACY_VIVIDNESS_DEFAULT, hints: Any = None, hints_mask: Any = None,
                 mask: Any = None, working_resolution: int | None = None, prior_mode: str = "per_image",
                 temporal_smoothing: float = 0.0, vividness_from: bool | None = None) -> tuple[torch.Tensor]:
        from colornet.defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
        from colornet.hints import HintError
        from colornet.checks import check_prior_mode, check_smoothing

        model = expect_model(colornet_model)
        rgb, alpha = image_to_rgb(image)
        if working_size is None:
            working_size = DEFAULT_WORKING_SIZE if working_resolution is None else working_resolution
        colorizer = model.colorizer.with_working_size(working_size)  # the library checks it (0 = full size)
        strength = DEFAULT_STRENGTH if strength is None else strength
        vivid = chosen_vividness(vividness, vividness_from)
        try:
            colorizer.model.resolve_vividness(vivid)
        except ValueError as exc:
            raise ColorNetInputError(f"vividness: {exc}") from exc
        batch = rgb.shape[0]
        if global_prior is not None:
            global_prior = expect_prior(global_prior, "global_prior")
            global_prior.fusion_for_batch(batch)  # one prior, or one per image: else a clear error before any work
        hint_layer = hint_layer_input(hints, hints_mask, batch)
        masks = mask_input(mask, batch) if mask is not None else None
        try:  # the library's rules and words; the node only translates the error
            check_prior_mode(prior_mode)
            check_smoothing(temporal_smoothing)
        except ValueError as exc:
            raise ColorNetInputError(str(exc)) from exc
        if prior_mode != "per_image" or float(temporal_smoothing) > 0:
            if hint_layer is not None or masks is not None:
                raise ColorNetInputError(
                    "hints/mask work image by image: with them connected, set prior_mode to per_image and "
                    "temporal_smoothing to 0 (or disconnect them to colorize the batch as one clip).")
            out = _colorize_clip(model, colorizer, rgb, global_prior, prior_mode, float(temporal_smoothing),
                                 float(strength), vivid)
            return (out if alpha is None else torch.cat((out, alpha), dim=-1),)
        out = torch.empty((batch, *rgb.shape[2:], 3), dtype=torch.float32)
        bar = _comfy.progress_bar(batch * STEPS_PER_IMAGE)
        with _comfy.on_device(model, tuple(rgb.shape[-2:])), model.precision():
            for i in range(batch):
                _comfy.check_interrupt()
                prior = None
                if global_prior is not None:
                    prior = global_prior.select(i) if len(global_prior) > 1 else global_prior
                controls = {
                    "hints": hint_layer.select(i) if hint_layer is not None else None,
                    "mask": masks[min(i, masks.shape[0] - 1)][None] if masks is not None else None,
                }

                def progress(done: int, total: int, first: int = i * STEPS_PER_IMAGE) -> None:
                    _comfy.check_interrupt()  # Cancel works within a large image, between tiles and strips
                    bar.update_absolute(first + done * STEPS_PER_IMAGE // total, batch * STEPS_PER_IMAGE)

                try:
                    colour = _comfy.retry_smaller_tiles_on_oom(
                        colorizer, lambda runner: runner.colorize_rgb(
                            rgb[i : i + 1], prior, strength=strength, vividness=vivid, progress=progress, **controls))
                except HintError as exc:
                    raise ColorNetInputError(f"hints/mask: {exc}") from exc
                out[i : i + 1] = rgb_to_image(colour)
                bar.update_absolute((i + 1) * STEPS_PER_IMAGE, batch * STEPS_PER_IMAGE)
        if alpha is not None:
            out = torch.cat((out, alpha), dim=-1)
        return (out,)


def _colorize_clip(model: Any, colorizer: Any, rgb: torch.Tensor, global_prior: Any, prior_mode: str,
                   temporal_smoothing: float, strength: float, vividness: float | None) -> torch.Tensor:
    """The batch as the frames of one clip (``colornet.sequence.colorize_batch``), with ComfyUI's bar and Cancel."""
    from colornet.sequence import colorize_batch

    if global_prior is not None and len(global_prior) > 1:
        raise ColorNetInputError(
            f"global_prior holds {len(global_prior)} priors (one per image), but prior_mode={prior_mode!r} / "
            f"temporal_smoothing treat the batch as one clip: connect a single prior (e.g. ColorNet Prior Mix), or set "
            f"prior_mode to per_image and temporal_smoothing to 0.")
    bar = _comfy.progress_bar(2 * rgb.shape[0])

    def progress(done: int, total: int) -> None:
        _comfy.check_interrupt()
        bar.update_absolute(done, total)

    with _comfy.on_device(model, tuple(rgb.shape[-2:])), model.precision():
        _comfy.check_interrupt()
        out = colorize_batch(colorizer, rgb, prior_mode=prior_mode, temporal_smoothing=temporal_smoothing,
                             strength=strength, prior=global_prior, progress=progress, vividness=vividness)
    return rgb_to_image(out)
