"""ColorNet's ComfyUI nodes: thin adapters over the ``colornet`` library (no model logic here).

Importing this package is light (torch + the standard library): ``colornet`` itself is imported when a node runs or
when ComfyUI asks a node for its inputs.

Finding ``colornet``: when the pack is pip-installed (``pip install -e .`` or from a wheel) ``colornet`` is an
ordinary import. When ComfyUI loads the cloned folder from ``custom_nodes/`` without installing it, the pack's root
folder (which holds ``colornet/``) is *appended* to ``sys.path`` -- appended, so it can never shadow ComfyUI's own
modules -- and only if ``colornet`` is not importable already.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent


def ensure_colornet_importable() -> None:
    if importlib.util.find_spec("colornet") is not None:
        return
    if (PACK_ROOT / "colornet" / "__init__.py").is_file() and str(PACK_ROOT) not in sys.path:
        sys.path.append(str(PACK_ROOT))
        logging.getLogger("ColorNet").debug("ColorNet: added %s to sys.path to import colornet", PACK_ROOT)


ensure_colornet_importable()

from . import _comfy  # noqa: E402
from .classify import ColorNetSceneClassify  # noqa: E402
from .colorize import ColorNetFuseColorize  # noqa: E402
from .lab_nodes import ColorNetLabCombine, ColorNetLumaExtract  # noqa: E402
from .loader import ColorNetLoader  # noqa: E402
from .prior_nodes import ColorNetGlobalPrior, ColorNetPriorMix  # noqa: E402
from .transfer import ColorNetChromaTransfer  # noqa: E402

_comfy.register_models_folder()  # inside ComfyUI only: models/colornet

NODE_CLASS_MAPPINGS = {
    "ColorNetLoader": ColorNetLoader,
    "ColorNetLumaExtract": ColorNetLumaExtract,
    "ColorNetGlobalPrior": ColorNetGlobalPrior,
    "ColorNetPriorMix": ColorNetPriorMix,
    "ColorNetFuseColorize": ColorNetFuseColorize,
    "ColorNetSceneClassify": ColorNetSceneClassify,
    "ColorNetLabCombine": ColorNetLabCombine,
    "ColorNetChromaTransfer": ColorNetChromaTransfer,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "ColorNetLoader": "ColorNet Loader",
    "ColorNetLumaExtract": "LumaExtract",
    "ColorNetGlobalPrior": "GlobalPrior",
    "ColorNetPriorMix": "PriorMix",
    "ColorNetFuseColorize": "FuseColorize",
    "ColorNetSceneClassify": "SceneClassify",
    "ColorNetLabCombine": "LabCombine",
    "ColorNetChromaTransfer": "ChromaTransfer",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
