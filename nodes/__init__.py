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
_comfy.install_example_inputs(PACK_ROOT / "colornet" / "samples")  # inside ComfyUI only: the examples' pictures

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

# The frontend's node search (1.27) matches the node id and this name only, fuzzily and near the start (a word found
# past about the 30th character no longer counts): the words people search for ("colorize", "colorization", "black
# and white", "grayscale", "old photo") are early in the names of the nodes they want; tools/browser_check.py types
# them into the real search box.
# The ids on the left are what saved workflows hold: never change them.
NODE_DISPLAY_NAME_MAPPINGS = {
    "ColorNetLoader": "ColorNet Loader (old photo colorization)",
    "ColorNetLumaExtract": "ColorNet Grayscale Extract (Lab L + ab)",
    "ColorNetGlobalPrior": "ColorNet Global Prior (reference photo)",
    "ColorNetPriorMix": "ColorNet Prior Mix",
    "ColorNetFuseColorize": "ColorNet Colorize (black and white photo)",
    "ColorNetSceneClassify": "ColorNet Scene Classify",
    "ColorNetLabCombine": "ColorNet Lab Combine",
    "ColorNetChromaTransfer": "ColorNet Chroma Transfer (small render to full size)",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
