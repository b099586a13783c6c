"""Exceptions a user can act on. Each subclasses the builtin it narrows, so ``except OSError`` still works.

Messages say what failed, the likely cause and what to do next, e.g.::

    WeightsNotFoundError: Could not find weights 'compact-places39'. Looked in: ... Set HF_HUB_OFFLINE=0 ...
"""

from __future__ import annotations


class ColorNetError(Exception):
    """Base class of every error raised on purpose by colornet."""


class InputError(ColorNetError, ValueError):
    """An argument or input the library cannot use (a negative strength, a NaN pixel, a wrong shape, ...)."""


class ImageLoadError(ColorNetError, ValueError):
    """An input image could not be decoded (corrupt, truncated, unsupported, or too large)."""


class OutOfMemoryError(ColorNetError, MemoryError):
    """One image needed more memory than there is; the others of a batch can still be processed."""


class CheckpointError(ColorNetError, OSError):
    """A checkpoint file is missing, unreadable or has no usable config."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """The tensors in a checkpoint do not fit the architecture its config describes."""


class WeightsNotFoundError(ColorNetError, FileNotFoundError):
    """A named checkpoint could not be found locally, in the Hub cache, on the Hub, or bundled."""


class ChecksumMismatchError(ColorNetError, OSError):
    """A downloaded file's sha256 differs from the manifest: it is not used."""


class ManifestError(ColorNetError, ValueError):
    """``weights_manifest.json`` is malformed or names an unknown checkpoint."""
