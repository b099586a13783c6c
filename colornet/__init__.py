"""ColorNet: automatic photo colorization after Iizuka, Simo-Serra & Ishikawa, "Let there be Color!" (SIGGRAPH 2016).

Importing the package is instant: the public names below are imported on first use (so ``colornet --version`` and
``--help`` do not wait for torch), and the Hub client only when weights are resolved. Every error class is here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import *  # noqa: F403 -- every error class, exported
from .errors import __all__ as _ERRORS

__version__ = "0.2.1"

_LAZY = {
    "RGBImage": ".images",
    "load_image": ".images",
    "HintLayer": ".hints",
    "lab_to_rgb": ".lab",
    "rgb_to_lab": ".lab",
    "ColorNet": ".model",
    "ColorNetConfig": ".model",
    "compact_config": ".model",
    "paper_config": ".model",
    "Colorizer": ".pipeline",
    "colorize": ".pipeline",
    "GlobalPrior": ".prior",
    "mix_priors": ".prior",
    "transfer_chroma": ".transfer",
}

__all__ = sorted([*_ERRORS, *_LAZY])

if TYPE_CHECKING:
    from .hints import HintLayer
    from .images import RGBImage, load_image
    from .lab import lab_to_rgb, rgb_to_lab
    from .model import ColorNet, ColorNetConfig, compact_config, paper_config
    from .pipeline import Colorizer, colorize
    from .prior import GlobalPrior, mix_priors
    from .transfer import transfer_chroma


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        try:  # ``import colornet; colornet.pipeline.X`` worked when the package imported everything eagerly
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise  # the submodule exists; something it imports does not
            raise AttributeError(f"module 'colornet' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
