"""ONNX export of the network, for hosts without torch (the web page, onnxruntime anywhere).

The network is cut where the paper's design lets a host mix priors: ``global.onnx`` (L at the global size -> the
256-d fusion vector and scene logits) and ``local.onnx`` (L at the working size + a fusion vector [+ vividness] ->
a*b* at about half size). Everything around them -- L from sRGB, the resizes, mixing priors, the guided upsampling,
Lab -> sRGB -- stays in the host, described by ``model.json``. Needs the ``onnx`` extra (``pip install
"colornet[onnx]"``); importing this package imports neither onnx nor torch (``colornet --help`` stays fast).
"""

from __future__ import annotations

__all__ = ["export_onnx"]


def __getattr__(name: str):
    if name == "export_onnx":
        from .export import export_onnx

        return export_onnx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
