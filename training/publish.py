"""Publish a trained checkpoint to the Hugging Face Hub and pin the new commit in ``weights_manifest.json``.

``colornet-publish runs/compact --repo-id colornet/colornet-compact-places39 --update-manifest`` uploads exactly
``model.safetensors``, ``config.json`` and a ``README.md`` model card (generated unless the folder has one) in one
commit -- never other files a training folder may hold -- and prints the commit sha. The manifest is pinned to that
sha, not to ``main``: a later push to the repo cannot change what existing installs download.

The canonical manifest is ``weights_manifest.json`` at the repository root; the package ships an identical copy
(``colornet/weights_manifest.json``, a copy rather than a symlink so Windows clones and wheels work).
``update_manifest_entry`` writes both; a test fails if they ever differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from colornet import constants
from colornet.atomic import atomic_write
from colornet.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_checkpoint, read_document
from colornet.errors import ColorNetError, ManifestError
from colornet.manifest import ManifestEntry, load_manifest, sha256_file
from training.export import CARD_NAME, DEFAULT_LICENSE, model_card

REPO_ROOT = Path(__file__).resolve().parents[1]
ROOT_MANIFEST = REPO_ROOT / constants.MANIFEST_NAME


class PublishError(ColorNetError, RuntimeError):
    """Uploading to the Hub failed; the message says why and what to do."""


# ------------------------------------------------------------------------------------------------------- manifest


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic write (temp file + rename) so an interrupted update never leaves half a manifest."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8"))


def sync_manifest_copy() -> Path:
    """Copy the canonical root manifest over the package's copy (after a hand edit of the root file)."""
    load_manifest(ROOT_MANIFEST)  # refuse to ship a broken manifest
    shutil.copyfile(ROOT_MANIFEST, constants.PACKAGE_MANIFEST)
    return constants.PACKAGE_MANIFEST


def _bundle(weights: Path, name: str, bundled: bool | str | os.PathLike | None, current: str | None) -> str | None:
    """Decide the entry's ``bundled`` field and copy the checkpoint there. See ``update_manifest_entry``."""
    if bundled is False or (bundled is None and not current):
        return None
    if bundled is None or bundled is True:
        target = constants.PACKAGE_DIR / (current or f"weights/{name}/{WEIGHTS_NAME}")
    else:
        target = constants.PACKAGE_DIR / Path(bundled)
    package = Path(os.path.realpath(constants.PACKAGE_DIR))
    if not Path(os.path.realpath(target)).is_relative_to(package):  # the manifest confines bundled copies to it
        raise ManifestError(f"bundled={bundled!s}: a bundled copy lives inside the colornet package ({package}); "
                            f"give a path relative to it, e.g. weights/{name}/{WEIGHTS_NAME}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.samefile(weights)):
        shutil.copyfile(weights, target)
        config = weights.parent / CONFIG_NAME
        if config.is_file():
            shutil.copyfile(config, target.parent / CONFIG_NAME)
    return Path(os.path.realpath(target)).relative_to(package).as_posix()


def update_manifest_entry(
    name: str,
    repo_id: str,
    revision: str | None,
    weights_path: str | os.PathLike,
    bundled: bool | str | os.PathLike | None = None,
    manifest_path: str | os.PathLike | None = None,
    *,
    description: str | None = None,
    license: str | None = None,
    make_default: bool = False,
) -> dict[str, Any]:
    """Write ``repo_id``, ``revision``, ``sha256``, ``size`` and ``config`` of ``weights_path`` into the manifest entry
    ``name`` (created if new). Returns the entry.

    ``revision`` is the pinned commit (None while unpublished). ``bundled``: None keeps the entry's setting and, if
    it has a bundled copy, *refreshes that copy* with ``weights_path`` (the entry's sha256 must describe it); True
    bundles at ``colornet/weights/<name>/model.safetensors``; a path bundles there (relative to the colornet package,
    or absolute); False stops bundling (the old file is left for you to ``git rm``). ``config.json`` beside the
    weights is copied along. ``manifest_path`` defaults to the repository's root manifest; writing that one also
    rewrites the package copy.
    """
    weights = Path(weights_path)
    target = Path(manifest_path) if manifest_path is not None else ROOT_MANIFEST
    if manifest_path is None and not ROOT_MANIFEST.is_file():
        raise ManifestError(
            f"No repository manifest at {ROOT_MANIFEST} (not a git checkout?). Pass manifest_path= explicitly."
        )
    if target.is_file():
        load_manifest(target)  # a malformed manifest is reported (ManifestError), not silently rewritten
        data = json.loads(target.read_text(encoding="utf-8"))
    else:
        data = {"default": name, "models": {}}
    architecture = read_document(weights).get("architecture", {})  # also proves the file is a readable checkpoint
    old = data["models"].get(name, {})
    entry = {
        "repo_id": repo_id,
        "revision": revision,
        "filename": WEIGHTS_NAME,
        "config_filename": CONFIG_NAME,
        "sha256": sha256_file(weights),
        "size": weights.stat().st_size,
        "config": architecture.get("name", old.get("config", "")),
        "bundled": old.get("bundled"),
        "description": description if description is not None else old.get("description", ""),
        "license": license if license is not None else old.get("license", DEFAULT_LICENSE),
    }
    ManifestEntry.from_dict(name, entry, target)  # validate before touching any file
    entry["bundled"] = _bundle(weights, name, bundled, old.get("bundled"))
    data["models"][name] = entry
    if make_default or data.get("default") not in data["models"]:
        data["default"] = name
    _write_json(target, data)
    if target.resolve() == ROOT_MANIFEST.resolve():
        _write_json(constants.PACKAGE_MANIFEST, data)
    return entry


# ---------------------------------------------------------------------------------------------------------- upload


def _hub_error(err: Exception, repo_id: str, endpoint: str) -> PublishError:
    from huggingface_hub.utils import HfHubHTTPError

    if isinstance(err, HfHubHTTPError):
        status = getattr(err.response, "status_code", None)
        if status in (401, 403):
            return PublishError(
                f"Not allowed to write to {repo_id} on {endpoint} (HTTP {status}). Log in with `hf auth login` or set "
                f"HF_TOKEN to a token with write access to that namespace."
            )
        return PublishError(f"The Hub at {endpoint} refused the upload to {repo_id} (HTTP {status}: {err}).")
    return PublishError(
        f"Could not upload to {repo_id} on {endpoint} ({type(err).__name__}: {err}). Check the network and HF_ENDPOINT."
    )


PUBLISH_HUB_MIN = (0, 24)
"""The oldest huggingface_hub colornet-publish works with (the ``train`` extra asks for it): older clients commit
unchanged files again, so re-publishing would pin a new commit, and report a missing token without the HTTP 401."""


def _require_publishing_client() -> None:
    import huggingface_hub

    found = huggingface_hub.__version__
    parts = [int(p) if p.isdigit() else 0 for p in found.split(".")[:2]]
    if tuple(parts) < PUBLISH_HUB_MIN:
        wanted = ".".join(map(str, PUBLISH_HUB_MIN))
        raise PublishError(
            f"Publishing needs huggingface-hub>={wanted}; this environment has {found} (enough for downloading). "
            f"Install the training extra: pip install 'colornet[train]' (or 'huggingface-hub>={wanted}')."
        )


def publish(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    name: str | None = None,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    update_manifest: bool | str | os.PathLike = False,
    endpoint: str | None = None,
) -> str:
    """Upload ``folder``'s checkpoint to ``repo_id`` (created if needed) in one commit and return the commit sha.

    Args:
        folder: holds ``model.safetensors`` and ``config.json`` (as written by ``save_checkpoint``); its
            ``README.md`` is used if present, else a model card is generated.
        name: the manifest name (default: the repo's name part).
        token: a write token; default HF_TOKEN or the saved ``hf auth login`` token.
        revision: the branch to commit to (default ``main``).
        update_manifest: True pins the commit in the repository's manifest (and its package copy); a path updates
            that manifest file instead.
        endpoint: the Hub URL (default ``HF_ENDPOINT`` / https://huggingface.co).

    Raises:
        CheckpointError: the folder's checkpoint is missing or does not load strictly (nothing is uploaded).
        PublishError: the Hub refused or could not be reached.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    _require_publishing_client()
    folder = Path(folder)
    weights = folder / WEIGHTS_NAME
    if not (folder / CONFIG_NAME).is_file():
        from colornet.errors import CheckpointError

        raise CheckpointError(f"{folder} has no {CONFIG_NAME}: publish the folder written by save_checkpoint.")
    _, document = load_checkpoint(weights)  # refuse to publish a checkpoint that would not load
    name = name or repo_id.split("/")[-1]
    sha256 = sha256_file(weights)
    card = folder / CARD_NAME
    if card.is_file():
        card_bytes = card.read_bytes()
    else:
        card_bytes = model_card(document, name=name, repo_id=repo_id, sha256=sha256).encode()  # the export card

    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.create_commit(
            repo_id,
            [
                CommitOperationAdd(WEIGHTS_NAME, str(weights)),
                CommitOperationAdd(CONFIG_NAME, str(folder / CONFIG_NAME)),
                CommitOperationAdd(CARD_NAME, card_bytes),
            ],
            commit_message=commit_message or f"Upload {name} ({document.get('architecture', {}).get('name', '?')})",
            revision=revision,
        )
    except Exception as err:  # network and HTTP failures alike get one actionable message; the cause is chained
        raise _hub_error(err, repo_id, api.endpoint) from err
    commit = info.oid
    if update_manifest is not False:
        manifest = None if update_manifest is True else update_manifest
        update_manifest_entry(name, repo_id, commit, weights, manifest_path=manifest)
    return commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="colornet-publish", description=publish.__doc__.splitlines()[0])
    parser.add_argument("folder", help="checkpoint folder with model.safetensors + config.json")
    parser.add_argument("--repo-id", required=True, help="OWNER/NAME on the Hub")
    parser.add_argument("--name", help="manifest name (default: NAME of the repo id)")
    parser.add_argument(
        "--update-manifest",
        nargs="?",
        const=True,
        default=False,
        metavar="PATH",
        help="pin the new commit in weights_manifest.json (the repository's, or PATH)",
    )
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", help="branch to commit to (default main)")
    parser.add_argument("--message", help="commit message")
    args = parser.parse_args(argv)
    try:
        commit = publish(
            args.folder,
            args.repo_id,
            name=args.name,
            private=args.private,
            revision=args.revision,
            commit_message=args.message,
            update_manifest=args.update_manifest,
        )
    except ColorNetError as err:
        print(f"colornet-publish: error: {err}", file=sys.stderr)
        return 1
    print(commit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
