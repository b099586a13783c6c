"""The "Let there be Color!" network (Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2016), in one file.

Four sub-networks as in the paper's Figure 2 / Table 1:

* ``LowLevelFeatures`` -- six 3x3 convs (strides 2,1,2,1,2,1). One instance, *shared* by the local path (the photo at
  any size) and the global path (the photo resized to ``global_size``): the same weights run twice.
* ``MidLevelFeatures`` -- two 3x3 convs on the local path.
* ``GlobalFeatures``   -- four strided 3x3 convs and three FC layers (1024, 512, 256). The 256-d output is the *global
  prior* fused at every pixel; the 512-d layer also feeds the ``ClassificationHead`` (scene logits, training only).
* ``FusionLayer``      -- concatenates the 256-d global vector to every pixel of the mid-level map, then a 1x1 conv.
* ``ColorizationNetwork`` -- convs and two nearest 2x upsamplings to half the input size, sigmoid ab output.

Because the global path is separate, ``encode_global`` and ``colorize`` are exposed on their own: the prior can come
from another photo (the paper's style transfer) or from a weighted mix of several (``colornet.prior.mix_priors``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .colorbins import decode_annealed_mean, decode_features, gamut_bins, vivid_levels
from .checks import check_vividness, vividness_when_unset
from .errors import VividnessError
from .lab import normalize_l, unnormalize_ab
from .prior import GlobalPrior


HEADS = ("regression", "distribution")


@dataclass
class ColorNetConfig:
    """Architecture hyper-parameters; serialised to ``config.json`` next to the weights."""

    name: str = "paper"
    width: float = 1.0  # channel multiplier over the paper's widths (Table 1); 1.0 = the paper
    global_size: int = 224  # side of the square image the global path sees (paper: 224)
    global_dim: int = 256  # size of the global feature fused at every pixel (paper: 256)
    batch_norm: bool = True  # BN after every conv / FC but the outputs (paper: yes, during training)
    class_names: list[str] = field(default_factory=list)  # scene classes; empty = no classification head
    # output head: "regression" (the paper: sigmoid ab, MSE) or "distribution" (beyond the paper: logits over the
    # in-gamut ab bins of colornet.colorbins, soft-encoded cross-entropy, decoded by an annealed mean)
    head: str = "regression"
    ab_grid: int = 10  # distribution head: lattice spacing of the ab bins
    ab_bins: int = 0  # distribution head: number of bins (0 = derive from ab_grid when the network is built)
    vividness: float = 0.62  # distribution head: the decode it was trained for (temperature 1 - vividness: the hues)
    # distribution head: the vividness a run takes when none is asked for; None = ``vividness`` (the prediction as
    # trained). Set where another setting serves better, e.g. after a logit adjustment added chroma to the head.
    default_vividness: float | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")

    def ch(self, paper_channels: int) -> int:
        """Channels of a layer that has ``paper_channels`` in the paper, scaled by ``width`` (at least 8)."""
        return max(8, int(round(paper_channels * self.width)))

    @property
    def global_grid(self) -> int:
        """Side of the global conv map before the FC layers (7 for a 224 input: five stride-2 convs, padded)."""
        side = self.global_size
        for _ in range(5):
            side = math.ceil(side / 2)
        return side

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColorNetConfig":
        """Build from a dict, ignoring keys this version does not know (newer config files still load)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ColorNetConfig":
        return cls.from_dict(json.loads(text))


def paper_config(class_names: list[str] | None = None) -> ColorNetConfig:
    """The paper's Table 1 network (its size: ``benchmarks/bench_inference.py``)."""
    return ColorNetConfig(name="paper", width=1.0, global_size=224, global_dim=256, class_names=list(class_names or []))


def compact_config(class_names: list[str] | None = None) -> ColorNetConfig:
    """A quarter-width network with a 128 px global path, sized to train and run on a laptop CPU."""
    return ColorNetConfig(name="compact", width=0.25, global_size=128, global_dim=256, class_names=list(class_names or []))


CONFIGS = {"paper": paper_config, "compact": compact_config}


def conv_block(config: ColorNetConfig, c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv (+ BN) + ReLU, the paper's unit layer. Padding 1 keeps any H x W valid (odd sizes round up)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not config.batch_norm)]
    if config.batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def fc_block(config: ColorNetConfig, d_in: int, d_out: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(d_in, d_out, bias=not config.batch_norm)]
    if config.batch_norm:
        layers.append(nn.BatchNorm1d(d_out))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class LowLevelFeatures(nn.Module):
    """Table 1, low-level: 64-128-128-256-256-512, strides 2,1,2,1,2,1 (output at 1/8 of the input)."""

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        c = config.ch
        self.conv1 = conv_block(config, 1, c(64), stride=2)
        self.conv2 = conv_block(config, c(64), c(128))
        self.conv3 = conv_block(config, c(128), c(128), stride=2)
        self.conv4 = conv_block(config, c(128), c(256))
        self.conv5 = conv_block(config, c(256), c(256), stride=2)
        self.conv6 = conv_block(config, c(256), c(512))

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(l_norm))
        x = self.conv4(self.conv3(x))
        return self.conv6(self.conv5(x))  # (B, 512w, H/8, W/8)


class MidLevelFeatures(nn.Module):
    """Table 1, mid-level: 512, 256 at 1/8 resolution."""

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        c = config.ch
        self.conv1 = conv_block(config, c(512), c(512))
        self.conv2 = conv_block(config, c(512), c(256))

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(low))  # (B, 256w, H/8, W/8)


class GlobalFeatures(nn.Module):
    """Table 1, global: convs 512 (s2), 512, 512 (s2), 512, then FC 1024, 512, 256."""

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        c = config.ch
        self.conv1 = conv_block(config, c(512), c(512), stride=2)
        self.conv2 = conv_block(config, c(512), c(512))
        self.conv3 = conv_block(config, c(512), c(512), stride=2)
        self.conv4 = conv_block(config, c(512), c(512))
        self.fc1 = fc_block(config, c(512) * config.global_grid**2, c(1024))
        self.fc2 = fc_block(config, c(1024), c(512))
        self.fc3 = fc_block(config, c(512), config.global_dim)

    def forward(self, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv4(self.conv3(self.conv2(self.conv1(low))))  # (B, 512w, g/32, g/32)
        hidden = self.fc2(self.fc1(x.flatten(1)))  # (B, 512w): also feeds the classifier
        return self.fc3(hidden), hidden  # (B, 256), (B, 512w)


class ClassificationHead(nn.Module):
    """Scene classifier on the global net's 512-d layer: FC 256 then FC n_classes (logits)."""

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        self.fc1 = fc_block(config, config.ch(512), config.ch(256))
        self.fc2 = nn.Linear(config.ch(256), config.n_classes)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(hidden))  # (B, n_classes)


class FusionLayer(nn.Module):
    """Concatenate the global vector at every mid-level pixel, then mix with a 1x1 conv to 256 channels."""

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        c_in = config.ch(256) + config.global_dim
        layers: list[nn.Module] = [nn.Conv2d(c_in, config.ch(256), 1, bias=not config.batch_norm)]
        if config.batch_norm:
            layers.append(nn.BatchNorm2d(config.ch(256)))
        layers.append(nn.ReLU(inplace=True))
        self.fuse = nn.Sequential(*layers)

    def forward(self, mid: torch.Tensor, global_vec: torch.Tensor) -> torch.Tensor:
        b, _, h, w = mid.shape
        tiled = global_vec[:, :, None, None].expand(b, global_vec.shape[1], h, w)  # (B, 256, H/8, W/8)
        return self.fuse(torch.cat((mid, tiled), dim=1))  # (B, 256w, H/8, W/8)


class ColorizationNetwork(nn.Module):
    """Table 1, colorization: 128, up, 64, 64, up, 32, then the output head at half resolution.

    The paper's head is a 3x3 conv to 2 channels with a sigmoid (ab). The optional distribution head (beyond the
    paper) is a 1x1 conv to one logit per in-gamut ab bin: per pixel it costs 32w x Q multiply-adds, small on a CPU.
    """

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        c = config.ch
        self.conv1 = conv_block(config, c(256), c(128))
        self.conv2 = conv_block(config, c(128), c(64))
        self.conv3 = conv_block(config, c(64), c(64))
        self.conv4 = conv_block(config, c(64), c(32))
        if config.head == "distribution":
            # the bin centres travel with the weights, so a checkpoint decodes exactly as it was trained; a new
            # network derives them (ab_bins = 0), a loaded one gets them from its file (no gamut search at load)
            if config.ab_bins:
                centres = torch.zeros(config.ab_bins, 2)
            else:
                centres = gamut_bins(config.ab_grid).clone()
                config.ab_bins = centres.shape[0]
            self.distribution = nn.Conv2d(c(32), config.ab_bins, 1)
            self.register_buffer("ab_centres", centres)
        else:
            self.output = nn.Conv2d(c(32), 2, 3, padding=1)

    def hidden(self, fused: torch.Tensor) -> torch.Tensor:
        """Everything before the output head: ``[B, 32w, H/2, W/2]``."""
        x = F.interpolate(self.conv1(fused), scale_factor=2.0, mode="nearest")  # (B, 128w, H/4, W/4)
        x = F.interpolate(self.conv3(self.conv2(x)), scale_factor=2.0, mode="nearest")  # (B, 64w, H/2, W/2)
        return self.conv4(x)  # (B, 32w, H/2, W/2)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """The head's raw output at half resolution: ab in [0, 1] (regression) or ``[B, Q, H/2, W/2]`` logits."""
        x = self.hidden(fused)
        if hasattr(self, "distribution"):
            return self.distribution(x)  # (B, Q, H/2, W/2) logits over the ab bins
        return torch.sigmoid(self.output(x))  # (B, 2, H/2, W/2) in [0, 1]


def resize_for_global(lightness: torch.Tensor, size: int) -> torch.Tensor:
    """L ``[B,1,H,W]`` squashed to ``size`` x ``size`` in one antialiased bilinear resize: the global path's input, the
    same in training (``training.data``) and at inference."""
    if lightness.shape[-2:] == (size, size):
        return lightness
    return F.interpolate(lightness, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class ColorNet(nn.Module):
    """The whole network. Inputs are Lab lightness ``L`` in [0, 100], shaped ``[B, 1, H, W]``; outputs ab."""

    def __init__(self, config: ColorNetConfig):
        super().__init__()
        self.config = config
        self.low_level = LowLevelFeatures(config)  # shared by the local and the global path
        self.mid_level = MidLevelFeatures(config)
        self.global_features = GlobalFeatures(config)
        self.classifier = ClassificationHead(config) if config.n_classes else None
        self.fusion = FusionLayer(config)
        self.colorization = ColorizationNetwork(config)

    def resize_for_global(self, lightness: torch.Tensor) -> torch.Tensor:
        """The global path sees the whole photo squashed to ``global_size`` squared, as in the paper."""
        return resize_for_global(lightness, self.config.global_size)

    def encode_global(self, lightness: torch.Tensor) -> GlobalPrior:
        """Global path: L of any size (resized here) -> the 256-d fusion vector and the scene logits."""
        low = self.low_level(normalize_l(self.resize_for_global(lightness)))  # (B, 512w, g/8, g/8)
        global_vec, hidden = self.global_features(low)
        logits = self.classifier(hidden) if self.classifier is not None else None
        return GlobalPrior(fusion=global_vec, logits=logits, class_names=tuple(self.config.class_names))

    def fuse_local(self, lightness: torch.Tensor, prior: GlobalPrior) -> torch.Tensor:
        """Local path up to the fusion layer: ``[B, 256w, H/8, W/8]``."""
        mid = self.mid_level(self.low_level(normalize_l(lightness)))  # (B, 256w, H/8, W/8)
        return self.fusion(mid, prior.fusion_for_batch(mid.shape[0]).to(mid.dtype))

    def predict_head_half(self, lightness: torch.Tensor, prior: GlobalPrior) -> torch.Tensor:
        """Local path up to the head's raw output (what training's loss sees), at about half the input size."""
        return self.colorization(self.fuse_local(lightness, prior))

    @property
    def has_distribution_head(self) -> bool:
        return self.config.head == "distribution"

    @property
    def decode_temperature(self) -> float:
        """The checkpoint's own decoding temperature, ``1 - config.vividness``: it sets every pixel's hue (T -> 0
        picks the distribution's mode, T = 1 its mean); ``vividness`` then moves only the chroma."""
        return 1.0 - float(self.config.vividness) if self.has_distribution_head else 1.0

    @property
    def default_vividness(self) -> float | None:
        """The vividness a run takes when none is asked for (``config.default_vividness``, else the trained decode's
        ``config.vividness``); None for the paper's regression head."""
        return vividness_when_unset(self.config.head, self.config.vividness, self.config.default_vividness)

    def resolve_vividness(self, vividness: float | None = None) -> float | None:
        """The vividness a run takes effect with: the value checked against [0, 1] and this head, or the checkpoint's
        default for None; None for the paper's regression head (nothing to set).

        vividness picks a quantile of each pixel's predicted chroma distribution (``colorbins.vivid_levels``): 0 the
        low end (muted), 1 the high end (bold); the default leaves the prediction as trained. Hue stays the
        checkpoint's at every setting, and colourfulness rises with the knob.
        """
        if vividness is None:
            return self.default_vividness
        if not self.has_distribution_head:
            raise VividnessError(
                f"vividness only applies to checkpoints with a colour-distribution head; {self.config.name!r} has "
                "the paper's regression head. Leave vividness unset (or use strength), or load a distribution "
                "checkpoint such as the default"
            )
        return check_vividness(vividness)

    def predict_ab_half(self, lightness: torch.Tensor, prior: GlobalPrior,
                        vividness: float | None = None) -> torch.Tensor:
        """Local path: ab in [-110, 110] at about half the input size, ``[B, 2, ~H/2, ~W/2]``."""
        vividness = self.resolve_vividness(vividness)
        if not self.has_distribution_head:
            return unnormalize_ab(self.predict_head_half(lightness, prior))
        temperature = self.decode_temperature
        levels = vivid_levels(vividness, float(self.config.vividness))
        if not torch.is_grad_enabled():
            # inference: the 1x1 head and the decode fused, chunk by chunk (the full logits are never stored), on
            # the features averaged over 2x2 (= the logits averaged: the head is linear), then ab brought back to
            # half size: 4x less decoding at no loss of PSNR (the guided upsampler restores the edges)
            hidden = self.colorization.hidden(self.fuse_local(lightness, prior))  # (B, 32w, H/2, W/2)
            ab = decode_features(F.avg_pool2d(hidden, 2, ceil_mode=True), self.colorization.distribution,
                                 self.colorization.ab_centres, temperature, levels)  # (B, 2, H/4, W/4)
            return F.interpolate(ab, size=hidden.shape[-2:], mode="bilinear", align_corners=False)
        out = self.predict_head_half(lightness, prior)
        return decode_annealed_mean(out, self.colorization.ab_centres, temperature, levels)

    def colorize(self, lightness: torch.Tensor, prior: GlobalPrior, vividness: float | None = None) -> torch.Tensor:
        """ab at the input's size (bilinear upsampling of the half-size prediction), ``[B, 2, H, W]``."""
        ab = self.predict_ab_half(lightness, prior, vividness)
        return F.interpolate(ab, size=lightness.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Training/plain use: the photo is its own global prior. Returns (ab [B,2,H,W], class logits or None)."""
        prior = self.encode_global(lightness)
        return self.colorize(lightness, prior), prior.logits

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
