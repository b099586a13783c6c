"""Every exception colornet raises on purpose, in one place. Each subclasses the builtin it narrows, so
``except OSError`` / ``except ValueError`` still works, and each is exported from ``colornet``.

Messages say what failed, the likely cause and what to do next, e.g.::

    WeightsNotFoundError: Could not find weights 'compact-places39'. Looked in: ... Set HF_HUB_OFFLINE=0 ...
"""

from __future__ import annotations

import signal


class ColorNetError(Exception):
    """Base class of every error raised on purpose by colornet."""


class InputError(ColorNetError, ValueError):
    """An argument or input the library cannot use (a negative strength, a NaN pixel, a wrong shape, ...)."""


class VividnessError(InputError):
    """``vividness`` was given for a checkpoint whose head cannot use it, or is out of range."""


class HintError(InputError):
    """A hint layer or mask that cannot be used (wrong shape, no alpha, different aspect ratio)."""


class ImageLoadError(ColorNetError, ValueError):
    """An input image could not be decoded (corrupt, truncated, unsupported, or too large)."""


class OutOfMemoryError(ColorNetError, MemoryError):
    """One image needed more memory than there is; the others of a batch can still be processed."""


class DiskFullError(ColorNetError, OSError):
    """The output disk is full: nothing more can be written, so the run stops (earlier outputs are kept)."""


class PipelineError(ColorNetError, RuntimeError):
    """A stage thread of a batch run failed on something no input explains (a bug): the run ends with this message
    instead of hanging."""


class VideoError(ColorNetError, ValueError):
    """A video cannot be read or written (missing PyAV, unreadable file, no video stream, unsupported codec)."""


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


class WebSetupError(ColorNetError, RuntimeError):
    """``colornet web`` cannot serve the page: onnxruntime-web is missing and npm cannot install it."""


class UsageError(ColorNetError):
    """A mistake in a command line or its environment: the front end prints one line and exits with status 2."""


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop: Ctrl-C (SIGINT), or SIGTERM/SIGHUP from torchrun, timeout, docker stop or
    systemd. A ``KeyboardInterrupt``, so every clean-up path written for Ctrl-C runs for the others too;
    ``signum`` gives the conventional exit status 128 + signum (130, 143, 129)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # as colornet.exits.signal_status


__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "ChecksumMismatchError",
    "ColorNetError",
    "DiskFullError",
    "HintError",
    "ImageLoadError",
    "InputError",
    "Interrupted",
    "ManifestError",
    "OutOfMemoryError",
    "PipelineError",
    "UsageError",
    "VideoError",
    "VividnessError",
    "WebSetupError",
    "WeightsNotFoundError",
]
