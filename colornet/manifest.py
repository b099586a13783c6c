"""``weights_manifest.json``: the named checkpoints colornet knows, parsed and validated, and the file hash.

Each entry pins a Hub repo to a full commit id and the sha256 of its weights file, so the bytes a name resolves to
can never change under a user. Parsing is strict: a malformed manifest is one ``ManifestError`` saying what to fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import constants
from .errors import ManifestError

PathLike = str | os.PathLike

_COMMIT_RE = re.compile(r"[0-9a-f]{40}")  # what huggingface_hub treats as an immutable commit (lower-case only)
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# the Hub's rule for "owner/name": letters, digits, '-', '_', '.'; no '--' or '..'; at most 96 characters per part
_REPO_PART_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_ENTRY_KEYS = ("repo_id", "revision", "filename", "config_filename", "sha256", "size", "config", "bundled")


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
    bundled: str | None  # path of a copy shipped in the package, relative to the colornet package (confined to it)
    description: str = ""
    license: str = ""

    @property
    def published(self) -> bool:
        return self.revision is not None

    @property
    def bundled_path(self) -> Path | None:
        """Where the bundled copy should be (it may be missing from a broken install). Confined to the package: a
        link inside it that leads out (``weights/x -> /etc``) is a ``ManifestError``, as ``..`` is when parsed."""
        if not self.bundled:
            return None
        package = Path(os.path.realpath(constants.PACKAGE_DIR))
        path = constants.PACKAGE_DIR / self.bundled
        if not Path(os.path.realpath(path)).is_relative_to(package):
            raise ManifestError(f"model '{self.name}': its bundled copy {path} leads outside the package ({package}) "
                                "through a link; reinstall colornet")
        return path

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any], source: Path) -> "ManifestEntry":
        if not isinstance(data, dict):
            raise ManifestError(f"{source}: model '{name}' must be an object of fields, got {type(data).__name__}.")
        missing = [k for k in _ENTRY_KEYS if k not in data]
        if missing:
            raise ManifestError(
                f"{source}: model '{name}' lacks {', '.join(missing)}; every entry needs {', '.join(_ENTRY_KEYS)}."
            )
        if not (isinstance(name, str) and NAME_RE.fullmatch(name)):
            raise ManifestError(
                f"{source}: model name {name!r} is not usable; use letters, digits, '.', '_' and '-' only."
            )
        _check_repo_id(data["repo_id"], name, source)
        for key, suffix in (("filename", ".safetensors"), ("config_filename", ".json")):
            _check_file_name(data[key], key, suffix, name, source)
        if data["bundled"]:  # confined like filename: a relative path inside the package, no '..', not absolute
            _check_file_name(data["bundled"], "bundled", ".safetensors", name, source, inside="the colornet package")
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


def _check_repo_id(repo_id: Any, name: str, source: Path) -> None:
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if len(parts) != 2 or not all(_REPO_PART_RE.fullmatch(p) and "--" not in p and ".." not in p for p in parts):
        raise ManifestError(
            f"{source}: model '{name}' has repo_id {repo_id!r}; expected 'owner/name' (letters, digits, '.', '_', "
            f"'-'; no '--' or '..'), as on the Hugging Face Hub."
        )


def _check_file_name(value: Any, key: str, suffix: str, name: str, source: Path, inside: str = "the repo") -> None:
    """A file inside the Hub repo (or the package): a relative path with no '..', no backslash, no empty part (so not
    absolute), ending in ``suffix``."""
    parts = value.split("/") if isinstance(value, str) else [""]
    if not (isinstance(value, str) and value.endswith(suffix) and "\\" not in value
            and all(p not in ("", ".", "..") for p in parts)):
        raise ManifestError(
            f"{source}: model '{name}' has {key} {value!r}; expected a relative file name inside {inside} ending in "
            f"{suffix}, without '..' (e.g. 'model{suffix}')."
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
