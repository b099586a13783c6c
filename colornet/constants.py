"""Environment configuration, read once at import (the huggingface_hub habit: other modules read ``constants.X``).

* ``COLORNET_MODELS_DIR`` -- a folder of local checkpoints (``<dir>/<name>.safetensors`` or
  ``<dir>/<name>/model.safetensors``), searched before the Hub. Defaults to ``$XDG_CACHE_HOME/colornet/models``
  (``~/.cache/colornet/models``), so a user always has one documented place to drop a file by hand.
* ``COLORNET_MANIFEST`` -- a ``weights_manifest.json`` to use instead of the one shipped in the package (a fork,
  a private mirror, tests).

Hub settings (``HF_ENDPOINT``, ``HF_HOME``/``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_TOKEN``) are *not* re-read here:
huggingface_hub reads them once in ``huggingface_hub.constants`` and its own download code obeys those values, so
colornet asks that module (``hf_hub_offline()``) rather than keeping a second copy that could disagree.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_MODELS_DIR = "COLORNET_MODELS_DIR"
ENV_MANIFEST = "COLORNET_MANIFEST"

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "weights_manifest.json"
# The copy shipped inside the package (identical to the canonical one at the repository root; a test checks it).
PACKAGE_MANIFEST = PACKAGE_DIR / MANIFEST_NAME


def expand_path(path: str | os.PathLike) -> Path:
    """``~`` expanded. Unlike ``Path.expanduser`` it never raises: ``~nouser/x`` (no such user, or no home folder)
    stays as written, and so shows up in messages as a folder that does not exist."""
    return Path(os.path.expanduser(os.fspath(path)))


def _path_from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return expand_path(os.path.expandvars(value)) if value else None


_default_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DEFAULT_MODELS_DIR = _default_cache / "colornet" / "models"

COLORNET_MODELS_DIR: Path = _path_from_env(ENV_MODELS_DIR) or DEFAULT_MODELS_DIR
COLORNET_MANIFEST: Path | None = _path_from_env(ENV_MANIFEST)


def hf_hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as huggingface_hub itself read it (it refuses network calls on that value, not on ours)."""
    from huggingface_hub import constants as hf_constants

    return bool(hf_constants.HF_HUB_OFFLINE)


def hf_endpoint() -> str:
    """The Hub endpoint huggingface_hub will call (``HF_ENDPOINT``, default https://huggingface.co)."""
    from huggingface_hub import constants as hf_constants

    return hf_constants.ENDPOINT


def hf_hub_cache() -> Path:
    """The Hub download cache (``HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``)."""
    from huggingface_hub import constants as hf_constants

    return Path(hf_constants.HF_HUB_CACHE)
