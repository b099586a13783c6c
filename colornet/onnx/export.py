"""``export_onnx``: a checkpoint -> ``global.onnx``, ``local.onnx`` and ``model.json`` in one folder.

Uses torch's ``torch.export``-based ONNX exporter (``dynamo=True``, the default and the one maintained; it needs
``onnxscript``), opset 18, fp32, weights inside each file. ``local.onnx`` takes any height and width.
``model.json`` is everything a host needs besides the graphs: sizes, defaults, classes, the ab bins, the upsampler's
settings and the checkpoint's sha256; ``colornet/web/static/pipeline.js`` and ``colornet.onnx.runtime`` read it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
from ..errors import InputError
from ..fold import fold_batchnorm
from ..manifest import sha256_file
from ..model import ColorNet
from .graphs import MODE_TEMPERATURE, GlobalGraph, LocalGraph

OPSET = 18
FORMAT = "colornet-onnx"
FORMAT_VERSION = 2  # 2: the local graph's vividness input moves chroma quantiles (1: it was 1 - temperature)
GLOBAL_FILE, LOCAL_FILE, MODEL_JSON = "global.onnx", "local.onnx", "model.json"
UPSAMPLE = {"mode": "guided", "radius": 1, "eps": 1e-2}  # colornet.upsample.ABUpsampler's defaults


def _require_exporter() -> None:
    missing = []
    for module in ("onnx", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise InputError(
            f"ONNX export needs {' and '.join(missing)}: pip install \"colornet[onnx]\" (onnx, onnxscript, onnxruntime)"
        )


def _to_onnx_bytes(module: torch.nn.Module, args: tuple, input_names: list[str], output_names: list[str],
                   dynamic_shapes: Any = None) -> bytes:
    import onnx

    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed" notes: torchvision ops are not used
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's progress chatter and its dependencies' deprecation notes
            program = torch.onnx.export(
                module, args, dynamo=True, opset_version=OPSET, input_names=input_names, output_names=output_names,
                dynamic_shapes=dynamic_shapes, external_data=False, optimize=True, verbose=False, report=False,
            )
    finally:
        quiet.setLevel(level)
    proto = program.model_proto
    proto.doc_string = "ColorNet (Let there be Color!), exported by colornet export-onnx"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def export_onnx(model: ColorNet, out_dir: str | os.PathLike, *, name: str = "", sha256: str | None = None) -> Path:
    """Write ``global.onnx``, ``local.onnx`` and ``model.json`` for ``model`` into ``out_dir`` (created); returns
    the path of ``model.json``. ``name``/``sha256`` identify the checkpoint in ``model.json``."""
    _require_exporter()
    config = model.config
    net = fold_batchnorm(model.float().cpu().eval(), channels_last=False)
    g = config.global_size
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    global_outputs = ["fusion"] + (["logits"] if net.classifier is not None else [])
    global_bytes = _to_onnx_bytes(GlobalGraph(net), (torch.full((1, 1, g, g), 50.0),), ["l_global"], global_outputs)

    height, width = torch.export.Dim("height", min=8, max=16384), torch.export.Dim("width", min=8, max=16384)
    example = (torch.full((1, 1, 96, 128), 50.0), torch.zeros(1, config.global_dim))
    shapes: dict[str, Any] = {"l_work": {2: height, 3: width}, "fusion": None}
    inputs = ["l_work", "fusion"]
    if net.has_distribution_head:
        example += (torch.tensor([float(config.vividness)]),)
        shapes["vividness"] = None
        inputs.append("vividness")
    local_bytes = _to_onnx_bytes(LocalGraph(net), example, inputs, ["ab"], dynamic_shapes=shapes)

    _write(out / GLOBAL_FILE, global_bytes)
    _write(out / LOCAL_FILE, local_bytes)
    document = model_document(model, name=name, sha256=sha256)
    document["files"] = {
        GLOBAL_FILE: {"sha256": hashlib.sha256(global_bytes).hexdigest(), "size": len(global_bytes)},
        LOCAL_FILE: {"sha256": hashlib.sha256(local_bytes).hexdigest(), "size": len(local_bytes)},
    }
    _write(out / MODEL_JSON, (json.dumps(document, indent=1) + "\n").encode())
    return out / MODEL_JSON


def exporter() -> str:
    """Who wrote an export: a cache (``colornet web``) re-exports when the package changed, since a newer release may
    compute the same maths faster (0.2.1: the local graph's softmax over the bins' own axis, 2-3x in the browser)."""
    from .. import __version__

    return f"colornet {__version__}"


def model_document(model: ColorNet, *, name: str = "", sha256: str | None = None) -> dict[str, Any]:
    """What ``model.json`` says: how to feed the graphs and what to do around them."""
    config = model.config
    distribution = model.has_distribution_head
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name or config.name,
        "checkpoint_sha256": sha256,
        "exported_by": exporter(),
        "opset": OPSET,
        "dtype": "float32",
        "head": config.head,
        "global_size": config.global_size,
        "global_dim": config.global_dim,
        "class_names": list(config.class_names),
        "defaults": {
            "working_size": DEFAULT_WORKING_SIZE,
            "strength": DEFAULT_STRENGTH,
            "vividness": model.default_vividness if distribution else None,
        },
        "ab_bins": model.colorization.ab_centres.tolist() if distribution else None,
        "mode_temperature": MODE_TEMPERATURE,
        "upsample": dict(UPSAMPLE),
        "graphs": {
            "global": {
                "file": GLOBAL_FILE,
                "inputs": {"l_global": "L* (0..100) [1,1,global_size,global_size]: the photo's full-resolution L "
                                       "resized once, bilinear with antialiasing (torch antialias=True)"},
                "outputs": {"fusion": "[1,global_dim] fusion vector; mix several as a weighted mean (weights "
                                      "normalised to sum 1), as colornet.prior.mix_priors",
                            **({"logits": "[1,n_classes] scene logits"} if model.classifier is not None else {})},
            },
            "local": {
                "file": LOCAL_FILE,
                "inputs": {"l_work": "L* (0..100) [1,1,h,w]: the full-resolution L area-averaged (adaptive average "
                                     "pooling) so the longer side is at most working_size",
                           "fusion": "[1,global_dim] the photo's own fusion vector, or a mix",
                           **({"vividness": "[1] 0 (muted) .. 1 (bold): how far up its predicted chroma "
                                            "distribution each pixel goes; defaults.vividness = as trained"}
                              if distribution else {})},
                "outputs": {"ab": "a*b* [1,2,4*ceil(h/8),4*ceil(w/8)]; bring it to full size guided by L "
                                  "(colornet.upsample.ABUpsampler), scale by strength, Lab -> sRGB"},
            },
        },
    }


def load_for_export(weights: str | os.PathLike | None) -> tuple[ColorNet, str, str]:
    """Resolve ``weights`` (manifest name, path, or None for the default): (model, name, checkpoint sha256)."""
    from ..weights import load_model

    model, document = load_model(weights, device="cpu")
    info = document.get("weights", {})
    sha256 = info.get("sha256") or sha256_file(info["path"])
    name = info.get("name") or Path(info["path"]).parent.name
    return model, name, sha256


def export_checkpoint(weights: str | os.PathLike | None, out_dir: str | os.PathLike) -> Path:
    """Resolve ``weights`` and export it into ``out_dir``; returns model.json's path."""
    model, name, sha256 = load_for_export(weights)
    return export_onnx(model, out_dir, name=name, sha256=sha256)
