"""Layout glue for the artist controls: ComfyUI IMAGE/MASK -> ``colornet.hints.HintLayer`` / mask tensors.

ComfyUI's MASK is ``[B,H,W]`` in 0..1. Load Image's mask is 1 where the picture is transparent or where the mask
editor painted; so ``hints_mask`` = 1 marks the hint pixels, as painted. Without a mask or alpha, the hints are the
colour painted on the black-and-white photo (the mask editor's paint brush), found by ``colornet.hints.painted_hints``.
Validation only: the propagation and the blending live in ``colornet.hints`` / ``colornet.masking``.
"""

from __future__ import annotations

from typing import Any

import torch

from ._common import ColorNetInputError


def _mask_tensor(value: Any, input_name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dim() not in (2, 3) or 0 in value.shape:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ColorNetInputError(
            f"Input '{input_name}' must be a MASK [batch, height, width] in 0..1 (e.g. from Load Image or the mask "
            f"editor), got {got}."
        )
    mask = value.detach().to("cpu", torch.float32)
    return mask[None] if mask.dim() == 2 else mask


EMPTY_MASK_HELP = "Load Image gives an empty mask (64x64 zeros) for a picture where nothing was masked"


def mask_input(value: Any, batch: int, input_name: str = "mask") -> torch.Tensor:
    """MASK -> ``[B|1,1,H,W]``; one mask for the whole batch or one per image. An all-zero mask (colorize nowhere:
    the output would be the input) is refused, with what to do."""
    mask = _mask_tensor(value, input_name)
    if not bool((mask > 0).any()):
        raise ColorNetInputError(
            f"'{input_name}' is empty (0 everywhere), so nothing would be colorized. {EMPTY_MASK_HELP}: open it in "
            f"the mask editor, paint where colour should go with the mask pen and Save; or disconnect "
            f"'{input_name}' to colorize the whole picture.")
    if mask.shape[0] not in (1, batch):
        raise ColorNetInputError(f"'{input_name}' holds {mask.shape[0]} masks for {batch} images: give one, or one per image.")
    return mask[:, None]


def hint_layer_input(hints: Any, hints_mask: Any, batch: int) -> Any:
    """``hints`` IMAGE (RGB or RGBA) + optional ``hints_mask`` MASK -> ``HintLayer``: confidence = the mask, else the
    alpha, else the paint found on the photo. Hints that cannot be meant (empty, grey over most of the picture, a
    colour photo with no mask) are a ``ColorNetInputError`` saying what to do."""
    from colornet.hints import HintError, HintLayer, check_hints_meant, painted_hints

    from ._common import image_to_rgb

    if hints is None:
        if hints_mask is not None:
            raise ColorNetInputError("'hints_mask' is connected but 'hints' is not: connect the IMAGE holding the hint colours.")
        return None
    rgb, alpha = image_to_rgb(hints, "hints")  # rgb [B,3,H,W], alpha [B,H,W,1] or None
    if hints_mask is not None:
        confidence = _mask_tensor(hints_mask, "hints_mask")[:, None]
        if not bool((confidence > 0).any()):
            raise ColorNetInputError(
                f"'hints_mask' is empty (0 everywhere), so no hint would be used. {EMPTY_MASK_HELP}: open it in the "
                f"mask editor, mask the painted dots with the mask pen and Save; or disconnect 'hints_mask': colour "
                f"painted on a black and white photo is found without it.")
        if confidence.shape[-2:] != rgb.shape[-2:]:
            raise ColorNetInputError(
                f"'hints_mask' is {confidence.shape[-1]}x{confidence.shape[-2]} but 'hints' is "
                f"{rgb.shape[-1]}x{rgb.shape[-2]}: use the mask of the same picture."
            )
    elif alpha is not None:
        confidence = alpha.permute(0, 3, 1, 2)
    else:  # colour painted on the photo (the mask editor's paint brush): the paint is the hint
        try:
            layer = painted_hints(rgb.contiguous())
        except HintError as exc:
            raise ColorNetInputError(f"hints: {exc}") from exc
        if layer.batch not in (1, batch):
            raise ColorNetInputError(f"{layer.batch} hint pictures for {batch} images: give one, or one per image.")
        return layer
    if confidence.shape[0] != rgb.shape[0]:
        if confidence.shape[0] == 1:
            confidence = confidence.expand(rgb.shape[0], -1, -1, -1)
        elif rgb.shape[0] == 1:
            rgb = rgb.expand(confidence.shape[0], -1, -1, -1)
        else:
            raise ColorNetInputError(f"'hints' holds {rgb.shape[0]} images but 'hints_mask' {confidence.shape[0]} masks.")
    if rgb.shape[0] not in (1, batch):
        raise ColorNetInputError(f"{rgb.shape[0]} hint layers for {batch} images: give one, or one per image.")
    try:
        layer = HintLayer(rgb.contiguous(), confidence.contiguous())
        check_hints_meant(layer)
    except HintError as exc:
        source = "hints_mask" if hints_mask is not None else "the hints' alpha"
        raise ColorNetInputError(f"hints ({source}): {exc}") from exc
    return layer
