"""Everything that talks to huggingface_hub: cache look-up, download with progress, error wording, eviction.

Imported only when a checkpoint is resolved from the Hub (``import colornet`` stays free of the Hub client). The pinned
revision of a manifest entry is always a full commit id, so a cached file is used without any network call.
"""

from __future__ import annotations

import contextvars
import errno
import inspect
import logging
import os
import threading
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
    from huggingface_hub.utils import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        from huggingface_hub.utils import OfflineModeIsEnabled
    except ImportError:  # huggingface_hub < 0.20 defines it in file_download
        from huggingface_hub.file_download import OfflineModeIsEnabled

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


def _takes_tqdm_class() -> bool:
    """Whether this huggingface_hub's ``hf_hub_download`` accepts ``tqdm_class`` (1.1 and later; 0.x and 1.0 do not)."""
    from huggingface_hub import hf_hub_download

    return "tqdm_class" in inspect.signature(hf_hub_download).parameters


def _resume_option() -> dict[str, bool]:
    """``resume_download=True`` for a client whose default is False (before 0.2x's always-resume): without it, it
    downloads into an anonymous temporary file, whose growth cannot be told apart from other downloads'."""
    from huggingface_hub import hf_hub_download

    option = inspect.signature(hf_hub_download).parameters.get("resume_download")
    return {"resume_download": True} if option is not None and option.default is False else {}


def _partial_download_size(entry: ManifestEntry, etag: str | None) -> Callable[[], int]:
    """How many bytes of the file huggingface_hub has written so far. It writes into the cache's blobs folder,
    ``<cache>/models--org--name/blobs/<etag>.incomplete`` (0.x) or ``<etag>.<random>.incomplete`` (later), and
    moves the file into place when it is complete."""
    blobs = constants.hf_hub_cache() / "--".join(["models", *entry.repo_id.split("/")]) / "blobs"

    def size() -> int:
        if not etag:
            return 0
        sizes = [0]
        for part in blobs.glob(f"{etag}*.incomplete"):
            try:
                sizes.append(part.stat().st_size)
            except OSError:  # moved into place meanwhile
                pass
        return max(sizes)

    return size


def _download_watching_size(
    fetch: Callable[[], str], written: Callable[[], int], total: int | None, progress: ProgressCallback
) -> str:
    """Run ``fetch`` in a worker thread and report the bytes ``written`` so far to ``progress`` from this thread.

    The fallback for a huggingface_hub without ``tqdm_class``: progress is still reported (four times a second,
    on the caller's thread, so ComfyUI's progress bar sees it from the node's own thread); it just cannot be
    interrupted mid-file -- if ``progress`` raises, the exception propagates and the download finishes in the
    background into the cache.
    """
    done_event = threading.Event()
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def worker() -> None:
        try:
            outcome["path"] = context.run(fetch)
        except BaseException as err:  # handed to the caller's thread below
            outcome["error"] = err
        finally:
            done_event.set()

    threading.Thread(target=worker, name="colornet-hub-download", daemon=True).start()
    progress(0, total)
    last = 0
    while not done_event.wait(0.25):
        size = written()
        if size > last:
            last = size
            progress(size, total)
    if "error" in outcome:
        raise outcome["error"]
    path = outcome["path"]
    final = os.path.getsize(path)
    progress(final, total or final)
    return path


def _metadata_request_retries() -> bool:
    """huggingface_hub 0.x retries a refused connection of ``get_hf_file_metadata`` with back-off (~20 s), as its
    ``hf_hub_download`` does; 1.0 and later raise on the first try."""
    import huggingface_hub

    return huggingface_hub.__version__.split(".")[0] == "0"


def _probe_endpoint() -> None:
    """One request to the endpoint through the client's own session (its proxy, TLS and offline settings), without
    retries: raises at once when the Hub cannot be reached."""
    from huggingface_hub.utils import get_session

    get_session().head(constants.hf_endpoint(), timeout=10)


def download(entry: ManifestEntry, *, force: bool, progress: ProgressCallback | None) -> Path:
    """Download the pinned file (+ config.json) into the Hub cache. Raises ``HubUnavailable`` with the reason.

    A quick metadata request goes first: when the Hub is unreachable it fails on the first try, whereas
    ``hf_hub_download`` retries a failed connection with back-off for ~20 s before giving up -- too long to make a
    user wait for a fallback that is right here (the bundled copy). (With a 0.x client, whose metadata request
    retries too, a single plain request to the endpoint goes before it.)
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    assert entry.revision is not None
    try:
        if _metadata_request_retries():
            _probe_endpoint()
        metadata = get_hf_file_metadata(hf_hub_url(entry.repo_id, entry.filename, revision=entry.revision))

        def fetch(**kwargs: Any) -> str:
            return hf_hub_download(
                entry.repo_id, entry.filename, revision=entry.revision, force_download=force, **kwargs
            )

        if progress is None:
            path = Path(fetch())
        elif _takes_tqdm_class():
            path = Path(fetch(tqdm_class=_progress_class(progress)))
        else:
            written = _partial_download_size(entry, metadata.etag)
            resume = _resume_option()
            path = Path(_download_watching_size(lambda: fetch(**resume), written, metadata.size, progress))
    except Exception as err:  # any failure of this step is reported and the search goes on
        raise HubUnavailable(describe_error(err, entry)) from err
    try:  # the weights carry their config in the safetensors header, so config.json is a convenience copy
        hf_hub_download(entry.repo_id, entry.config_filename, revision=entry.revision, force_download=force)
    except Exception as err:
        logger.warning("Could not download %s of %s (%s); the weights load without it.", entry.config_filename,
                       entry.name, err)
    return path
