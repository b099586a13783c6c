"""Global priors: what the global path of the network says about a whole photo, and how to mix several.

A prior is the 256-d vector the fusion layer tiles over every pixel, plus the scene-class logits computed from the
same global features. Mixing is done **on the fusion vector** (a convex combination, weights normalised to sum to
1), which is exactly what the colorization network consumes; the logits are mixed the same way, so the class read
out of a mix reflects the references in proportion. A weight of 1.0 on one reference returns that reference's
tensors unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .errors import InputError


@dataclass(frozen=True)
class GlobalPrior:
    """``fusion``: ``[N, D]``; ``logits``: ``[N, n_classes]`` or None. N is 1 (broadcast) or the batch size."""

    fusion: torch.Tensor
    logits: torch.Tensor | None = None
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.fusion.dim() != 2:
            raise InputError(f"GlobalPrior.fusion must be [N, D], got {tuple(self.fusion.shape)}")
        if self.logits is not None and self.logits.shape[0] != self.fusion.shape[0]:
            raise InputError("GlobalPrior.logits and fusion must have the same number of rows")

    def __len__(self) -> int:
        return self.fusion.shape[0]

    def __repr__(self) -> str:
        """Shapes, not numbers: printing a prior must not dump its tensors."""
        top = ""
        if self.logits is not None and self.class_names:
            best = self.logits[0].argmax().item()
            top = f", top class {self.class_names[best]!r}" if best < len(self.class_names) else ""
        classes = f", {len(self.class_names)} classes" if self.class_names else ""
        return (f"GlobalPrior({self.fusion.shape[0]} x {self.fusion.shape[1]}, {self.fusion.device.type}"
                f"{classes}{top})")

    def fusion_for_batch(self, batch: int) -> torch.Tensor:
        """The fusion vectors for a batch of ``batch`` images: one prior broadcasts, N priors must match N images."""
        n = self.fusion.shape[0]
        if n == batch:
            return self.fusion
        if n == 1:
            return self.fusion.expand(batch, -1)
        raise InputError(
            f"The global prior holds {n} vectors but {batch} images were given: pass one prior (used for every "
            f"image) or exactly one per image; to combine several references into one prior, mix them first."
        )

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> "GlobalPrior":
        logits = self.logits.to(device, dtype) if self.logits is not None else None
        return GlobalPrior(self.fusion.to(device, dtype), logits, self.class_names)

    def select(self, index: int) -> "GlobalPrior":
        """The prior of one row (e.g. one frame of a batch), kept 2-D."""
        logits = self.logits[index : index + 1] if self.logits is not None else None
        return GlobalPrior(self.fusion[index : index + 1], logits, self.class_names)

    def mean(self) -> "GlobalPrior":
        """All rows averaged into one prior with equal weights (several references -> one style)."""
        return mix_priors([self.select(i) for i in range(len(self))])

    @staticmethod
    def concat(priors: Sequence["GlobalPrior"]) -> "GlobalPrior":
        """Stack priors row-wise (one per frame)."""
        if not priors:
            raise InputError("No priors to concatenate")
        fusion = torch.cat([p.fusion for p in priors])
        has_logits = all(p.logits is not None for p in priors)
        logits = torch.cat([p.logits for p in priors]) if has_logits else None  # type: ignore[misc]
        return GlobalPrior(fusion, logits, priors[0].class_names)


def mix_priors(priors: Sequence[GlobalPrior], weights: Sequence[float] | None = None) -> GlobalPrior:
    """Weighted average of single-row priors (weights >= 0, normalised to sum 1) on the fusion vector and logits."""
    if not priors:
        raise InputError("mix_priors needs at least one prior")
    weights = [1.0] * len(priors) if weights is None else [float(w) for w in weights]
    if len(weights) != len(priors):
        raise InputError(f"Got {len(priors)} priors but {len(weights)} weights: give one weight per prior")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise InputError(f"Prior weights must be finite numbers >= 0, got {weights}")
    total = sum(weights)
    if total <= 0:
        raise InputError("At least one prior weight must be > 0")
    for p in priors:
        if len(p) != 1:
            raise InputError(f"mix_priors takes single-row priors; got one with {len(p)} rows (use .mean() or .select(i))")
    dims = {p.fusion.shape[1] for p in priors}
    if len(dims) != 1:
        raise InputError(f"Priors come from different models (fusion sizes {sorted(dims)}): mix priors of one model")
    # Exactly one non-zero weight: return that prior's tensors bit for bit (no float round-off from the sum).
    nonzero = [i for i, w in enumerate(weights) if w > 0]
    if len(nonzero) == 1:
        return priors[nonzero[0]]
    device = priors[0].fusion.device
    w = torch.tensor([x / total for x in weights], dtype=priors[0].fusion.dtype, device=device)
    fusion = torch.einsum("n,nd->d", w, torch.cat([p.fusion.to(device) for p in priors]))[None]
    logits = None
    if all(p.logits is not None for p in priors):
        stacked = torch.cat([p.logits.to(device) for p in priors])  # type: ignore[union-attr]
        logits = torch.einsum("n,nc->c", w.to(stacked.dtype), stacked)[None]
    return GlobalPrior(fusion, logits, priors[0].class_names)


def mix_priors_per_row(priors: Sequence[GlobalPrior], weights: Sequence[float] | None = None) -> GlobalPrior:
    """``mix_priors`` row by row: each prior holds one row (used for every row) or N rows (one per frame); row r of
    the result mixes row r of each. Single-row inputs give exactly ``mix_priors``."""
    if not priors:
        raise InputError("mix_priors_per_row needs at least one prior")
    rows = max(len(p) for p in priors)
    if any(len(p) not in (1, rows) for p in priors):
        raise InputError(
            f"The priors hold {[len(p) for p in priors]} rows: each must hold one row or the same number of "
            f"rows (one per frame). Mix a batch of references into one prior first to get a single row."
        )
    mixed = [mix_priors([p.select(r if len(p) > 1 else 0) for p in priors], weights) for r in range(rows)]
    return mixed[0] if rows == 1 else GlobalPrior.concat(mixed)


def top_classes(prior: GlobalPrior, k: int = 5) -> list[list[tuple[str, float]]]:
    """Scene classification read from a prior: for each row, the ``k`` most probable (class name, probability)."""
    if prior.logits is None or not prior.class_names:
        raise InputError(
            "This prior carries no scene-class scores: its checkpoint was trained without a classification head "
            "(no class names in its config). Use a checkpoint with scene classes to classify."
        )
    probs = torch.softmax(prior.logits.float(), dim=1).cpu()
    k = max(1, min(int(k), probs.shape[1]))
    values, indices = probs.topk(k, dim=1)
    return [
        [(prior.class_names[int(i)], float(v)) for v, i in zip(row_v, row_i)]
        for row_v, row_i in zip(values, indices)
    ]
