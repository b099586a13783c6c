"""Pretrained checkpoints by name: ``weights_manifest.json`` + resolution + checksum verification.

A name from the manifest is resolved in this order, and the first hit wins:

1. an explicit local path (a ``.safetensors`` file, or a folder holding ``model.safetensors``);
2. the local models folders (``models_dir`` arguments, then ``COLORNET_MODELS_DIR``):
   ``<dir>/<name>.safetensors`` or ``<dir>/<name>/model.safetensors`` -- the ComfyUI pack passes its
   ``models/colornet`` folder here;
3. the Hugging Face Hub at the manifest's *pinned commit* (never a branch, so the bytes cannot change under a
   user): first the local Hub cache without any network call, then a download unless offline; skipped while the
   entry is not published yet (``revision: null``), and no download is made when the bundled copy already has the
   manifest's sha256 (it is the same file);
4. the copy bundled inside the package, if the entry has one;
5. otherwise ``WeightsNotFoundError`` listing every place looked, why each failed and what to do.

Files from the Hub cache and the bundled copy are checked against the manifest's sha256 *before* use; a mismatch
raises ``ChecksumMismatchError`` (a bad cached file is removed, so the next call downloads it again). Files the user
supplies (explicit path, models folder) are trusted as given: they may be the user's own fine-tunes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from . import constants
from .checkpoint import WEIGHTS_NAME, load_checkpoint
from .errors import ChecksumMismatchError, ManifestError, WeightsNotFoundError
from .model import ColorNet

logger = logging.getLogger(__name__)

Source = Literal["path", "models_dir", "hub_cache", "hub", "bundled"]
ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while the weights file downloads."""

PathLike = str | os.PathLike
ModelsDirs = PathLike | Sequence[PathLike] | None

_COMMIT_RE = re.compile(r"[0-9a-f]{40}")  # what huggingface_hub treats as an immutable commit (lower-case only)
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ENTRY_KEYS = ("repo_id", "revision", "filename", "config_filename", "sha256", "size", "config", "bundled")


# --------------------------------------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ManifestEntry:
    """One named checkpoint of ``weights_manifest.json``."""

    name: str
    repo_id: str
    revision: str | None  # pinned 40-hex commit; None = not published on the Hub yet
    filename: str
    config_filename: str
    sha256: str  # of ``filename`` (model.safetensors)
    size: int
    config: str  # "compact" / "paper"
    bundled: str | None  # path of a copy shipped in the package, relative to the colornet package (or absolute)
    description: str = ""
    license: str = ""

    @property
    def published(self) -> bool:
        return self.revision is not None

    @property
    def bundled_path(self) -> Path | None:
        """Where the bundled copy should be (it may be missing from a broken install)."""
        return constants.PACKAGE_DIR / self.bundled if self.bundled else None

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any], source: Path) -> "ManifestEntry":
        missing = [k for k in _ENTRY_KEYS if k not in data]
        if missing:
            raise ManifestError(
                f"{source}: model '{name}' lacks {', '.join(missing)}; every entry needs {', '.join(_ENTRY_KEYS)}."
            )
        revision, sha256 = data["revision"], data["sha256"]
        if revision is not None and not (isinstance(revision, str) and _COMMIT_RE.fullmatch(revision)):
            raise ManifestError(
                f"{source}: model '{name}' has revision {revision!r}; it must be a full 40-hex lower-case commit id "
                f"(a branch such as 'main' could change under users) or null while unpublished."
            )
        if not (isinstance(sha256, str) and _SHA256_RE.fullmatch(sha256)):
            raise ManifestError(f"{source}: model '{name}' has sha256 {sha256!r}; expected 64 lower-case hex digits.")
        if not isinstance(data["size"], int) or data["size"] <= 0:
            raise ManifestError(f"{source}: model '{name}' has size {data['size']!r}; expected a positive byte count.")
        return cls(
            name=name,
            repo_id=str(data["repo_id"]),
            revision=revision,
            filename=str(data["filename"]),
            config_filename=str(data["config_filename"]),
            sha256=sha256,
            size=int(data["size"]),
            config=str(data["config"]),
            bundled=data["bundled"] or None,
            description=str(data.get("description", "")),
            license=str(data.get("license", "")),
        )


@dataclass(frozen=True)
class Manifest:
    path: Path
    default: str
    models: dict[str, ManifestEntry]

    def find(self, name_or_repo_id: str) -> ManifestEntry | None:
        """The entry called ``name_or_repo_id``, or whose ``repo_id`` it is; None if neither."""
        if name_or_repo_id in self.models:
            return self.models[name_or_repo_id]
        return next((e for e in self.models.values() if e.repo_id == name_or_repo_id), None)

    def get(self, name: str | None = None) -> ManifestEntry:
        """The entry ``name`` (the default when None); ``ManifestError`` naming the known ones otherwise."""
        entry = self.find(name or self.default)
        if entry is None:
            raise ManifestError(
                f"Unknown checkpoint '{name}'. Known: {', '.join(sorted(self.models))} (from {self.path}). "
                f"Check the spelling, or pass a path to a .safetensors file instead."
            )
        return entry


def manifest_path() -> Path:
    """``COLORNET_MANIFEST`` if set, else the copy shipped inside the package."""
    return constants.COLORNET_MANIFEST or constants.PACKAGE_MANIFEST


def load_manifest(path: PathLike | None = None) -> Manifest:
    """Parse and validate a manifest (default: ``manifest_path()``). Raises ``ManifestError`` saying what is wrong."""
    path = Path(path) if path is not None else manifest_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ManifestError(
            f"Weights manifest {path} does not exist. Reinstall colornet, or unset/fix {constants.ENV_MANIFEST}."
        ) from err
    except (OSError, json.JSONDecodeError) as err:
        raise ManifestError(f"Weights manifest {path} is unreadable or not JSON ({err}); restore it from git.") from err
    if not (isinstance(data, dict) and isinstance(data.get("models"), dict) and isinstance(data.get("default"), str)):
        raise ManifestError(f"{path} must be an object with 'default' (a name) and 'models' (name -> entry).")
    models = {name: ManifestEntry.from_dict(name, entry, path) for name, entry in data["models"].items()}
    if data["default"] not in models:
        raise ManifestError(f"{path}: default '{data['default']}' is not one of its models {sorted(models)}.")
    return Manifest(path=path, default=data["default"], models=models)


# ------------------------------------------------------------------------------------------------------- checksums

_sha_memo: dict[tuple[str, int, int], str] = {}


def sha256_file(path: PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks. Memoised per (real path, size, mtime) within the process, so
    loading the same verified file twice does not hash it twice."""
    real = os.path.realpath(path)
    stat = os.stat(real)
    key = (real, stat.st_size, stat.st_mtime_ns)
    if key not in _sha_memo:
        digest = hashlib.sha256()
        with open(real, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _sha_memo[key] = digest.hexdigest()
    return _sha_memo[key]


def _evict_from_hub_cache(pointer: Path) -> str:
    """Delete a cached file (the snapshot link and the blob it points to). Returns a sentence for the error."""
    targets = [pointer.resolve(), pointer] if pointer.is_symlink() else [pointer]
    try:
        for target in targets:
            target.unlink(missing_ok=True)
    except OSError as err:
        return f"It could not be removed ({err}): delete {targets[0]} by hand, then run `colornet weights download`."
    return "It was removed from the cache; the next call downloads it again."


def _check_sha(path: Path, entry: ManifestEntry, where: str, *, evict: bool) -> str:
    actual = sha256_file(path)
    if actual == entry.sha256:
        return actual
    if evict:
        cleanup = _evict_from_hub_cache(path)
        advice = (
            "The download was corrupted or the Hub file differs from the release this colornet pins; if it "
            "happens again, update colornet (its manifest may be stale) or report it."
        )
    else:
        cleanup = "It was not used."
        advice = "The package install is inconsistent: reinstall colornet."
    raise ChecksumMismatchError(
        f"{where} file {path} for '{entry.name}' has sha256 {actual}, but the manifest expects {entry.sha256}. "
        f"{cleanup} {advice}"
    )


# ------------------------------------------------------------------------------------------------------ resolution


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a checkpoint was found. ``sha256`` is the manifest digest the file was verified against, or None for
    user-supplied files (explicit path, models folder), which are not checked."""

    path: Path
    name: str
    source: Source
    sha256: str | None

    def __fspath__(self) -> str:  # usable wherever a path is: open(), load_checkpoint(), Path()
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)


@dataclass
class _Search:
    """The places looked so far and why each failed; becomes the ``WeightsNotFoundError`` message."""

    target: str
    attempts: list[str]
    last_error: BaseException | None = None

    def failed(self, place: str, reason: str, error: BaseException | None = None) -> None:
        self.attempts.append(f"{place}: {reason}")
        self.last_error = error or self.last_error

    def error(self, hint: str) -> WeightsNotFoundError:
        looked = "\n".join(f"  {i}. {a}" for i, a in enumerate(self.attempts, 1))
        return WeightsNotFoundError(f"Could not find weights {self.target}. Looked in:\n{looked}\n{hint}")


def _models_dirs(models_dir: ModelsDirs) -> list[Path]:
    """The folders passed by the caller, then ``COLORNET_MODELS_DIR`` (deduplicated, order kept)."""
    if models_dir is None:
        given: list[PathLike] = []
    elif isinstance(models_dir, (str, os.PathLike)):
        given = [models_dir]
    else:
        given = list(models_dir)
    dirs: list[Path] = []
    for d in [*given, constants.COLORNET_MODELS_DIR]:
        p = Path(d).expanduser()
        if p not in dirs:
            dirs.append(p)
    return dirs


def _in_models_dir(name: str, folder: Path) -> Path | None:
    for candidate in (folder / f"{name}.safetensors", folder / name / WEIGHTS_NAME):
        if candidate.is_file():
            return candidate
    return None


def _looks_like_path(text: str) -> bool:
    return any(sep in text for sep in ("/", "\\", os.sep)) or text.endswith(".safetensors") or text[:1] in ".~"


def _explicit_path(path: Path) -> ResolvedWeights:
    if path.is_file():
        name = path.parent.name if path.name == WEIGHTS_NAME else path.stem
        return ResolvedWeights(path=path, name=name, source="path", sha256=None)
    if path.is_dir():
        weights = path / WEIGHTS_NAME
        if weights.is_file():
            return ResolvedWeights(path=weights, name=path.name, source="path", sha256=None)
        others = sorted(p.name for p in path.glob("*.safetensors"))
        raise WeightsNotFoundError(
            f"Folder {path} has no {WEIGHTS_NAME}"
            + (f" (it has {', '.join(others)}: pass one of those files instead)." if others else ".")
        )
    raise WeightsNotFoundError(f"No such checkpoint file or folder: {path}. Check the path.")


def _hub_place(entry: ManifestEntry) -> str:
    rev = entry.revision[:12] if entry.revision else "unpublished"
    return f"Hugging Face Hub {entry.repo_id}@{rev} ({constants.hf_endpoint()}, cache {constants.hf_hub_cache()})"


def _cached_hub_file(entry: ManifestEntry) -> Path | None:
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


class _HubUnavailable(Exception):
    """Internal: the Hub step failed; ``reason`` says why and what to do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _describe_hub_error(err: BaseException, entry: ManifestEntry) -> str:
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


def _download_from_hub(entry: ManifestEntry, *, force: bool, progress: ProgressCallback | None) -> Path:
    """Download the pinned file (+ config.json) into the Hub cache. Raises ``_HubUnavailable`` with the reason.

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
        raise _HubUnavailable(_describe_hub_error(err, entry)) from err
    try:  # the weights carry their config in the safetensors header, so config.json is a convenience copy
        hf_hub_download(entry.repo_id, entry.config_filename, revision=entry.revision, force_download=force)
    except Exception as err:
        logger.warning("Could not download %s of %s (%s); the weights load without it.", entry.config_filename,
                       entry.name, err)
    return path


def _from_hub(
    entry: ManifestEntry, *, local_files_only: bool, progress: ProgressCallback | None, search: _Search
) -> ResolvedWeights | None:
    place = _hub_place(entry)
    if entry.revision is None:
        search.failed(place, "not published yet (revision is null in the manifest)")
        return None
    cached = _cached_hub_file(entry)
    if cached is not None:
        return ResolvedWeights(cached, entry.name, "hub_cache", _check_sha(cached, entry, "Cached", evict=True))
    if constants.hf_hub_offline():
        search.failed(
            place,
            f"offline (HF_HUB_OFFLINE=1) and not in the cache: run `colornet weights download {entry.name}` once "
            f"online",
        )
        return None
    if local_files_only:
        search.failed(place, "not in the cache, and local_files_only=True forbids downloading")
        return None
    bundled = entry.bundled_path
    if bundled is not None and bundled.is_file() and sha256_file(bundled) == entry.sha256:
        # the pinned Hub file and the bundled copy are the same bytes: downloading it again gains nothing
        return ResolvedWeights(bundled, entry.name, "bundled", entry.sha256)
    try:
        path = _download_from_hub(entry, force=False, progress=progress)
    except _HubUnavailable as err:
        search.failed(place, err.reason, err.__cause__)
        return None
    return ResolvedWeights(path, entry.name, "hub", _check_sha(path, entry, "Downloaded", evict=True))


def _from_bundle(entry: ManifestEntry, search: _Search) -> ResolvedWeights | None:
    bundled = entry.bundled_path
    if bundled is None:
        search.failed("bundled copy", "this checkpoint is not bundled with the package")
        return None
    if not bundled.is_file():
        search.failed("bundled copy", f"{bundled} is missing (a broken install?): reinstall colornet")
        return None
    return ResolvedWeights(bundled, entry.name, "bundled", _check_sha(bundled, entry, "Bundled", evict=False))


def resolve_weights(
    name_or_path: str | os.PathLike | None = None,
    *,
    models_dir: ModelsDirs = None,
    local_files_only: bool | None = None,
    progress: ProgressCallback | None = None,
) -> ResolvedWeights:
    """Find a checkpoint file: a path, or a manifest name / repo_id (None = the manifest's default).

    Args:
        name_or_path: a ``.safetensors`` file, a folder with ``model.safetensors``, or a checkpoint name.
        models_dir: folder(s) searched before ``COLORNET_MODELS_DIR`` (the ComfyUI pack passes its own).
        local_files_only: never download (None = only when ``HF_HUB_OFFLINE`` is set).
        progress: ``progress(done, total)`` called while the weights download.

    Raises:
        WeightsNotFoundError: found nowhere; the message lists each place, why it failed, and how to fix it.
        ChecksumMismatchError: a Hub or bundled file differs from the manifest's sha256 (it is not used).
        ManifestError: the manifest is malformed.
    """
    manifest = load_manifest()
    text = os.fspath(name_or_path) if name_or_path is not None else manifest.default
    entry = manifest.find(text)
    as_path = Path(text).expanduser()
    if (entry is None or _looks_like_path(text)) and as_path.exists():
        return _explicit_path(as_path)
    if entry is None and _looks_like_path(text):
        return _explicit_path(as_path)  # raises "no such file"
    if entry is None and not _NAME_RE.fullmatch(text):
        raise WeightsNotFoundError(f"'{text}' is neither a checkpoint name nor an existing file.")

    name = entry.name if entry else text
    search = _Search(target=f"'{name}'", attempts=[])
    dirs = _models_dirs(models_dir)
    for folder in dirs:
        found = _in_models_dir(name, folder)
        if found is not None:
            return ResolvedWeights(found, name, "models_dir", None)
        state = "" if folder.is_dir() else " (folder does not exist)"
        search.failed(f"models folder {folder}{state}", f"no {name}.safetensors or {name}/{WEIGHTS_NAME}")

    drop_in = f"put the file at {dirs[0] / (name + '.safetensors')} (or set {constants.ENV_MODELS_DIR})"
    if entry is None:
        raise search.error(
            f"'{name}' is not in the manifest {manifest.path} (known: {', '.join(sorted(manifest.models))}), so only "
            f"local folders were searched. Fix: check the name, pass a file path, or {drop_in}."
        )

    offline = constants.hf_hub_offline() if local_files_only is None else local_files_only
    found = _from_hub(entry, local_files_only=offline, progress=progress, search=search)
    if found is None:
        found = _from_bundle(entry, search)
    if found is not None:
        return found
    if entry.published:
        hint = f"Fix one of the above (e.g. `colornet weights download {name}` once online), or {drop_in}."
    else:
        hint = f"Fix: {name} is not published yet; {drop_in}."
    raise search.error(hint) from search.last_error


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: torch.device | str | None = None,
    models_dir: ModelsDirs = None,
    local_files_only: bool | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[ColorNet, dict[str, Any]]:
    """``resolve_weights`` + strict ``load_checkpoint``. Returns ``(model in eval mode, config document)``; the
    document gains a ``"weights"`` key saying which file was used (path, name, source, sha256)."""
    resolved = resolve_weights(
        name_or_path, models_dir=models_dir, local_files_only=local_files_only, progress=progress
    )
    model, document = load_checkpoint(resolved.path, device=device or "cpu")
    document["weights"] = {
        "path": str(resolved.path),
        "name": resolved.name,
        "source": resolved.source,
        "sha256": resolved.sha256,
    }
    return model, document


# ---------------------------------------------------------------------------------------------------- CLI helpers


@dataclass(frozen=True)
class WeightsInfo:
    """One row of ``colornet weights list``. Manifest fields are None for files found only in a models folder."""

    name: str
    repo_id: str | None
    revision: str | None
    sha256: str | None
    size: int | None
    config: str | None
    description: str
    license: str
    default: bool
    local: Path | None  # first hit in the models folders
    cached: Path | None  # in the Hub cache at the pinned commit
    bundled: Path | None  # shipped in the package (None if not bundled or missing)

    @property
    def published(self) -> bool:
        return self.revision is not None

    @property
    def available(self) -> bool:
        """Usable without a download."""
        return any(p is not None for p in (self.local, self.cached, self.bundled))

    def __str__(self) -> str:
        """One line for ``colornet weights list``."""
        where = [w for w, p in (("local", self.local), ("cached", self.cached), ("bundled", self.bundled)) if p]
        if not where:
            where = ["downloadable" if self.published else "not published"]
        size = f"{self.size / 1e6:.1f} MB" if self.size else "?"
        star = "*" if self.default else " "
        origin = f"{self.repo_id}@{self.revision[:12]}" if self.repo_id and self.revision else (self.repo_id or "")
        return f"{star} {self.name:<32} {self.config or '-':<8} {size:>9}  {', '.join(where):<16} {origin}".rstrip()


def list_weights(*, models_dir: ModelsDirs = None) -> list[WeightsInfo]:
    """Every manifest entry (default first), then ``.safetensors`` files in the models folders that the manifest
    does not know. No network, no hashing: fast enough for a UI dropdown."""
    manifest = load_manifest()
    dirs = _models_dirs(models_dir)
    rows: list[WeightsInfo] = []
    for entry in sorted(manifest.models.values(), key=lambda e: (e.name != manifest.default, e.name)):
        bundled = entry.bundled_path
        rows.append(
            WeightsInfo(
                name=entry.name,
                repo_id=entry.repo_id,
                revision=entry.revision,
                sha256=entry.sha256,
                size=entry.size,
                config=entry.config,
                description=entry.description,
                license=entry.license,
                default=entry.name == manifest.default,
                local=next((p for d in dirs if (p := _in_models_dir(entry.name, d))), None),
                cached=_cached_hub_file(entry),
                bundled=bundled if bundled is not None and bundled.is_file() else None,
            )
        )
    seen = set(manifest.models)
    for folder in dirs:
        for path in _local_checkpoints(folder):
            name = path.parent.name if path.name == WEIGHTS_NAME else path.stem
            if name not in seen:
                seen.add(name)
                size = path.stat().st_size
                rows.append(WeightsInfo(name, None, None, None, size, None, "", "", False, path, None, None))
    return rows


def _local_checkpoints(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.safetensors"), *folder.glob(f"*/{WEIGHTS_NAME}")])


def download_weights(
    name: str | None = None, *, force: bool = False, progress: ProgressCallback | None = None
) -> ResolvedWeights:
    """Fetch a published checkpoint into the Hub cache (``colornet weights download``) and verify it.

    Returns the cached file (``source`` "hub_cache" if it was already there and ``force`` is False, else "hub").
    Raises ``ManifestError`` (unknown name), ``WeightsNotFoundError`` (unpublished, offline or the Hub failed: the
    message says which) or ``ChecksumMismatchError``.
    """
    entry = load_manifest().get(name)
    place = _hub_place(entry)
    if entry.revision is None:
        bundled = f" It ships bundled at {entry.bundled_path}, so it works without a download." if entry.bundled else ""
        raise WeightsNotFoundError(
            f"'{entry.name}' is not published on the Hub yet (revision null in the manifest).{bundled}"
        )
    if not force and (cached := _cached_hub_file(entry)) is not None:
        return ResolvedWeights(cached, entry.name, "hub_cache", _check_sha(cached, entry, "Cached", evict=True))
    if constants.hf_hub_offline():
        raise WeightsNotFoundError(
            f"Cannot download '{entry.name}' from {place}: HF_HUB_OFFLINE=1 forbids it. Unset it and retry."
        )
    try:
        path = _download_from_hub(entry, force=force, progress=progress)
    except _HubUnavailable as err:
        raise WeightsNotFoundError(f"Cannot download '{entry.name}' from {place}: {err.reason}.") from err.__cause__
    return ResolvedWeights(path, entry.name, "hub", _check_sha(path, entry, "Downloaded", evict=True))


@dataclass(frozen=True)
class Verification:
    """One local copy of a checkpoint checked against the manifest (``colornet weights verify``)."""

    name: str
    source: Source
    path: Path
    expected_sha256: str
    actual_sha256: str

    @property
    def ok(self) -> bool:
        return self.actual_sha256 == self.expected_sha256

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"MISMATCH (sha256 {self.actual_sha256}, expected {self.expected_sha256})"
        return f"{self.name} [{self.source}] {self.path}: {verdict}"


@dataclass(frozen=True)
class VerifyReport:
    """Result of ``verify_weights``. True only if at least one local copy exists and every copy matches, so
    ``if verify_weights(name):`` is the CLI's exit status; ``str()`` is the report to print."""

    name: str
    results: tuple[Verification, ...]

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __str__(self) -> str:
        if not self.results:
            return (
                f"{self.name}: no local copy to verify (not in the models folders, the Hub cache or the package); "
                f"run `colornet weights download {self.name}`."
            )
        lines = [str(r) for r in self.results]
        if not self.ok:
            lines.append("A mismatching copy is not the released file: delete it (the Hub cache re-downloads).")
        return "\n".join(lines)


def verify_weights(name: str | None = None, *, models_dir: ModelsDirs = None) -> VerifyReport:
    """Hash every local copy (models folders, Hub cache, bundled) of ``name`` (None = the default) and compare
    with the manifest's sha256. Nothing is deleted and nothing is raised on a mismatch: the report says it.
    Raises ``ManifestError`` for an unknown name."""
    entry = load_manifest().get(name)
    copies: list[tuple[Source, Path | None]] = [
        ("models_dir", _in_models_dir(entry.name, folder)) for folder in _models_dirs(models_dir)
    ]
    copies += [("hub_cache", _cached_hub_file(entry)), ("bundled", entry.bundled_path)]
    results = tuple(
        Verification(entry.name, source, path, entry.sha256, sha256_file(path))
        for source, path in copies
        if path is not None and path.is_file()
    )
    return VerifyReport(entry.name, results)
