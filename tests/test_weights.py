"""colornet.weights against a local Hub look-alike driven by the real huggingface_hub client (nothing mocked)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

from colornet import constants
from colornet.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_checkpoint, save_checkpoint
from colornet.errors import ChecksumMismatchError, ManifestError, WeightsNotFoundError
from colornet.model import ColorNet, ColorNetConfig
from colornet.manifest import load_manifest, sha256_file
from colornet.weights import download_weights, list_weights, load_model, resolve_weights, verify_weights

from hub_server import HubServer, point_huggingface_hub_at, set_hub_settings

torch.set_num_threads(1)

NAME = "tiny-test"
REPO = "colornet-tests/tiny-test"
REPO_ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A real (tiny) ColorNet checkpoint folder: model.safetensors + config.json."""
    torch.manual_seed(0)
    config = ColorNetConfig(name="tiny", width=0.0625, global_size=32, global_dim=32, class_names=["a", "b"])
    folder = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(ColorNet(config), folder)
    return folder


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with HubServer() as server:
        point_huggingface_hub_at(monkeypatch, server.url, tmp_path / "hf")
        yield server


@pytest.fixture
def models_dir(monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", folder)
    return folder


@pytest.fixture
def manifest(monkeypatch, tmp_path, checkpoint, models_dir):
    """Write a one-entry manifest (overridable fields) and make it the active one, like COLORNET_MANIFEST would."""
    path = tmp_path / "weights_manifest.json"
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", path)
    weights = checkpoint / WEIGHTS_NAME

    def write(**fields) -> dict:
        entry = {
            "repo_id": REPO,
            "revision": None,
            "filename": WEIGHTS_NAME,
            "config_filename": CONFIG_NAME,
            "sha256": sha256_file(weights),
            "size": weights.stat().st_size,
            "config": "tiny",
            "bundled": None,
            "description": "test",
            "license": "mit",
            **fields,
        }
        path.write_text(json.dumps({"default": NAME, "models": {NAME: entry}}))
        return entry

    return write


@pytest.fixture
def bundle(monkeypatch, tmp_path, checkpoint):
    """A package folder (``constants.PACKAGE_DIR``) holding a copy of the checkpoint; returns its manifest path
    ("bundled" is relative to the package and confined to it)."""
    package = tmp_path / "package"
    (package / "weights").mkdir(parents=True)
    (package / "weights" / WEIGHTS_NAME).write_bytes((checkpoint / WEIGHTS_NAME).read_bytes())
    monkeypatch.setattr(constants, "PACKAGE_DIR", package)
    return f"weights/{WEIGHTS_NAME}"


def seed(hub: HubServer, checkpoint: Path, repo_id: str = REPO) -> str:
    """Put the checkpoint on the server (directly, not through the code under test); returns the commit."""
    files = {n: (checkpoint / n).read_bytes() for n in (WEIGHTS_NAME, CONFIG_NAME)}
    return hub.commit_files(repo_id, files, "upload")


def hub_cache_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".locks" not in p.parts)


# ----------------------------------------------------------------------------------------------------------- Hub


def test_first_download_then_cached_load_with_server_stopped(hub, manifest, checkpoint, tmp_path):
    manifest(revision=seed(hub, checkpoint))
    calls = []
    first = resolve_weights(NAME, progress=lambda done, total: calls.append((done, total)))
    assert first.source == "hub" and first.sha256 == sha256_file(checkpoint / WEIGHTS_NAME)
    assert first.path.is_relative_to(tmp_path / "hf" / "hub")
    assert (first.path.parent / CONFIG_NAME).read_bytes() == (checkpoint / CONFIG_NAME).read_bytes()
    size = (checkpoint / WEIGHTS_NAME).stat().st_size
    assert calls and calls[-1] == (size, size)

    hub.stop()
    seen = len(hub.requests)
    second = resolve_weights(NAME)
    assert (second.source, second.path) == ("hub_cache", first.path)
    model, doc = load_model(NAME)
    assert doc["weights"]["source"] == "hub_cache" and model.config.name == "tiny"
    assert len(hub.requests) == seen, "a cached pinned commit must not touch the network"


@pytest.mark.parametrize("reporter", ["tqdm_class", "watched_file"])
def test_download_progress_is_reported_while_the_file_arrives(hub, manifest, checkpoint, monkeypatch, reporter):
    """Progress comes from huggingface_hub's own bar (``tqdm_class``, 1.1 and later) or, for 0.x and 1.0, from
    the growing ``.incomplete`` file: both report mid-file values, in order, ending at the full size."""
    from colornet import hub as hub_module

    if reporter == "tqdm_class" and not hub_module._takes_tqdm_class():
        pytest.skip("this huggingface_hub's hf_hub_download has no tqdm_class")
    if reporter == "watched_file":
        monkeypatch.setattr(hub_module, "_takes_tqdm_class", lambda: False)  # what a 0.x client answers
    size = (checkpoint / WEIGHTS_NAME).stat().st_size
    hub.throttle_bps, hub.throttle_chunk = size / 1.5, size // 24  # ~1.5 s for the weights
    set_hub_settings(monkeypatch, {"DOWNLOAD_CHUNK_SIZE": size // 24})  # the client reads 10 MB at a time
    manifest(revision=seed(hub, checkpoint))
    calls = []
    found = resolve_weights(NAME, progress=lambda done, total: calls.append((done, total)))
    assert found.source == "hub" and found.sha256 == sha256_file(checkpoint / WEIGHTS_NAME)
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1] == (size, size)
    assert {total for _, total in calls} == {size}
    assert len({d for d in done if 0 < d < size}) >= 2, calls  # seen mid-file, not just start and end


def test_checksum_mismatch_is_rejected_and_evicted(hub, manifest, checkpoint, tmp_path):
    manifest(revision=seed(hub, checkpoint), sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="removed from the cache") as info:
        resolve_weights(NAME)
    assert "0" * 64 in str(info.value)
    weights = (checkpoint / WEIGHTS_NAME).read_bytes()
    cached = hub_cache_files(tmp_path / "hf" / "hub")
    assert [p for p in cached if p.read_bytes() == weights] == [], "the rejected file must not stay in the cache"


def test_corrupted_cache_file_is_evicted_then_downloaded_again(hub, manifest, checkpoint):
    manifest(revision=seed(hub, checkpoint))
    path = resolve_weights(NAME).path
    blob = path.resolve()
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")  # bit rot / tampering in the cache
    with pytest.raises(ChecksumMismatchError):
        resolve_weights(NAME)
    assert not blob.exists() and not path.exists()
    again = resolve_weights(NAME)
    assert again.source == "hub" and sha256_file(again.path) == sha256_file(checkpoint / WEIGHTS_NAME)


def test_eviction_never_deletes_outside_the_cache(hub, manifest, checkpoint, tmp_path):
    """Issue 10.1: a snapshot entry that links to a file outside the cache is unlinked; its target is left alone."""
    manifest(revision=seed(hub, checkpoint))
    pointer = resolve_weights(NAME).path
    outside = tmp_path / "my_precious.safetensors"
    outside.write_bytes(b"a user's own file, not the release")
    pointer.unlink()
    pointer.symlink_to(outside)
    with pytest.raises(ChecksumMismatchError, match="removed from the cache"):
        resolve_weights(NAME)
    assert outside.read_bytes() == b"a user's own file, not the release"
    assert not pointer.is_symlink() and not pointer.exists()
    assert resolve_weights(NAME).source == "hub"  # and the release comes back


def test_a_file_another_process_evicts_mid_check_is_fetched_again(hub, manifest, checkpoint, monkeypatch):
    """Issue 10.5: two processes evicting the same bad cached file: the one whose file vanished while it was hashing
    downloads it again instead of dying in a FileNotFoundError."""
    from colornet import hub as hub_module
    from colornet import weights as weights_module

    manifest(revision=seed(hub, checkpoint))
    pointer = resolve_weights(NAME).path
    real_sha = weights_module.sha256_file
    evicted = []

    def other_process_evicts_first(path):
        if not evicted:  # once: the other process removes the file just before this one hashes it
            evicted.append(hub_module.evict(pointer))
        return real_sha(path)

    monkeypatch.setattr(weights_module, "sha256_file", other_process_evicts_first)
    again = resolve_weights(NAME)
    assert again.source == "hub" and real_sha(again.path) == real_sha(checkpoint / WEIGHTS_NAME)
    assert evicted[0].startswith("It was removed")
    assert hub_module.evict(pointer.with_name("gone.safetensors")).startswith("It was removed")  # nothing to remove


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"repo_id": "not a repo id!"}, "repo_id"),
        ({"repo_id": "owner/na--me"}, "repo_id"),
        ({"filename": "../../etc/passwd.safetensors"}, "filename"),
        ({"filename": "model.bin"}, "filename"),
        ({"config_filename": "/abs/config.json"}, "config_filename"),
    ],
)
def test_malformed_repo_id_or_file_name_is_a_manifest_error(manifest, fields, match, capsys):
    """Issue 10.5: even `colornet weights list` (which asks the Hub cache about every entry) says what is wrong."""
    from colornet.cli import main as cli_main

    manifest(revision="a" * 40, **fields)
    with pytest.raises(ManifestError, match=match):
        list_weights()
    assert cli_main(["weights", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and "Traceback" not in err


def test_models_dir_naming_an_unknown_user_is_just_a_missing_folder(manifest, checkpoint, monkeypatch, bundle):
    """Issue 10.5: COLORNET_MODELS_DIR='~nouser/x' made Path.expanduser raise RuntimeError."""
    monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", Path("~nosuchuser_colornet/x"))
    manifest(bundled=bundle)
    assert resolve_weights().source == "bundled"
    manifest(bundled=None)
    with pytest.raises(WeightsNotFoundError, match="~nosuchuser_colornet/x \\(folder does not exist\\)"):
        resolve_weights()


def test_missing_repo_lists_every_place_looked(hub, manifest, models_dir):
    manifest(revision="a" * 40)  # repo does not exist on the server -> 404
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(NAME)
    message = str(info.value)
    assert str(models_dir) in message
    assert f"Hugging Face Hub {REPO}@aaaaaaaaaaaa" in message and "not found (HTTP 404)" in message
    assert "bundled copy: this checkpoint is not bundled" in message
    assert f"colornet weights download {NAME}" in message


def test_missing_pinned_commit_says_manifest_is_stale(hub, manifest, checkpoint):
    seed(hub, checkpoint)
    manifest(revision="b" * 40)
    with pytest.raises(WeightsNotFoundError, match="pinned commit b{40} is not in"):
        resolve_weights(NAME)


def test_server_down_fails_fast_and_falls_back_to_bundled(hub, manifest, checkpoint, bundle):
    hub.stop()
    manifest(revision="c" * 40)
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError, match="could not reach the Hub") as info:
        resolve_weights(NAME)
    assert time.monotonic() - start < 5, "an unreachable Hub must not cost huggingface_hub's retry loop"
    assert isinstance(info.value.__cause__, Exception)  # the connection error is chained

    manifest(revision="c" * 40, bundled=bundle)
    found = resolve_weights(NAME)
    assert found.source == "bundled" and found.sha256 is not None


def test_offline_with_nothing_cached(hub, manifest, monkeypatch):
    import huggingface_hub.constants as hf

    manifest(revision="d" * 40)
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(NAME)
    message = str(info.value)
    assert "offline (HF_HUB_OFFLINE=1) and not in the cache" in message
    assert f"colornet weights download {NAME}" in message
    assert hub.requests == []


def test_local_files_only_never_downloads(hub, manifest, checkpoint):
    manifest(revision=seed(hub, checkpoint))
    with pytest.raises(WeightsNotFoundError, match="local_files_only=True"):
        resolve_weights(NAME, local_files_only=True)
    assert hub.requests == []
    resolve_weights(NAME)  # download
    assert resolve_weights(NAME, local_files_only=True).source == "hub_cache"


def test_offline_uses_the_cache(hub, manifest, checkpoint, monkeypatch):
    import huggingface_hub.constants as hf

    manifest(revision=seed(hub, checkpoint))
    resolve_weights(NAME)
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    assert resolve_weights(NAME).source == "hub_cache"


def test_unpublished_entry_skips_the_hub(hub, manifest):
    manifest(revision=None)
    with pytest.raises(WeightsNotFoundError, match="not published yet") as info:
        resolve_weights(NAME)
    assert "not published yet; put the file at" in str(info.value)
    assert hub.requests == []


def test_repo_id_is_accepted_as_a_name(hub, manifest, checkpoint):
    manifest(revision=seed(hub, checkpoint))
    assert resolve_weights(REPO).name == NAME


# ------------------------------------------------------------------------------------------------- local sources


def test_explicit_path_file_and_folder(manifest, checkpoint, tmp_path):
    manifest()
    as_file = resolve_weights(checkpoint / WEIGHTS_NAME)
    as_folder = resolve_weights(str(checkpoint))
    assert as_file.source == as_folder.source == "path"
    assert as_file.path == as_folder.path == checkpoint / WEIGHTS_NAME and as_file.sha256 is None
    model, doc = load_model(checkpoint)
    assert doc["weights"]["source"] == "path"

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "other.safetensors").write_bytes(b"x")
    with pytest.raises(WeightsNotFoundError, match="has no model.safetensors .*other.safetensors"):
        resolve_weights(empty)
    with pytest.raises(WeightsNotFoundError, match="No such checkpoint file"):
        resolve_weights(tmp_path / "missing.safetensors")


def test_models_dir_layouts_and_precedence(hub, manifest, checkpoint, models_dir, tmp_path):
    manifest(revision=seed(hub, checkpoint))
    requests_before = len(hub.requests)
    (models_dir / NAME).mkdir(parents=True)
    nested = models_dir / NAME / WEIGHTS_NAME
    nested.write_bytes((checkpoint / WEIGHTS_NAME).read_bytes())
    found = resolve_weights(NAME)
    assert (found.source, found.path, found.sha256) == ("models_dir", nested, None)

    comfy = tmp_path / "ComfyUI" / "models" / "colornet"  # a folder passed by the caller is searched first
    comfy.mkdir(parents=True)
    flat = comfy / f"{NAME}.safetensors"
    flat.write_bytes(nested.read_bytes())
    assert resolve_weights(NAME, models_dir=comfy).path == flat
    assert resolve_weights(NAME, models_dir=[tmp_path / "nowhere", comfy]).path == flat
    assert len(hub.requests) == requests_before, "a local file must win before any Hub call"

    # a name the manifest does not know is still found in a models folder (a user's own checkpoint)
    (comfy / "my-finetune.safetensors").write_bytes(nested.read_bytes())
    own = resolve_weights("my-finetune", models_dir=comfy)
    assert (own.source, own.name) == ("models_dir", "my-finetune")
    rows = {row.name: row for row in list_weights(models_dir=comfy)}
    assert rows["my-finetune"].entry is None and rows["my-finetune"].local == comfy / "my-finetune.safetensors"
    assert rows[NAME].default and rows[NAME].local == flat

    with pytest.raises(WeightsNotFoundError, match="is not in the manifest") as info:
        resolve_weights("unknown-name", models_dir=comfy)
    assert str(comfy) in str(info.value) and str(models_dir) in str(info.value)


def test_bundled_fallback_is_verified(manifest, checkpoint, tmp_path, bundle):
    manifest(bundled=bundle)
    found = resolve_weights()
    assert (found.source, found.name) == ("bundled", NAME)

    manifest(bundled=bundle, sha256="1" * 64)
    with pytest.raises(ChecksumMismatchError, match="It was not used"):
        resolve_weights()
    assert (constants.PACKAGE_DIR / bundle).exists(), "a bundled file is never deleted"

    manifest(bundled="weights/gone.safetensors")
    with pytest.raises(WeightsNotFoundError, match="gone.safetensors is missing"):
        resolve_weights()


# ---------------------------------------------------------------------------------------------------- CLI helpers


def test_download_and_verify(hub, manifest, checkpoint, models_dir):
    manifest(revision=seed(hub, checkpoint))
    nothing = verify_weights(NAME)
    assert not nothing and len(nothing) == 0 and "no local copy to verify" in str(nothing)
    assert download_weights(NAME).source == "hub"
    assert download_weights(NAME).source == "hub_cache"
    assert download_weights(NAME, force=True).source == "hub"

    models_dir.mkdir(parents=True)
    (models_dir / f"{NAME}.safetensors").write_bytes(b"not the release")
    report = verify_weights(NAME)
    results = {r.source: r for r in report}
    assert results["hub_cache"].ok and not results["models_dir"].ok
    assert not report and "MISMATCH" in str(report)  # falsy: the CLI's exit status
    (models_dir / f"{NAME}.safetensors").unlink()
    assert verify_weights() and verify_weights().ok and "ok" in str(verify_weights())
    row = list_weights()[0]
    assert row.cached == results["hub_cache"].path and "cached" in str(row) and NAME in str(row)

    resolved = download_weights(NAME)
    assert str(resolved) == os.fspath(resolved) == str(resolved.path)  # prints / opens as its path

    with pytest.raises(ManifestError, match="Unknown checkpoint 'nope'"):
        download_weights("nope")
    manifest(revision=None)
    with pytest.raises(WeightsNotFoundError, match="not published on the Hub yet"):
        download_weights(NAME)


def test_malformed_manifest_is_reported(manifest, tmp_path):
    manifest(revision="main")
    with pytest.raises(ManifestError, match="40-hex"):
        resolve_weights()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ManifestError, match="not JSON"):
        load_manifest(bad)


# ------------------------------------------------------------------------------------------ the shipped manifest


def test_shipped_manifest_is_sane():
    """Every entry resolves somewhere real; the default works offline from its bundled copy."""
    manifest = load_manifest(constants.PACKAGE_MANIFEST)
    root = REPO_ROOT / constants.MANIFEST_NAME
    if root.exists():  # a git checkout: the canonical file and the package copy must agree
        assert root.read_bytes() == constants.PACKAGE_MANIFEST.read_bytes(), (
            "weights_manifest.json differs from colornet/weights_manifest.json: "
            "run `python -c 'from training.publish import sync_manifest_copy; sync_manifest_copy()'`"
        )
    for entry in manifest.models.values():
        assert entry.filename == WEIGHTS_NAME and entry.config in ("compact", "paper")
        assert entry.published or entry.bundled, f"{entry.name} is neither published nor bundled"
        if entry.bundled:
            bundled = entry.bundled_path
            assert bundled.is_file(), f"{bundled} missing"
            assert not Path(entry.bundled).is_absolute()
            assert (bundled.stat().st_size, sha256_file(bundled)) == (entry.size, entry.sha256)
    default = manifest.get()
    assert default.bundled, "the default must work offline, so it must be bundled"
    model, doc = load_checkpoint(default.bundled_path)
    assert doc["architecture"]["name"] == default.config
    assert model.config.n_classes > 0 and model.classifier.fc2.out_features == model.config.n_classes  # scenes


def test_shipped_default_resolves_offline(monkeypatch, models_dir):
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", None)
    found = resolve_weights(local_files_only=True)
    assert found.source in ("bundled", "hub_cache") and found.sha256 == load_manifest().get().sha256
