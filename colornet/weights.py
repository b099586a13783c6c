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

The manifest is parsed in ``colornet.manifest``; every call into huggingface_hub is in ``colornet.hub``. This module
decides where a name resolves to and holds what ``colornet weights list|download|verify`` report.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from . import constants, hub
from .checkpoint import WEIGHTS_NAME, load_checkpoint
from .errors import ChecksumMismatchError, WeightsNotFoundError
from .hub import ProgressCallback
from .manifest import NAME_RE, ManifestEntry, PathLike, load_manifest, sha256_file
from .model import ColorNet

logger = logging.getLogger(__name__)

Source = Literal["path", "models_dir", "hub_cache", "hub", "bundled"]
ModelsDirs = PathLike | Sequence[PathLike] | None

# -------------------------------------------------------------------------------------------------- verification


_WHERE = {"hub_cache": "Cached", "hub": "Downloaded", "bundled": "Bundled"}


def _verified(path: Path, entry: ManifestEntry, source: Source) -> "ResolvedWeights":
    """``path`` as the resolved ``entry`` once its sha256 matches the manifest's. A mismatching Hub file is evicted
    from the cache (the next call downloads it again); a mismatching bundled copy is only refused."""
    actual = sha256_file(path)
    if actual == entry.sha256:
        return ResolvedWeights(path, entry.name, source, actual)
    if source == "bundled":
        cleanup = "It was not used."
        advice = "The package install is inconsistent: reinstall colornet."
    else:
        cleanup = hub.evict(path)
        advice = (
            "The download was corrupted or the Hub file differs from the release this colornet pins; if it "
            "happens again, update colornet (its manifest may be stale) or report it."
        )
    raise ChecksumMismatchError(
        f"{_WHERE[source]} file {path} for '{entry.name}' has sha256 {actual}, but the manifest expects "
        f"{entry.sha256}. {cleanup} {advice}"
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
        p = constants.expand_path(d)
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
    if os.path.lexists(path):  # /dev/zero, a FIFO, a socket, a broken link: it exists, say what it is
        kind = "a broken link" if path.is_symlink() and not path.exists() else "not a regular file or folder (a device, FIFO or socket)"
        raise WeightsNotFoundError(f"{path} is {kind}: give a .safetensors file or a checkpoint folder.")
    raise WeightsNotFoundError(f"No such checkpoint file or folder: {path}. Check the path.")


def _from_hub(
    entry: ManifestEntry, *, local_files_only: bool, progress: ProgressCallback | None, search: _Search
) -> ResolvedWeights | None:
    place = hub.place(entry)
    if entry.revision is None:
        search.failed(place, "not published yet (revision is null in the manifest)")
        return None
    cached = hub.cached_file(entry)
    if cached is not None:
        try:
            return _verified(cached, entry, "hub_cache")
        except FileNotFoundError:  # another process evicted it (corrupt) between the look-up and the hash
            logger.info("%s vanished from the Hub cache while being checked; fetching it again", cached)
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
        path = hub.download(entry, force=False, progress=progress)
    except hub.HubUnavailable as err:
        search.failed(place, err.reason, err.__cause__)
        return None
    return _verified(path, entry, "hub")


def _from_bundle(entry: ManifestEntry, search: _Search) -> ResolvedWeights | None:
    bundled = entry.bundled_path
    if bundled is None:
        search.failed("bundled copy", "this checkpoint is not bundled with the package")
        return None
    if not bundled.is_file():
        search.failed("bundled copy", f"{bundled} is missing (a broken install?): reinstall colornet")
        return None
    return _verified(bundled, entry, "bundled")


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
    as_path = constants.expand_path(text)
    if (entry is None or _looks_like_path(text)) and as_path.exists():
        return _explicit_path(as_path)
    if entry is None and _looks_like_path(text):
        return _explicit_path(as_path)  # raises "no such file"
    if entry is None and not NAME_RE.fullmatch(text):
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
    """One row of ``colornet weights list``: a manifest entry (None for a file found only in a models folder) and
    where copies of it are on this machine."""

    name: str
    entry: ManifestEntry | None
    default: bool
    local: Path | None  # first hit in the models folders
    cached: Path | None  # in the Hub cache at the pinned commit
    bundled: Path | None  # shipped in the package (None if not bundled or missing)
    size: int | None = None  # bytes: the manifest's, else the local file's

    @property
    def published(self) -> bool:
        return self.entry is not None and self.entry.published

    def __str__(self) -> str:
        """One line for ``colornet weights list``."""
        where = [w for w, p in (("local", self.local), ("cached", self.cached), ("bundled", self.bundled)) if p]
        if not where:
            where = ["downloadable" if self.published else "not published"]
        size = f"{self.size / 1e6:.1f} MB" if self.size else "?"
        star = "*" if self.default else " "
        entry = self.entry
        config = entry.config if entry else "-"
        if entry is None:
            origin = ""
        elif entry.published:
            origin = f"{entry.repo_id}@{entry.revision[:12]}"  # type: ignore[index]
        else:
            origin = "(not on the Hub yet)"
        return f"{star} {self.name:<32} {config:<8} {size:>9}  {', '.join(where):<16} {origin}".rstrip()


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
                entry=entry,
                default=entry.name == manifest.default,
                local=next((p for d in dirs if (p := _in_models_dir(entry.name, d))), None),
                cached=hub.cached_file(entry),
                bundled=bundled if bundled is not None and bundled.is_file() else None,
                size=entry.size,
            )
        )
    seen = set(manifest.models)
    for folder in dirs:
        for path in _local_checkpoints(folder):
            name = path.parent.name if path.name == WEIGHTS_NAME else path.stem
            if name not in seen:
                seen.add(name)
                rows.append(WeightsInfo(name, None, False, path, None, None, path.stat().st_size))
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
    place = hub.place(entry)
    if entry.revision is None:
        bundled = f" It ships bundled at {entry.bundled_path}, so it works without a download." if entry.bundled else ""
        raise WeightsNotFoundError(
            f"'{entry.name}' is not published on the Hub yet (revision null in the manifest).{bundled}"
        )
    if not force and (cached := hub.cached_file(entry)) is not None:
        return _verified(cached, entry, "hub_cache")
    if constants.hf_hub_offline():
        raise WeightsNotFoundError(
            f"Cannot download '{entry.name}' from {place}: HF_HUB_OFFLINE=1 forbids it. Unset it and retry."
        )
    try:
        path = hub.download(entry, force=force, progress=progress)
    except hub.HubUnavailable as err:
        raise WeightsNotFoundError(f"Cannot download '{entry.name}' from {place}: {err.reason}.") from err.__cause__
    return _verified(path, entry, "hub")


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
    copies += [("hub_cache", hub.cached_file(entry)), ("bundled", entry.bundled_path)]
    results = tuple(
        Verification(entry.name, source, path, entry.sha256, sha256_file(path))
        for source, path in copies
        if path is not None and path.is_file()
    )
    return VerifyReport(entry.name, results)
