"""A minimal ECCV16-style colorization pipeline (Zhang, Isola & Efros, "Colorful Image Colorization"), as a peer.

Written here from the paper's description for ``bench_cli.py`` to time a typical research pipeline side by side with
``colornet colorize`` on the same machine in the same run: Pillow decode, skimage Lab in float64, the photo resized
to 256x256 for a VGG-style network (8 conv blocks, dilated middle, 313-bin softmax, 1x1 to ab, 4x upsampling), ab
resized to the full photo, skimage Lab -> RGB, Pillow PNG at its default compression. Weights are random: only the
computation's cost matters here. One process colorizes every file given, one after another.

    python benchmarks/peer_eccv16.py OUT_DIR FILE [FILE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import color
from torch import nn
from torch.nn import functional as F


def _block(c_in: int, c_out: int, n: int, *, stride_last: int = 1, dilation: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(n):
        stride = stride_last if i == n - 1 else 1
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, stride, padding=dilation, dilation=dilation),
                   nn.ReLU(True)]
    return layers + [nn.BatchNorm2d(c_out)]


class PeerNet(nn.Module):
    """The ECCV16 network's shape: L (256^2) -> 313-bin distribution at 64^2 -> ab, upsampled 4x."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_block(1, 64, 2, stride_last=2), *_block(64, 128, 2, stride_last=2), *_block(128, 256, 3, stride_last=2),
            *_block(256, 512, 3), *_block(512, 512, 3, dilation=2), *_block(512, 512, 3, dilation=2),
            *_block(512, 512, 3),
            nn.ConvTranspose2d(512, 256, 4, 2, 1), nn.ReLU(True), nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(True), nn.Conv2d(256, 313, 1),
        )
        self.to_ab = nn.Conv2d(313, 2, 1, bias=False)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        logits = self.body((lightness - 50.0) / 100.0)
        ab = self.to_ab(F.softmax(logits, dim=1)) * 110.0
        return F.interpolate(ab, scale_factor=4, mode="bilinear", align_corners=False)


def colorize_file(net: PeerNet, src: Path, dst: Path) -> None:
    rgb = np.asarray(Image.open(src).convert("RGB"))
    small = np.asarray(Image.fromarray(rgb).resize((256, 256), Image.BICUBIC))
    l_full = color.rgb2lab(rgb)[:, :, :1]
    l_small = color.rgb2lab(small)[:, :, 0]
    with torch.inference_mode():
        ab = net(torch.from_numpy(l_small).float()[None, None])
        ab = F.interpolate(ab, size=rgb.shape[:2], mode="bilinear", align_corners=False)
    lab = np.concatenate([l_full, ab[0].permute(1, 2, 0).numpy().astype(np.float64)], axis=2)
    out = (np.clip(color.lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(out).save(dst)


def main() -> None:
    out_dir, files = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    net = PeerNet().eval()
    for src in files:
        colorize_file(net, src, out_dir / (src.stem + ".png"))


if __name__ == "__main__":
    main()
