"""Start a wider network from a trained narrower one without losing what it learned (Net2WiderNet, Chen et al. 2016).

Issue 17 asks whether capacity buys hue accuracy per CPU-hour. A wider network trained from scratch cannot answer that
on a CPU budget of minutes: it would spend them relearning what the shipped weights know. Widening keeps the function:
every channel of the wider layer is a copy of channel ``j mod old`` of the narrow one (conv and linear rows, biases,
batch-norm parameters and running statistics), and every consumer of a widened layer divides the copied input
weights by the number of copies, so the sums are unchanged. A little noise on the widened weights breaks the symmetry
between copies, which would otherwise receive identical gradients forever.

Used by ``init_from`` when the config is wider than the checkpoint (``training.train.init_matching``).
"""

from __future__ import annotations

import torch

FUSION_WEIGHT = "fusion.fuse.0.weight"  # input = [mid-level features (widened) ; global feature (global_dim, not)]


def _source_index(new: int, old: int) -> torch.Tensor | None:
    """Channel ``j`` of the wider layer copies channel ``j mod old``; None when ``new`` is not a multiple of ``old``."""
    if new % old:
        return None
    return torch.arange(new) % old


def _input_map(name: str, new: int, old: int, global_dim: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(source column of each new input column, divisor of each) for a layer's input dimension, or None."""
    if name == FUSION_WEIGHT:  # the widened mid-level part first, then the global feature as it was
        index = _source_index(new - global_dim, old - global_dim)
        if index is None:
            return None
        copies = (new - global_dim) // (old - global_dim)
        index = torch.cat((index, torch.arange(global_dim) + old - global_dim))
        divisor = torch.cat((torch.full((new - global_dim,), float(copies)), torch.ones(global_dim)))
        return index, divisor
    index = _source_index(new, old)  # also right for the flattened conv -> fc1 input (channel-major flattening)
    if index is None:
        return None
    return index, torch.full((new,), float(new // old))


def widen_tensor(name: str, source: torch.Tensor, shape: torch.Size, global_dim: int) -> torch.Tensor | None:
    """``source`` brought to ``shape`` by copying channels (dim 0) and splitting inputs (dim 1); None if it cannot."""
    out = source
    if out.dim() == 0:
        return out.clone() if tuple(shape) == () else None
    if shape[0] != out.shape[0]:
        index = _source_index(shape[0], out.shape[0])
        if index is None:
            return None
        out = out.index_select(0, index)
    if out.dim() >= 2 and shape[1] != out.shape[1]:
        mapping = _input_map(name, shape[1], out.shape[1], global_dim)
        if mapping is None:
            return None
        index, divisor = mapping
        out = out.index_select(1, index) / divisor.view(1, -1, *([1] * (out.dim() - 2))).to(out.dtype)
    return out.clone() if tuple(out.shape) == tuple(shape) else None


def widen_state(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], global_dim: int,
                noise: float = 0.01, seed: int = 0) -> dict[str, torch.Tensor]:
    """The tensors of ``target`` (a wider model's state dict) that can be widened from ``source``; widened weight
    tensors get Gaussian noise of ``noise`` x their standard deviation (0 = the narrow net's function exactly)."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, own in target.items():
        if name not in source:
            continue
        value = source[name].to(own.dtype)
        if value.shape == own.shape:
            out[name] = value.clone()
            continue
        widened = widen_tensor(name, value, own.shape, global_dim)
        if widened is None:
            continue
        if noise and name.endswith("weight") and widened.dim() >= 2:
            jitter = torch.randn(widened.shape, generator=generator, dtype=widened.dtype)
            widened = widened + jitter * (noise * float(widened.std()))
        out[name] = widened
    return out
