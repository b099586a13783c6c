"""Run an exported model with onnxruntime: the two graphs behind the same interface as ``ColorNet``.

``OnnxNetwork.encode_global`` and ``predict_ab_half`` take and return what the torch methods of the same names do,
so the equality tests (and any torch-free host written in Python) can put them where the network runs and keep
colornet's own resizing, prior mixing, upsampling and Lab code around them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checks import check_vividness
from ..errors import InputError
from ..model import resize_for_global
from ..prior import GlobalPrior
from .export import FORMAT, FORMAT_VERSION, MODEL_JSON


class OnnxNetwork:
    """``global.onnx`` + ``local.onnx`` of one export folder, on onnxruntime's CPU provider."""

    def __init__(self, folder: str | os.PathLike, *, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError("Running ONNX files needs onnxruntime: pip install \"colornet[onnx]\"") from None
        folder = Path(folder)
        try:
            self.document: dict[str, Any] = json.loads((folder / MODEL_JSON).read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"{folder / MODEL_JSON}: not a readable export ({err}); run colornet export-onnx") from None
        if self.document.get("format") != FORMAT:
            raise InputError(f"{folder / MODEL_JSON} is not a {FORMAT} document")
        if self.document.get("format_version") != FORMAT_VERSION:  # e.g. 1: vividness was a temperature then
            raise InputError(f"{folder} was exported in format version {self.document.get('format_version')!r}; "
                             f"this colornet runs version {FORMAT_VERSION}: export it again (colornet export-onnx)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        graphs = self.document["graphs"]
        self.global_session = ort.InferenceSession(str(folder / graphs["global"]["file"]), options,
                                                   providers=["CPUExecutionProvider"])
        self.local_session = ort.InferenceSession(str(folder / graphs["local"]["file"]), options,
                                                  providers=["CPUExecutionProvider"])

    @property
    def has_distribution_head(self) -> bool:
        return self.document["head"] == "distribution"

    def encode_global(self, lightness: torch.Tensor) -> GlobalPrior:
        """L ``[1,1,H,W]`` of any size -> its prior (resized here with the library's own global resize)."""
        small = resize_for_global(lightness.float().cpu(), self.document["global_size"])
        outputs = self.global_session.run(None, {"l_global": small.numpy()})
        logits = torch.from_numpy(outputs[1]) if len(outputs) > 1 else None
        return GlobalPrior(torch.from_numpy(outputs[0]), logits, tuple(self.document["class_names"]))

    def predict_ab_half(self, lightness: torch.Tensor, prior: GlobalPrior, vividness: float | None = None) -> torch.Tensor:
        """L ``[1,1,h,w]`` at the working size + a one-row prior -> ab ``[1,2,~h/2,~w/2]``."""
        feeds = {"l_work": lightness.float().cpu().numpy(), "fusion": prior.fusion.float().cpu().numpy()}
        if self.has_distribution_head:
            value = self.document["defaults"]["vividness"] if vividness is None else check_vividness(vividness)
            feeds["vividness"] = np.array([value], dtype=np.float32)
        elif vividness is not None:
            raise InputError("vividness only applies to checkpoints with a colour-distribution head")
        return torch.from_numpy(self.local_session.run(None, feeds)[0])
