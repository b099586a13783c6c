"""Everything that talks to huggingface_hub: cache look-up, download with progress, error wording, eviction.

Imported only when a checkpoint is resolved from the Hub (``import colornet`` stays free of the Hub client). The pinned
revision of a manifest entry is always a full commit id, so a cached file is used without any network call.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import constants
from .manifest import ManifestEntry

logger = logging.getLogger(__name__)

# errors of the local cache folder (read-only, not a folder, full), which are not "the Hub cannot be reached"
_CACHE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.ENOSPC})

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while the weights file downloads."""


class HubUnavailable(Exception):
    """The Hub step failed; ``reason`` says why and what to do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def place(entry: ManifestEntry) -> str:
    """How a message names the Hub location of ``entry``."""
    rev = entry.revision[:12] if entry.revision else "unpublished"
    return f"Hugging Face Hub {entry.repo_id}@{rev} ({constants.hf_endpoint()}, cache {constants.hf_hub_cache()})"


def cached_file(entry: ManifestEntry) -> Path | None:
    """The file from the local Hub cache at the pinned commit, without any network call."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError

    if entry.revision is None:
        return None
    try:
        path = hf_hub_download(entry.repo_id, entry.filename, revision=entry.revision, local_files_only=True)
    except (EntryNotFoundError, FileNotFoundError):  # LocalEntryNotFoundError is both
        return None
    return Path(path)


def evict(pointer: Path) -> str:
    """Delete a bad cached file so the next call downloads it again. Returns a sentence for the error.

    Only the cache's own entries are removed: the snapshot entry itself, and the blob it links to only if that blob
    lies inside the Hub cache folder -- a link that points elsewhere (a user's file) is unlinked, never followed to
    delete its target. Missing files are fine: another process may be evicting the same file at the same time.
    """
    cache = Path(os.path.realpath(constants.hf_hub_cache()))
    targets: list[Path] = []
    if pointer.is_symlink():
        blob = Path(os.path.realpath(pointer))
        if blob.is_relative_to(cache):
            targets.append(blob)
        targets.append(pointer)
    elif Path(os.path.realpath(pointer)).is_relative_to(cache):
        targets.append(pointer)
    if not targets:
        return f"It lies outside the Hub cache ({cache}), so it was left in place: delete or replace it by hand."
    try:
        for target in targets:
            target.unlink(missing_ok=True)
    except OSError as err:
        return f"It could not be removed ({err}): delete {targets[0]} by hand, then run `colornet weights download`."
    return "It was removed from the cache; the next call downloads it again."


def describe_error(err: BaseException, entry: ManifestEntry) -> str:
    """A Hub failure as one clause saying what happened and what to do."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, OfflineModeIsEnabled):
        return "offline mode is on (HF_HUB_OFFLINE=1) and the file is not in the cache"
    if isinstance(err, RepositoryNotFoundError):
        return (
            f"repository {entry.repo_id} not found (HTTP 404). If it is private, log in (`hf auth login` or "
            f"HF_TOKEN); otherwise the manifest's repo_id is wrong: update colornet"
        )
    if isinstance(err, RevisionNotFoundError):
        return f"the pinned commit {entry.revision} is not in {entry.repo_id}; the manifest is stale: update colornet"
    if isinstance(err, EntryNotFoundError):
        return f"{entry.filename} is not in {entry.repo_id} at commit {entry.revision}; the manifest is stale"
    if isinstance(err, OSError) and err.errno in _CACHE_ERRNOS:  # a local failure, not the network's
        return (f"the Hub cache {constants.hf_hub_cache()} cannot be written ({err.strerror or err}); make it "
                f"writable, or point HF_HUB_CACHE (or HF_HOME) at a writable folder")
    if isinstance(err, HfHubHTTPError):
        status = getattr(err.response, "status_code", "?")
        return f"the Hub answered HTTP {status} ({str(err).splitlines()[0]}); try again later"
    return (
        f"could not reach the Hub ({type(err).__name__}: {err}); check the network or HF_ENDPOINT, "
        f"or set HF_HUB_OFFLINE=1 to skip the Hub"
    )


def _progress_class(callback: ProgressCallback) -> type:
    """A huggingface_hub progress bar that also reports to ``callback`` (e.g. ComfyUI's own bar). The console bar
    still follows HF_HUB_DISABLE_PROGRESS_BARS; the callback is called either way."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class _CallbackBar(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._cb_done = int(kwargs.get("initial") or 0)
            self._cb_total = kwargs.get("total")
            callback(self._cb_done, self._cb_total)

        def update(self, n: float | None = 1) -> bool | None:
            self._cb_done += int(n or 0)
            callback(self._cb_done, self._cb_total)
            return super().update(n)

    return _CallbackBar


def download(entry: ManifestEntry, *, force: bool, progress: ProgressCallback | None) -> Path:
    """Download the pinned file (+ config.json) into the Hub cache. Raises ``HubUnavailable`` with the reason.

    A quick metadata request goes first: when the Hub is unreachable it fails on the first try, whereas
    ``hf_hub_download`` retries a failed connection with back-off for ~20 s before giving up -- too long to make a
    user wait for a fallback that is right here (the bundled copy).
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    assert entry.revision is not None
    try:
        get_hf_file_metadata(hf_hub_url(entry.repo_id, entry.filename, revision=entry.revision))
        kwargs: dict[str, Any] = {"tqdm_class": _progress_class(progress)} if progress else {}
        path = Path(
            hf_hub_download(entry.repo_id, entry.filename, revision=entry.revision, force_download=force, **kwargs)
        )
    except Exception as err:  # any failure of this step is reported and the search goes on
        raise HubUnavailable(describe_error(err, entry)) from err
    try:  # the weights carry their config in the safetensors header, so config.json is a convenience copy
        hf_hub_download(entry.repo_id, entry.config_filename, revision=entry.revision, force_download=force)
    except Exception as err:
        logger.warning("Could not download %s of %s (%s); the weights load without it.", entry.config_filename,
                       entry.name, err)
    return path
