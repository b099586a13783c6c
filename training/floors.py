"""The two floors a colorization network must beat on validation.

* **Greyscale**: predict ab = 0 everywhere (the input, unchanged).
* **Per-luminance mean-colour table**: for every integer L in [0, 100], the mean ab of all training-split pixels with
  that lightness; applied pixel by pixel to the validation photos. It knows the data's colour statistics but nothing
  spatial (skies are light and blue-ish, foliage mid-dark and green-ish...). A network that cannot beat this table has
  learned no spatial context.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from colornet.lab import rgb_to_lab

N_BINS = 101  # L = 0, 1, ..., 100


class MeanColourTable:
    def __init__(self, table: torch.Tensor, counts: torch.Tensor):
        self.table = table.float()  # [N_BINS, 2] mean ab per L bin
        self.counts = counts.long()  # [N_BINS] training pixels per bin

    @staticmethod
    def bins(lightness: torch.Tensor) -> torch.Tensor:
        return lightness.round().clamp(0, N_BINS - 1).long()

    @classmethod
    def fit(cls, images: list[np.ndarray], stride: int = 2) -> "MeanColourTable":
        """Accumulate mean ab per L bin over uint8 RGB photos (every ``stride``-th pixel in each direction)."""
        sums = torch.zeros(N_BINS, 2, dtype=torch.float64)
        counts = torch.zeros(N_BINS, dtype=torch.float64)
        for rgb in images:
            x = torch.from_numpy(np.ascontiguousarray(rgb[::stride, ::stride])).permute(2, 0, 1).float() / 255.0
            lab = rgb_to_lab(x).reshape(3, -1)
            idx = cls.bins(lab[0])
            counts += torch.bincount(idx, minlength=N_BINS).double()
            sums[:, 0] += torch.bincount(idx, weights=lab[1].double(), minlength=N_BINS)
            sums[:, 1] += torch.bincount(idx, weights=lab[2].double(), minlength=N_BINS)
        table = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], torch.zeros_like(sums))
        return cls(table, counts)

    def predict(self, lightness: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L -> ``[B,2,H,W]`` ab from the table."""
        ab = self.table.to(lightness.device)[self.bins(lightness[:, 0])]  # [B,H,W,2]
        return ab.permute(0, 3, 1, 2).contiguous()

    def to_dict(self) -> dict:
        return {"table": self.table.tolist(), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "MeanColourTable":
        return cls(torch.tensor(data["table"]), torch.tensor(data["counts"]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> "MeanColourTable":
        return cls.from_dict(json.loads(Path(path).read_text()))
