"""High-level colorization: photos in, colour photos out, in bounded memory at any size.

The photo's own L is kept at full resolution; the network sees L resized so its longer side is at most
``working_size`` and predicts ab there (one pass), and the ab is brought back to full size guided by the full-resolution
L (``colornet.upsample``). Memory therefore grows only with the per-pixel Lab arithmetic, which is done in strips.
``working_size=None`` runs the network on the full-resolution image, as the paper does.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .defaults import DEFAULT_STRENGTH, DEFAULT_TILE, DEFAULT_WORKING_SIZE
from .checks import check_strength, check_working_size, select_device
from .errors import InputError, OutOfMemoryError
from .fastlab import Workspace, compose_into, finite, image_strips, luminance, strip_rows
from .fold import FoldedModelCache
from .hints import HintLayer, apply_hints, check_hints_fit, hint_layer_from_image
from .images import DEFAULT_MAX_MEGAPIXELS, RGBImage, to_pil, to_rgb_image, to_uint8
from .masking import blend_masked, check_mask_fits, mask_from_image
from .model import ColorNet
from .prior import GlobalPrior, mix_priors
from .sequence import colorize_image_sequence
from .tiling import predict_ab_half_tiled, tile_count
from .upsample import ABUpsampler


Progress = Callable[[int, int], None]
Tick = Callable[[], None]


class _Steps:
    """The steps of one ``colorize_rgb`` call (prior, network tiles, hints, Lab strips, mask), reported to
    ``progress(done, total)`` as each ends: a single large image shows progress, and the callback may raise to
    cancel between steps."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done = progress, max(int(total), 1), 0

    def __call__(self) -> None:
        self.done = min(self.done + 1, self.total)
        self.progress(self.done, self.total)


def working_shape(height: int, width: int, working_size: int | None) -> tuple[int, int]:
    """Size the network runs at: the photo scaled down (never up) so its longer side is ``working_size``."""
    working_size = check_working_size(working_size)
    if working_size is None or max(height, width) <= working_size:
        return height, width
    scale = working_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass
class Colorizer:
    """A loaded model plus the settings of how to run it. Thread-compatible, stateless between calls."""

    model: ColorNet
    device: torch.device
    working_size: int | None = DEFAULT_WORKING_SIZE
    upsample: str = "guided"
    tile: int | None = DEFAULT_TILE  # network input above tile x tile px runs in overlapping tiles (None: never)
    max_megapixels: float | str | None = DEFAULT_MAX_MEGAPIXELS  # memory budget per file (images.check_size)
    optimize: bool = True  # run a batch-norm-folded copy of the model (``colornet.fold``); False: the model as given
    checkpoint: dict[str, Any] | None = None  # which weights file: name, path, sha256 (``from_pretrained`` sets it)

    def __post_init__(self) -> None:
        self.working_size = check_working_size(self.working_size)
        self._folded = FoldedModelCache()

    def release_device_copies(self) -> None:
        """Drop the batch-norm-folded copy of the network (rebuilt on the next run), e.g. after moving the model
        off a GPU, so that no copy stays there. Shared with every ``with_working_size`` copy."""
        self._folded.clear()

    def with_working_size(self, working_size: int | None) -> "Colorizer":
        """A Colorizer sharing this one's model and folded copy but running at ``working_size`` (0/None: full size).
        A shallow copy, so a cached Colorizer is never changed by one run."""
        runner = copy.copy(self)
        runner.working_size = check_working_size(working_size)
        return runner

    def __repr__(self) -> str:
        """The settings and what model it is, not the model's layers and weights."""
        config = self.model.config
        size = "full size" if self.working_size is None else f"working_size={self.working_size}"
        return (f"Colorizer({config.name!r} network, {sum(p.numel() for p in self.model.parameters()) / 1e6:.2f} M parameters, "
                f"device={self.device.type}, {size}, max_megapixels={self.max_megapixels})")

    def _net(self) -> ColorNet:
        """The network that runs: the BN-folded copy (rebuilt only if the model's weights change), or the model."""
        return self._folded.get(self.model) if self.optimize else self.model

    @classmethod
    def from_pretrained(
        cls,
        weights: str | os.PathLike | None = None,
        *,
        device: str | torch.device | None = None,
        models_dir: str | os.PathLike | None = None,
        **settings: Any,
    ) -> "Colorizer":
        """Resolve weights by manifest name or path (default: the bundled checkpoint) and load them."""
        from .manifest import sha256_file
        from .weights import load_model  # local import: keeps `import colornet` free of Hub machinery

        dev = select_device(device)
        model, document = load_model(weights, device=dev, models_dir=models_dir)
        checkpoint = dict(document["weights"])  # recorded in each output's provenance and the run report
        checkpoint["sha256"] = checkpoint.get("sha256") or sha256_file(checkpoint["path"])
        settings.setdefault("checkpoint", checkpoint)
        return cls(model=model, device=dev, **settings)

    @property
    def class_names(self) -> list[str]:
        return list(self.model.config.class_names)

    # --- tensor API (used by the ComfyUI nodes): RGB [B,3,H,W] in [0,1] -------------------------------------------

    def _rgb_on_device(self, rgb: torch.Tensor) -> torch.Tensor:
        """uint8 stays uint8 (converted strip by strip); any float becomes float32."""
        return rgb.to(self.device) if rgb.dtype == torch.uint8 else rgb.to(self.device, torch.float32)

    def _lightness(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-resolution L and L at the working size (what the network sees), both ``[B,1,*,*]``."""
        lightness = luminance(self._rgb_on_device(rgb))
        return lightness, self._working_l(lightness)

    def _working_l(self, lightness: torch.Tensor) -> torch.Tensor:
        """Full-resolution L -> L at the working size (what the network sees)."""
        h, w = working_shape(*lightness.shape[-2:], self.working_size)
        return lightness if (h, w) == lightness.shape[-2:] else F.interpolate(lightness, size=(h, w), mode="area")

    @torch.inference_mode()
    def prior_from_rgb(self, rgb: torch.Tensor) -> GlobalPrior:
        """One prior row per image of ``rgb``: exactly the prior ``colorize_rgb`` computes for that image itself."""
        # float32 whatever precision the network ran in (autocast), so priors mix and compare exactly
        return self.prior_from_lightness(luminance(self._rgb_on_device(rgb)))

    @torch.inference_mode()
    def prior_from_lightness(self, lightness: torch.Tensor) -> GlobalPrior:
        """``prior_from_rgb`` for L ``[B,1,H,W]`` already at hand (sequences compute L once per frame)."""
        return self._net().encode_global(lightness.to(self.device, torch.float32)).to(self.device, torch.float32)

    @torch.inference_mode()
    def colorize_rgb(
        self,
        rgb: torch.Tensor,
        prior: GlobalPrior | None = None,
        *,
        strength: float = DEFAULT_STRENGTH,
        vividness: float | None = None,
        hints: HintLayer | None = None,
        mask: torch.Tensor | None = None,
        out_dtype: torch.dtype = torch.float32,
        progress: Progress | None = None,
    ) -> torch.Tensor:
        """Colorize a batch of same-sized images (float in [0, 1] or uint8); returns RGB ``[B,3,H,W]`` on the
        input's device: float32 in [0, 1], or uint8 with ``out_dtype=torch.uint8`` (a quarter of the memory).

        ``vividness`` (checkpoints with a colour-distribution head only; None = the checkpoint's default) picks how
        bold each pixel's colour is within its predicted distribution: 0 muted, 1 bold, hues unchanged.
        ``strength`` then scales the chroma of whatever was decoded (any checkpoint).
        ``hints``: colour hints propagated along L (``colornet.hints``; ``strength`` scales the prediction, not the
        hints). ``mask`` ``[B or 1,1,H,W]`` in [0, 1]: 1 = colorize, 0 = keep the input pixel exactly
        (``colornet.masking``). ``progress(done, total)`` is called after each step within the image (network
        tiles, Lab strips), e.g. to drive a progress bar or to raise and cancel.
        """
        strength = check_strength(strength)  # before the network runs, not after
        if hints is not None and rgb.dim() == 4:
            check_hints_fit(hints, rgb.shape[0], rgb.shape[-2:])  # batch and aspect, before the network runs
        if mask is not None and rgb.dim() == 4:
            check_mask_fits(mask, rgb.shape[0], rgb.shape[-2:])
        tick = None if progress is None else _Steps(progress, self._step_count(rgb, prior, hints, mask))
        lightness, ab_half = self.predict_ab_half(rgb, prior, vividness=vividness, on_step=tick)
        if hints is not None:  # corrected ab at the working size; the hints are absolute colours, so no strength
            ab_half = apply_hints(ab_half * strength, self._working_l(lightness), hints, lightness.shape[-2:])
            strength = 1.0
            if tick is not None:
                tick()
        if mask is None:
            return self.compose_ab_half(lightness, ab_half, strength=strength, out_dtype=out_dtype,
                                        on_strip=tick).to(rgb.device)
        # the input itself where the mask is 0: blended in float, then in the dtype asked for (uint8 round-trips
        # the kept pixels exactly)
        out = self.compose_ab_half(lightness, ab_half, strength=strength, on_strip=tick)
        original = rgb.to(self.device, torch.float32)
        original = original.mul_(1.0 / 255.0) if rgb.dtype == torch.uint8 else original  # as images.as_float
        out = blend_masked(original, out, mask.to(self.device))
        if tick is not None:
            tick()
        if out_dtype == torch.uint8:
            out = out.mul_(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8)
        return out.to(rgb.device)

    def _step_count(self, rgb: torch.Tensor, prior: GlobalPrior | None, hints: Any, mask: Any) -> int:
        """How many steps ``colorize_rgb`` reports for ``rgb``: the prior (when computed here), one per network
        tile, the hints, one per Lab strip, the mask."""
        height, width = rgb.shape[-2:]
        tiles = tile_count(*working_shape(height, width, self.working_size), self.tile)
        strip_count = -(-height // strip_rows(width, self.device))
        return (prior is None) + tiles + (hints is not None) + strip_count + (mask is not None)

    @torch.inference_mode()
    def predict_ab_half(
        self, rgb: torch.Tensor, prior: GlobalPrior | None = None, *, vividness: float | None = None,
        on_step: Tick | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """First half of ``colorize_rgb``: (full-resolution L ``[B,1,H,W]``, network ab ``[B,2,~h/2,~w/2]``).

        Split out so a sequence can work on the small ab between the two halves (``colornet.sequence``).
        """
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise InputError(f"colorize_rgb expects RGB shaped [B, 3, H, W], got {tuple(rgb.shape)}")
        if rgb.shape[0] == 0:
            raise InputError("colorize_rgb got an empty batch")
        self.model.resolve_vividness(vividness)  # checks vividness before any work (raises VividnessError)
        if prior is not None:
            prior.fusion_for_batch(rgb.shape[0])  # one prior, or one per image: else an InputError before any work
            finite(prior.fusion, "The global prior")
        net = self._net()
        lightness, l_work = self._lightness(rgb)  # (B, 1, H, W) full resolution, (B, 1, h, w) working size
        if prior is None:
            # once, from the whole photo at full resolution in a single antialiased resize, as in training:
            # resizing twice (to the working size, then to the global size) blurs what the global path sees and
            # cost PSNR (benchmarks/README.md); the prior is therefore the same at every working size (and tiled)
            prior = net.encode_global(lightness)
            if on_step is not None:
                on_step()
        prior = prior.to(self.device, torch.float32)
        if self.tile is not None:
            ab_half = predict_ab_half_tiled(net, l_work, prior, tile=self.tile, vividness=vividness,
                                            on_tile=on_step)  # (B,2,~h/2,~w/2)
        else:
            ab_half = net.predict_ab_half(l_work, prior, vividness)
            if on_step is not None:
                on_step()
        return lightness, ab_half.float()  # under fp16/bf16 autocast the network's output is reduced precision

    @torch.inference_mode()
    def compose_ab_half(
        self,
        lightness: torch.Tensor,
        ab_half: torch.Tensor,
        *,
        strength: float = DEFAULT_STRENGTH,
        out_dtype: torch.dtype = torch.float32,
        on_strip: Tick | None = None,
    ) -> torch.Tensor:
        """Second half of ``colorize_rgb``: L + half-resolution ab -> RGB ``[B,3,H,W]`` on the model's device."""
        strength = check_strength(strength)
        # ab to full resolution (guided by L) and Lab -> RGB, fused strip by strip: no full-size ab or temporaries
        up = ABUpsampler(ab_half, lightness, mode=self.upsample)
        out = torch.empty((lightness.shape[0], 3, *lightness.shape[-2:]), dtype=out_dtype, device=self.device)
        ws = Workspace(self.device)
        for rows in image_strips(lightness):
            l_strip = lightness[:, :, rows]
            ab = up.strip(rows.start, rows.stop, l_strip, out=ws.get("ab", (*ab_half.shape[:2], *l_strip.shape[-2:])))
            if strength != 1.0:
                ab.mul_(strength)
            compose_into(l_strip, ab, out[:, :, rows], ws)
            if on_strip is not None:
                on_strip()
        return out

    # --- image API: paths, PIL images, numpy arrays ---------------------------------------------------------------

    def colorize_sequence(
        self,
        frames: Iterable[Any],
        *,
        prior_mode: str = "per_shot",
        temporal_smoothing: float = 0.8,
        strength: float = DEFAULT_STRENGTH,
        prior: GlobalPrior | None = None,
        progress: Progress | None = None,
        **options: Any,
    ) -> Iterator[RGBImage]:
        """Colorize the frames of a clip (image-likes, in order), streamed: one ``RGBImage`` per frame, yielded as
        soon as it is done, so memory does not grow with the clip. One prior per shot, cuts detected from L,
        a*b* smoothed along motion; see ``colornet.sequence`` (``cut_threshold=``, ``plan=``, ``vividness=``)."""
        return colorize_image_sequence(self, frames, prior_mode=prior_mode, temporal_smoothing=temporal_smoothing,
                                       strength=strength, prior=prior, progress=progress, **options)

    def prior_from_references(
        self, references: Sequence[Any], weights: Sequence[float] | None = None
    ) -> GlobalPrior:
        """Encode reference photos and mix them (weighted average of their fusion vectors) into one prior."""
        priors = [self.prior_from_rgb(_to_batch(self._load(ref))) for ref in references]
        return mix_priors(priors, weights)

    def _load(self, image: Any) -> RGBImage:
        """Any image kind, 8-bit sources kept uint8 (the lean path); files above ``max_megapixels`` refused."""
        return to_rgb_image(image, keep_uint8=True, max_megapixels=self.max_megapixels)

    def colorize_image(
        self,
        image: Any,
        prior: GlobalPrior | None = None,
        *,
        strength: float = DEFAULT_STRENGTH,
        vividness: float | None = None,
        hints: Any | None = None,
        mask: Any | None = None,
    ) -> RGBImage:
        """One image of any kind -> colour ``RGBImage`` (alpha, if any, passed through unchanged).

        ``hints``: an RGBA picture of any size (alpha > 0 = hint, its colour's a*b* wanted there) or a ``HintLayer``;
        ``mask``: a black-and-white picture or tensor, white = colorize, black = keep the input pixel.
        The result's ``rgb`` is uint8 for an 8-bit source (files, PIL images, uint8 arrays), float32 in [0, 1]
        otherwise. Running out of memory is an ``OutOfMemoryError`` for this image (a batch can go on)."""
        hint_layer = hint_layer_from_image(hints, max_megapixels=self.max_megapixels) if hints is not None else None
        mask_tensor = mask_from_image(mask, max_megapixels=self.max_megapixels) if mask is not None else None
        (result,) = self.colorize_batch([self._load(image)], prior, strength=strength, vividness=vividness,
                                        hints=hint_layer, mask=mask_tensor)
        if isinstance(result, Exception):
            raise result
        return result

    def colorize_batch(
        self,
        images: Sequence[RGBImage],
        prior: GlobalPrior | None = None,
        *,
        strength: float = DEFAULT_STRENGTH,
        vividness: float | None = None,
        hints: HintLayer | None = None,
        mask: torch.Tensor | None = None,
    ) -> list[RGBImage | OutOfMemoryError]:
        """Decoded images of one size -> one result per image, in order, in one forward pass where memory allows.

        8-bit in, 8-bit out: uint8 sources give uint8 results (a quarter of the memory, no float image), with or
        without a mask; float sources give float32. When the images do not fit together they are colorized one at a
        time; an image that does not fit alone gets an ``OutOfMemoryError`` in its place (the others go on). Other
        mistakes (a NaN strength, a wrong-sized prior) raise."""
        if not images:
            return []
        try:
            if len(images) == 1:
                rgb = _to_batch(images[0])
            else:
                rgb = torch.stack([torch.from_numpy(img.rgb).permute(2, 0, 1) for img in images])
            out_dtype = torch.uint8 if rgb.dtype == torch.uint8 else torch.float32
            out = self.colorize_rgb(rgb, prior, strength=strength, vividness=vividness, hints=hints, mask=mask,
                                    out_dtype=out_dtype)
        except (MemoryError, RuntimeError) as err:
            if not _is_out_of_memory(err):
                raise
            if len(images) > 1:  # maybe only too big together
                return [r for one in images for r in self.colorize_batch([one], prior, strength=strength,
                                                                          vividness=vividness, hints=hints, mask=mask)]
            width, height = images[0].size
            return [OutOfMemoryError(
                f"{images[0].source}: not enough memory to colorize {width}x{height} px "
                f"({width * height / 1e6:.0f} MP); downscale it, lower --max-megapixels to skip such files, or free "
                "memory.")]
        return [RGBImage(out[i].permute(1, 2, 0).cpu().numpy(), img.alpha, img.bit_depth, img.source, img.metadata)
                for i, img in enumerate(images)]


def _is_out_of_memory(err: BaseException) -> bool:
    """A ``MemoryError``, or torch's out-of-memory ``RuntimeError`` (CPU allocator, CUDA)."""
    text = str(err).lower()
    return (isinstance(err, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in text
            or "can't allocate memory" in text)


def _to_batch(image: RGBImage) -> torch.Tensor:
    return torch.from_numpy(image.rgb).permute(2, 0, 1)[None]  # (1, 3, H, W)


_MODELS: dict[tuple[str, str], Colorizer] = {}  # one loaded model per (weights, device), whatever the working size


def colorize(
    image: Any,
    prior: GlobalPrior | None = None,
    reference: Any | Sequence[Any] | None = None,
    *,
    reference_weights: Sequence[float] | None = None,
    weights: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    working_size: int | None = DEFAULT_WORKING_SIZE,
    strength: float = DEFAULT_STRENGTH,
    vividness: float | None = None,
    hints: Any | None = None,
    mask: Any | None = None,
    progress: Progress | None = None,
) -> Any:
    """Colorize one image or a list of them; returns the same kind as given: a PIL image for a path or PIL image, a
    numpy array or tensor for one (uint8 for uint8 input, float32 in [0, 1] otherwise; H x W x 3, x 4 with alpha).

    ``reference``: one image or a list whose (weighted) global prior replaces each photo's own -- the paper's style
    transfer. ``prior`` may be given directly instead. The model is loaded once per weights and device and shared by
    every working size.
    ``vividness``: see ``Colorizer.colorize_rgb`` (distribution-head checkpoints only). ``hints`` (RGBA picture) and
    ``mask`` (white = colorize) apply to every image (see ``Colorizer.colorize_image``).
    """
    if prior is not None and reference is not None:
        raise InputError("Pass either prior= or reference=, not both")
    working_size = check_working_size(working_size)
    strength = check_strength(strength)
    key = (str(weights), str(select_device(device)))
    if key not in _MODELS:
        _MODELS[key] = Colorizer.from_pretrained(weights, device=device)
    colorizer = _MODELS[key].with_working_size(working_size)
    if reference is not None:
        refs = list(reference) if isinstance(reference, (list, tuple)) else [reference]
        prior = colorizer.prior_from_references(refs, reference_weights)
    hints = hint_layer_from_image(hints, max_megapixels=colorizer.max_megapixels) if hints is not None else None
    mask = mask_from_image(mask, max_megapixels=colorizer.max_megapixels) if mask is not None else None
    single = not isinstance(image, (list, tuple))
    items = [image] if single else list(image)
    results = []
    for i, item in enumerate(items):
        out = colorizer.colorize_image(item, prior, strength=strength, vividness=vividness, hints=hints, mask=mask)
        results.append(_like_input(item, out))
        if progress is not None:
            progress(i + 1, len(items))
    return results[0] if single else results


def _like_input(original: Any, out: RGBImage) -> Any:
    if isinstance(original, torch.Tensor):
        return torch.from_numpy(_with_alpha(out))
    if isinstance(original, np.ndarray):
        return _with_alpha(out)
    return to_pil(out.rgb, out.alpha)


def _with_alpha(out: RGBImage) -> np.ndarray:
    """``[H, W, 3|4]`` in the result's own dtype (uint8 for 8-bit inputs, else float32)."""
    rgb = np.ascontiguousarray(out.rgb)
    if out.alpha is None:
        return rgb
    alpha = to_uint8(out.alpha) if rgb.dtype == np.uint8 else out.alpha.astype(rgb.dtype)
    return np.dstack((rgb, alpha))
