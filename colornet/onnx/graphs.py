"""The two exported graphs as torch modules: the network's own layers, cut where a host mixes priors.

Both wrap a batch-norm-folded copy of the model (``colornet.fold``), the same network ``Colorizer`` runs, so the
ONNX files hold one conv per layer. They reproduce ``ColorNet.encode_global`` and ``ColorNet.predict_ab_half``
(inference path) exactly, minus what the host does: the global path's resize and the prior mixing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..colorbins import apply_chroma_shift, chroma_groups, chroma_shift, vivid_quantile
from ..lab import normalize_l, unnormalize_ab
from ..model import ColorNet

MODE_TEMPERATURE = 1e-3  # at or below this temperature the decode is the mode (argmax), as colorbins does


class GlobalGraph(nn.Module):
    """L ``[1,1,G,G]`` (0..100, already at the global size) -> (fusion ``[1,256]``, scene logits ``[1,K]``)."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, l_global: torch.Tensor) -> tuple[torch.Tensor, ...]:
        low = self.net.low_level(normalize_l(l_global))
        fusion, hidden = self.net.global_features(low)
        if self.net.classifier is None:
            return (fusion,)
        return fusion, self.net.classifier(hidden)


class LocalGraph(nn.Module):
    """Local path + fusion + colour head: L ``[1,1,H,W]`` at the working size, fusion ``[1,256]`` and, for a
    distribution head, vividness ``[1]`` (0..1) -> a*b* ``[1,2,4*ceil(H/8),4*ceil(W/8)]`` in [-110, 110].

    The distribution head decodes as ``ColorNet.predict_ab_half`` does at inference: features averaged over 2x2,
    the 1x1 head, softmax(logits / T) . centres with the checkpoint's own T (argmax at T <= 1e-3), each pixel's
    chroma moved by the vividness's chroma quantile (``colornet.colorbins.chroma_shift``; none at the checkpoint's
    default), then bilinear back to half size. (The 2x2 average never meets an edge: half size is a multiple of 4.)
    """

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net
        self.distribution = net.has_distribution_head
        if self.distribution:
            group, chroma = chroma_groups(net.colorization.ab_centres)
            self.register_buffer("chroma_group", group, persistent=False)
            self.register_buffer("chroma", chroma, persistent=False)

    def forward(self, l_work: torch.Tensor, fusion: torch.Tensor, vividness: torch.Tensor | None = None) -> torch.Tensor:
        net = self.net
        head = net.colorization
        mid = net.mid_level(net.low_level(normalize_l(l_work)))
        hidden = head.hidden(net.fusion(mid, fusion))  # (1, 32w, H/2, W/2)
        if not self.distribution:
            return unnormalize_ab(torch.sigmoid(head.output(hidden)))
        assert vividness is not None
        logits = head.distribution(F.avg_pool2d(hidden, 2, ceil_mode=True))  # (1, Q, H/4, W/4)
        quarter = logits.shape[-2:]
        # Pixels as rows, bins last: onnxruntime's Softmax over axis 1 of NCHW logits took 70 % of this graph's time
        # (512 px working size, one thread); over the last axis it is a plain row softmax.
        pixels = logits.flatten(2)[0].transpose(0, 1)  # (N, Q), N = H/4 * W/4
        centres = head.ab_centres  # (Q, 2)
        temperature = net.decode_temperature
        if temperature <= MODE_TEMPERATURE:
            ab = centres[pixels.argmax(1)]  # (N, 2)
        else:
            ab = torch.softmax(pixels / temperature, dim=1) @ centres
        asked = vivid_quantile(vividness.reshape(1, 1))
        probs = torch.softmax(pixels, dim=1).transpose(0, 1)  # (Q, N)
        shift = chroma_shift(probs, self.chroma_group, self.chroma, (asked, vivid_quantile(net.config.vividness)))
        ab = apply_chroma_shift(ab, shift, dim=1).transpose(0, 1).reshape(1, 2, *quarter)
        return F.interpolate(ab, size=hidden.shape[-2:], mode="bilinear", align_corners=False)
