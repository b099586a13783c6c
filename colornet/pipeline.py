"""High-level colorization: photos in, colour photos out, in bounded memory at any size.

The photo's own L is kept at full resolution; the network sees L resized so its longer side is at most
``working_size`` and predicts ab there (one pass), and the ab is brought back to full size guided by the full-resolution
L (``colornet.upsample``). Memory therefore grows only with the per-pixel Lab arithmetic, which is done in strips.
``working_size=None`` runs the network on the full-resolution image, as the paper does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .fastlab import Workspace, compose_into, luminance_into, strip_rows
from .fold import FoldedModelCache
from .hints import HintLayer, apply_hints, hint_layer_from_image
from .images import RGBImage, to_pil, to_rgb_image
from .lab import rgb_to_lab
from .masking import blend_masked, mask_from_image
from .model import ColorNet
from .prior import GlobalPrior, mix_priors
from .tiling import predict_ab_half_tiled
from .upsample import ABUpsampler

DEFAULT_WORKING_SIZE = 512
DEFAULT_TILE = 1024  # full-resolution mode: the network sees at most 1024 x 1024 px at once (bounded memory)

Progress = Callable[[int, int], None]


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" -> CUDA when present, else CPU; anything else is taken as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def working_shape(height: int, width: int, working_size: int | None) -> tuple[int, int]:
    """Size the network runs at: the photo scaled down (never up) so its longer side is ``working_size``."""
    if working_size is None or max(height, width) <= working_size:
        return height, width
    scale = working_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """L ``[B,1,H,W]`` of RGB ``[B,3,H,W]``: fused, in cache-sized strips (``colornet.fastlab``)."""
    out = torch.empty((rgb.shape[0], 1, *rgb.shape[-2:]), dtype=torch.float32, device=rgb.device)
    ws = Workspace(rgb.device)
    rows = strip_rows(rgb.shape[-1], rgb.device)
    for i in range(0, rgb.shape[-2], rows):
        luminance_into(rgb[:, :, i : i + rows], out[:, :, i : i + rows], ws)
    return out


def split_lab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB ``[B,3,H,W]`` -> (L ``[B,1,H,W]``, ab ``[B,2,H,W]``), in strips; ``compose_rgb`` is its inverse."""
    rows = strip_rows(rgb.shape[-1], rgb.device)
    lightness = torch.empty((rgb.shape[0], 1, *rgb.shape[-2:]), dtype=torch.float32, device=rgb.device)
    ab = torch.empty((rgb.shape[0], 2, *rgb.shape[-2:]), dtype=torch.float32, device=rgb.device)
    for i in range(0, rgb.shape[-2], rows):
        lab = rgb_to_lab(rgb[:, :, i : i + rows])
        lightness[:, :, i : i + rows] = lab[:, :1]
        ab[:, :, i : i + rows] = lab[:, 1:]
    return lightness, ab


def compose_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Lab -> RGB in strips: full-res L + full-res ab -> ``[B,3,H,W]`` in [0, 1]."""
    out = torch.empty((lightness.shape[0], 3, *lightness.shape[-2:]), dtype=torch.float32, device=lightness.device)
    ws = Workspace(lightness.device)
    rows = strip_rows(lightness.shape[-1], lightness.device)
    for i in range(0, lightness.shape[-2], rows):
        compose_into(lightness[:, :, i : i + rows], ab[:, :, i : i + rows], out[:, :, i : i + rows], ws)
    return out


@dataclass
class Colorizer:
    """A loaded model plus the settings of how to run it. Thread-compatible, stateless between calls."""

    model: ColorNet
    device: torch.device
    working_size: int | None = DEFAULT_WORKING_SIZE
    upsample: str = "guided"
    tile: int | None = DEFAULT_TILE  # network input above tile x tile px runs in overlapping tiles (None: never)
    optimize: bool = True  # run a batch-norm-folded copy of the model (``colornet.fold``); False: the model as given

    def __post_init__(self) -> None:
        self._folded = FoldedModelCache()

    @property
    def mode(self) -> str:
        """``"bounded"`` (network at ``working_size``, ab upsampled guided by L) or ``"full"`` (the paper's)."""
        return "full" if self.working_size is None else "bounded"

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
        from .weights import load_model  # local import: keeps `import colornet` free of Hub machinery

        dev = select_device(device)
        model, _ = load_model(weights, device=dev, models_dir=models_dir)
        return cls(model=model, device=dev, **settings)

    @property
    def class_names(self) -> list[str]:
        return list(self.model.config.class_names)

    # --- tensor API (used by the ComfyUI nodes): RGB [B,3,H,W] in [0,1] -------------------------------------------

    def _lightness(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-resolution L and L at the working size (what the network sees), both ``[B,1,*,*]``."""
        lightness = luminance(rgb.to(self.device, torch.float32))
        return lightness, self._working_l(lightness)

    def _working_l(self, lightness: torch.Tensor) -> torch.Tensor:
        """Full-resolution L -> L at the working size (what the network sees)."""
        h, w = working_shape(*lightness.shape[-2:], self.working_size)
        return lightness if (h, w) == lightness.shape[-2:] else F.interpolate(lightness, size=(h, w), mode="area")

    @torch.inference_mode()
    def prior_from_rgb(self, rgb: torch.Tensor) -> GlobalPrior:
        """One prior row per image of ``rgb``: exactly the prior ``colorize_rgb`` computes for that image itself."""
        # float32 whatever precision the network ran in (autocast), so priors mix and compare exactly
        return self.prior_from_lightness(luminance(rgb.to(self.device, torch.float32)))

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
        strength: float = 1.0,
        vividness: float | None = None,
        hints: HintLayer | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Colorize a batch of same-sized images; returns RGB ``[B,3,H,W]`` in [0, 1] on the input's device.

        ``vividness`` (checkpoints with a colour-distribution head only; None = the checkpoint's default) picks how
        boldly the predicted colour distribution is decoded: 0 its mean (muted, safest), 1 its mode (most vivid).
        ``strength`` then scales the chroma of whatever was decoded (any checkpoint).
        ``hints``: colour hints propagated along L (``colornet.hints``; ``strength`` scales the prediction, not the
        hints). ``mask`` ``[B or 1,1,H,W]`` in [0, 1]: 1 = colorize, 0 = keep the input pixel exactly
        (``colornet.masking``).
        """
        _check_strength(strength)  # before the network runs, not after
        lightness, ab_low = self.predict_ab_low(rgb, prior, vividness=vividness)
        if hints is not None:  # corrected ab at the working size; the hints are absolute colours, so no strength
            ab_low, strength = apply_hints(ab_low * strength, self._working_l(lightness), hints), 1.0
        out = self.compose_ab_low(lightness, ab_low, strength=strength)
        if mask is not None:
            out = blend_masked(rgb.to(self.device, torch.float32), out, mask.to(self.device))
        return out.to(rgb.device)

    @torch.inference_mode()
    def predict_ab_low(
        self, rgb: torch.Tensor, prior: GlobalPrior | None = None, *, vividness: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """First half of ``colorize_rgb``: (full-resolution L ``[B,1,H,W]``, network ab ``[B,2,~h/2,~w/2]``).

        Split out so a sequence can work on the small ab between the two halves (``colornet.sequence``).
        """
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"colorize_rgb expects RGB shaped [B, 3, H, W], got {tuple(rgb.shape)}")
        if rgb.shape[0] == 0:
            raise ValueError("colorize_rgb got an empty batch")
        self.model.temperature(vividness)  # checks vividness before any work (raises VividnessError)
        net = self._net()
        lightness, l_work = self._lightness(rgb)  # (B, 1, H, W) full resolution, (B, 1, h, w) working size
        if prior is None:
            # once, from the whole photo at full resolution in a single antialiased resize, as in training:
            # resizing twice (to the working size, then to the global size) blurs what the global path sees and
            # cost 0.3-0.9 dB; the prior is therefore the same at every working size (and when tiled)
            prior = net.encode_global(lightness)
        prior = prior.to(self.device, torch.float32)
        if self.tile is not None:
            ab_low = predict_ab_half_tiled(net, l_work, prior, tile=self.tile, vividness=vividness)  # (B,2,~h/2,~w/2)
        else:
            ab_low = net.predict_ab_half(l_work, prior, vividness)
        return lightness, ab_low.float()  # under fp16/bf16 autocast the network's output is reduced precision

    @torch.inference_mode()
    def compose_ab_low(self, lightness: torch.Tensor, ab_low: torch.Tensor, *, strength: float = 1.0) -> torch.Tensor:
        """Second half of ``colorize_rgb``: L + low-resolution ab -> RGB ``[B,3,H,W]`` on the model's device."""
        _check_strength(strength)
        # ab to full resolution (guided by L) and Lab -> RGB, fused strip by strip: no full-size ab or temporaries
        up = ABUpsampler(ab_low, lightness, mode=self.upsample)
        batch = lightness.shape[0]
        out = torch.empty((batch, 3, *lightness.shape[-2:]), dtype=torch.float32, device=self.device)
        ws = Workspace(self.device)
        rows = strip_rows(lightness.shape[-1], self.device)
        for top in range(0, lightness.shape[-2], rows):
            bottom = min(top + rows, lightness.shape[-2])
            l_strip = lightness[:, :, top:bottom]
            ab = up.strip(top, bottom, l_strip, out=ws.get("ab", (batch, ab_low.shape[1], bottom - top, out.shape[-1])))
            if strength != 1.0:
                ab.mul_(strength)
            compose_into(l_strip, ab, out[:, :, top:bottom], ws)
        return out

    # --- image API: paths, PIL images, numpy arrays ---------------------------------------------------------------

    def colorize_sequence(
        self,
        frames: Iterable[Any],
        *,
        prior_mode: str = "per_shot",
        temporal_smoothing: float = 0.8,
        strength: float = 1.0,
        prior: GlobalPrior | None = None,
        progress: Progress | None = None,
        **options: Any,
    ) -> Iterator[RGBImage]:
        """Colorize the frames of a clip (image-likes, in order), streamed: one ``RGBImage`` per frame, yielded as
        soon as it is done, so memory does not grow with the clip. One prior per shot, cuts detected from L,
        a*b* smoothed along motion; see ``colornet.sequence`` (``cut_threshold=``, ``plan=``) for the details."""
        from .sequence import colorize_image_sequence  # local import: sequence builds on this module

        return colorize_image_sequence(self, frames, prior_mode=prior_mode, temporal_smoothing=temporal_smoothing,
                                       strength=strength, prior=prior, progress=progress, **options)

    def prior_from_references(
        self, references: Sequence[Any], weights: Sequence[float] | None = None
    ) -> GlobalPrior:
        """Encode reference photos and mix them (weighted average of their fusion vectors) into one prior."""
        priors = [self.prior_from_rgb(_to_batch(to_rgb_image(ref))) for ref in references]
        return mix_priors(priors, weights)

    def colorize_image(
        self,
        image: Any,
        prior: GlobalPrior | None = None,
        *,
        strength: float = 1.0,
        vividness: float | None = None,
        hints: Any | None = None,
        mask: Any | None = None,
    ) -> RGBImage:
        """One image of any kind -> colour ``RGBImage`` (alpha, if any, passed through unchanged).

        ``hints``: an RGBA picture of any size (alpha > 0 = hint, its colour's a*b* wanted there) or a ``HintLayer``;
        ``mask``: a black-and-white picture or tensor, white = colorize, black = keep the input pixel.
        """
        src = to_rgb_image(image)
        hint_layer = hint_layer_from_image(hints) if hints is not None else None
        mask_tensor = mask_from_image(mask) if mask is not None else None
        rgb = self.colorize_rgb(_to_batch(src), prior, strength=strength, vividness=vividness, hints=hint_layer,
                                mask=mask_tensor)
        return RGBImage(rgb[0].permute(1, 2, 0).cpu().numpy(), src.alpha, src.bit_depth, src.source)


def _check_strength(strength: float) -> None:
    if strength < 0:
        raise ValueError(f"strength must be >= 0 (0 = greyscale, 1 = as predicted), got {strength}")


def _to_batch(image: RGBImage) -> torch.Tensor:
    return torch.from_numpy(image.rgb).permute(2, 0, 1)[None]  # (1, 3, H, W)


_DEFAULT: dict[tuple, Colorizer] = {}


def colorize(
    image: Any,
    prior: GlobalPrior | None = None,
    reference: Any | Sequence[Any] | None = None,
    *,
    reference_weights: Sequence[float] | None = None,
    weights: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    working_size: int | None = DEFAULT_WORKING_SIZE,
    strength: float = 1.0,
    vividness: float | None = None,
    hints: Any | None = None,
    mask: Any | None = None,
    progress: Progress | None = None,
) -> Any:
    """Colorize one image or a list of them; returns the same kind as given (PIL, numpy float, or tensor).

    ``reference``: one image or a list whose (weighted) global prior replaces each photo's own -- the paper's style
    transfer. ``prior`` may be given directly instead. The model is loaded once and cached per weights/device.
    ``vividness``: see ``Colorizer.colorize_rgb`` (distribution-head checkpoints only). ``hints`` (RGBA picture) and
    ``mask`` (white = colorize) apply to every image (see ``Colorizer.colorize_image``).
    """
    if prior is not None and reference is not None:
        raise ValueError("Pass either prior= or reference=, not both")
    key = (str(weights), str(select_device(device)), working_size)
    if key not in _DEFAULT:
        _DEFAULT[key] = Colorizer.from_pretrained(weights, device=device, working_size=working_size)
    colorizer = _DEFAULT[key]
    if reference is not None:
        refs = list(reference) if isinstance(reference, (list, tuple)) else [reference]
        prior = colorizer.prior_from_references(refs, reference_weights)
    hints = hint_layer_from_image(hints) if hints is not None else None  # decoded once for all images
    mask = mask_from_image(mask) if mask is not None else None
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
    return out.rgb if out.alpha is None else np.dstack((out.rgb, out.alpha))


def to_output_image(out: RGBImage) -> Image.Image:
    """The PIL image to save for a result (RGBA when the input had alpha)."""
    return to_pil(out.rgb, out.alpha)
