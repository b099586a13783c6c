"""Inference-only network: batch norm folded into the convolutions before it.

In eval mode a ``BatchNorm2d`` after a conv is a per-channel affine map, ``y = (x - mean) / sqrt(var + eps) * gamma
+ beta``, so it can be merged into the conv's weights and bias (``W' = W * s``, ``b' = (b - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``). Every ``conv_block`` of the model then runs as a single conv + ReLU, which saves a
full read and write of every feature map. The global path's FC layers (run once, on a tiny input) are left as they
are and *share* their tensors with the original model, so the folded copy costs only the conv weights in memory.

``fold_batchnorm`` never touches the model it is given: training code can keep training it, and
``FoldedModelCache`` re-folds when the parameters change (``Tensor._version`` counts in-place updates).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .model import ColorNet


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv equal to ``bn(conv(x))`` in eval mode (float64 arithmetic, stored in the conv's dtype)."""
    w = conv.weight.detach().double()
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)  # (C_out,)
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(scale)
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
        dilation=conv.dilation, groups=conv.groups, bias=True, padding_mode=conv.padding_mode,
        device=conv.weight.device, dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        fused.weight.copy_(w * scale[:, None, None, None])
        fused.bias.copy_((bias - bn.running_mean.detach().double()) * scale + bn.bias.detach().double())
    return fused


def _fold_sequential(seq: nn.Sequential) -> None:
    """In place on a *copy*: every Conv2d directly followed by BatchNorm2d becomes one conv (the BN an Identity)."""
    children = list(seq.named_children())
    for (name, module), (next_name, following) in zip(children, children[1:]):
        if isinstance(module, nn.Conv2d) and isinstance(following, nn.BatchNorm2d):
            setattr(seq, name, _fold_conv_bn(module, following))
            setattr(seq, next_name, nn.Identity())


def fold_batchnorm(model: ColorNet, *, channels_last: bool = True) -> ColorNet:
    """An eval-mode copy of ``model`` with conv+BN pairs folded; the original is left unchanged.

    ``channels_last``: store the conv weights NHWC, so from the second conv on every conv runs (and returns)
    channels-last, which oneDNN runs markedly faster on CPU (see benchmarks/README.md); inputs need no conversion.

    Linear layers and BatchNorm1d (global path) are shared with ``model``, not copied. A model without batch norm is
    still copied (cheaply: only the convs), so callers can treat the result uniformly.
    """
    shared: dict[int, object] = {}
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.BatchNorm1d)):
            for tensor in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
                shared[id(tensor)] = tensor  # deepcopy's memo: reuse these tensors instead of copying them
    folded = copy.deepcopy(model, memo=shared)
    for module in folded.modules():
        if isinstance(module, nn.Sequential):
            _fold_sequential(module)
    folded.eval()
    if channels_last:
        for module in folded.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last)
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded


def _signature(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is replaced or updated in place (optimizer steps, load_state_dict)."""
    # Inference tensors (a model loaded under torch.inference_mode, as ComfyUI runs its nodes) keep no version
    # counter; they cannot take part in training either, so they are treated as frozen.
    return tuple(
        (id(t), -1 if t.is_inference() else t._version, t.device, t.dtype)
        for t in (*model.parameters(), *model.buffers())
    )


class FoldedModelCache:
    """Holds the folded copy of one model and rebuilds it only when the model's weights have changed."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._folded: ColorNet | None = None

    def get(self, model: ColorNet) -> ColorNet:
        key = (id(model), model.training, _signature(model))
        if self._folded is None or key != self._key:
            self._folded = fold_batchnorm(model)
            self._key = key
        return self._folded

    def clear(self) -> None:
        """Drop the folded copy (e.g. to free the GPU memory it holds); the next ``get`` rebuilds it."""
        self._key, self._folded = None, None
