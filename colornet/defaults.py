"""The defaults every front end shows (library, CLI, ComfyUI nodes, benchmarks): each is written here once.

No imports, so a front end can read them without loading anything else.
"""

DEFAULT_WORKING_SIZE = 512  # longer side (px) the network runs at; 0 / None = the photo's full size
DEFAULT_STRENGTH = 1.0  # chroma scale: 0 = greyscale, 1 = as predicted, > 1 more colourful
DEFAULT_TILE = 1024  # full-resolution mode: the network sees at most 1024 x 1024 px at once (bounded memory)
