"""ColorNet: automatic photo colorization after Iizuka, Simo-Serra & Ishikawa, "Let there be Color!" (SIGGRAPH 2016).

Importing the package is cheap: the network, the Lab conversion and priors are plain modules; the Hub client is only
imported when weights are resolved.
"""

from .errors import (
    CheckpointError,
    CheckpointMismatchError,
    ChecksumMismatchError,
    ColorNetError,
    ImageLoadError,
    InputError,
    ManifestError,
    OutOfMemoryError,
    WeightsNotFoundError,
)
from .images import RGBImage, load_image
from .hints import HintLayer
from .lab import lab_to_rgb, rgb_to_lab
from .model import ColorNet, ColorNetConfig, compact_config, paper_config
from .pipeline import Colorizer, colorize
from .prior import GlobalPrior, mix_priors
from .transfer import transfer_chroma

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "ChecksumMismatchError",
    "ColorNet",
    "ColorNetError",
    "ColorNetConfig",
    "Colorizer",
    "GlobalPrior",
    "ImageLoadError",
    "InputError",
    "ManifestError",
    "OutOfMemoryError",
    "RGBImage",
    "WeightsNotFoundError",
    "HintLayer",
    "colorize",
    "compact_config",
    "lab_to_rgb",
    "load_image",
    "mix_priors",
    "paper_config",
    "rgb_to_lab",
    "transfer_chroma",
]
__version__ = "0.1.0"
