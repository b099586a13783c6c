"""training.publish: upload to a local Hub look-alike with the real huggingface_hub client, pin the commit in a
temporary manifest, then download it back through colornet.weights and load it (round trip, nothing mocked)."""

from __future__ import annotations

import json
import re
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch

from colornet import constants
from colornet.checkpoint import CONFIG_NAME, WEIGHTS_NAME, save_checkpoint
from colornet.errors import CheckpointError, ManifestError
from colornet.model import ColorNet, ColorNetConfig
from colornet.manifest import load_manifest, sha256_file
from colornet.weights import load_model, resolve_weights
from training.publish import PUBLISH_HUB_MIN, PublishError, main, publish, update_manifest_entry

from hub_server import HubServer, point_huggingface_hub_at

torch.set_num_threads(1)

TOKEN = "hf_test_write_token"
REPO = "colornet-tests/tiny-published"
COMMIT = re.compile(r"[0-9a-f]{40}")


@pytest.fixture(scope="module")
def model() -> ColorNet:
    torch.manual_seed(1)
    return ColorNet(ColorNetConfig(name="tiny", width=0.0625, global_size=32, global_dim=32, class_names=["x", "y"]))


@pytest.fixture
def folder(tmp_path, model) -> Path:
    """A training output folder: the checkpoint plus a file that must *not* be published."""
    out = tmp_path / "run"
    save_checkpoint(model, out, training={"iters": 10})
    (out / "optimizer_state.pt").write_bytes(b"private training state")
    return out


def _client_version() -> tuple[int, int]:
    import huggingface_hub

    return tuple(int(p) for p in huggingface_hub.__version__.split(".")[:2])


@pytest.fixture
def hub(monkeypatch, tmp_path):
    if _client_version() < PUBLISH_HUB_MIN:  # the host check's oldest-versions run has a download-only client
        pytest.skip(f"publishing needs huggingface-hub>={PUBLISH_HUB_MIN} (the train extra)")
    with HubServer(token=TOKEN) as server:
        point_huggingface_hub_at(monkeypatch, server.url, tmp_path / "hf", token=TOKEN)
        monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", tmp_path / "models")
        yield server


@pytest.fixture
def manifest(tmp_path) -> Path:
    """A temporary copy of the shipped manifest: tests never write the real one."""
    copy = tmp_path / "weights_manifest.json"
    shutil.copyfile(constants.PACKAGE_MANIFEST, copy)
    return copy


def test_round_trip_publish_pin_download_load(hub, folder, manifest, model, monkeypatch):
    shipped = constants.PACKAGE_MANIFEST.read_bytes()
    revision = publish(folder, REPO, name="tiny-published", update_manifest=manifest)

    repo = hub.repos[REPO]
    assert COMMIT.fullmatch(revision) and repo.branches["main"] == revision
    files = repo.commits[revision]
    assert set(files) == {".gitattributes", WEIGHTS_NAME, CONFIG_NAME, "README.md"}, "only the checkpoint + card"
    assert files[WEIGHTS_NAME] == (folder / WEIGHTS_NAME).read_bytes()
    card = files["README.md"].decode()
    # one card, the export's: the weights' licence (research-only data unless told otherwise), guided upsampling
    assert card.startswith("---\nlicense: other\nlicense_name: research-only") and sha256_file(folder / WEIGHTS_NAME) in card
    assert 'from_pretrained("tiny-published")' in card and "guided" in card and "bilinear" not in card

    entry = json.loads(manifest.read_text())["models"]["tiny-published"]
    assert entry["repo_id"] == REPO and entry["revision"] == revision and entry["config"] == "tiny"
    weights = folder / WEIGHTS_NAME
    assert (entry["sha256"], entry["size"]) == (sha256_file(weights), weights.stat().st_size)
    assert entry["bundled"] is None
    assert load_manifest(manifest).default == load_manifest(constants.PACKAGE_MANIFEST).default  # untouched
    assert constants.PACKAGE_MANIFEST.read_bytes() == shipped, "a temp manifest must not touch the package copy"

    monkeypatch.setattr(constants, "COLORNET_MANIFEST", manifest)
    loaded, doc = load_model("tiny-published")
    assert doc["weights"]["source"] == "hub" and doc["weights"]["sha256"] == entry["sha256"]
    assert doc["training"] == {"iters": 10}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_republishing_unchanged_files_keeps_the_commit(hub, folder):
    first = publish(folder, REPO)
    assert publish(folder, REPO) == first
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# my own card\n")
    second = publish(folder, REPO, commit_message="custom card")
    assert second != first and hub.repos[REPO].commits[second]["README.md"].startswith(b"---\nlicense: mit\n---\n# my")


def test_cli_prints_the_revision(hub, folder, manifest, capsys, monkeypatch):
    argv = [str(folder), "--repo-id", REPO, "--name", "cli-model", "--update-manifest", str(manifest), "--private"]
    code = main(argv)
    out = capsys.readouterr().out.strip()
    assert code == 0 and COMMIT.fullmatch(out) and hub.repos[REPO].private
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", manifest)
    assert resolve_weights("cli-model").source == "hub"


def test_console_script_is_installed():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("colornet-publish") == "training.publish:main"


def test_missing_token_is_an_actionable_error(hub, folder, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(PublishError, match="HTTP 401.*hf auth login.*HF_TOKEN"):
        publish(folder, REPO)
    assert REPO not in hub.repos


def test_hub_down_is_an_actionable_error(hub, folder, capsys):
    hub.stop()
    # the connection error's class: httpx's ConnectError (huggingface_hub >= 1.0) or requests' ConnectionError (0.x)
    with pytest.raises(PublishError, match="Could not upload .*Connect(ion)?Error"):
        publish(folder, REPO)
    assert main([str(folder), "--repo-id", REPO]) == 1
    assert "colornet-publish: error: Could not upload" in capsys.readouterr().err


def test_broken_checkpoint_is_not_uploaded(hub, folder):
    (folder / WEIGHTS_NAME).write_bytes(b"truncated")
    with pytest.raises(CheckpointError):
        publish(folder, REPO)
    (folder / CONFIG_NAME).unlink()
    with pytest.raises(CheckpointError, match="has no config.json"):
        publish(folder, REPO)
    assert hub.requests == []


def test_update_manifest_entry_bundles_and_validates(folder, manifest, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "PACKAGE_DIR", tmp_path / "package")  # bundled copies live inside the package
    with pytest.raises(ManifestError, match="inside the colornet package"):
        update_manifest_entry("local-only", "me/local-only", None, folder / WEIGHTS_NAME,
                              bundled=tmp_path / "elsewhere" / WEIGHTS_NAME, manifest_path=manifest)
    bundle = tmp_path / "package" / "bundle" / WEIGHTS_NAME
    entry = update_manifest_entry(
        "local-only", "me/local-only", None, folder / WEIGHTS_NAME, bundled=f"bundle/{WEIGHTS_NAME}",
        manifest_path=manifest
    )
    assert entry["bundled"] == f"bundle/{WEIGHTS_NAME}" and bundle.read_bytes() == (folder / WEIGHTS_NAME).read_bytes()
    assert entry["license"] == "other", "a new entry's licence is the card's default (research-only data), not mit"
    assert (bundle.parent / CONFIG_NAME).is_file()
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", manifest)
    assert resolve_weights("local-only").source == "bundled"

    # bundled=None keeps bundling and refreshes the copy, so the entry's sha256 always describes the bundled file
    torch.manual_seed(2)
    retrained = tmp_path / "retrained"
    save_checkpoint(ColorNet(ColorNetConfig(name="tiny", width=0.0625, global_size=32, global_dim=32)), retrained)
    entry = update_manifest_entry("local-only", "me/local-only", None, retrained / WEIGHTS_NAME, manifest_path=manifest)
    assert sha256_file(bundle) == entry["sha256"] == sha256_file(retrained / WEIGHTS_NAME)

    before = manifest.read_bytes()
    with pytest.raises(ManifestError, match="40-hex"):
        update_manifest_entry("local-only", "me/local-only", "main", folder / WEIGHTS_NAME, manifest_path=manifest)
    assert manifest.read_bytes() == before, "an invalid update must not write anything"


def test_a_client_too_old_to_publish_is_refused_with_what_to_install(tmp_path, folder, monkeypatch):
    import huggingface_hub

    if _client_version() >= PUBLISH_HUB_MIN:  # what a download-only 0.19-0.23 client reports
        monkeypatch.setattr(huggingface_hub, "__version__", "0.23.5")
    with HubServer(token=TOKEN) as server:
        point_huggingface_hub_at(monkeypatch, server.url, tmp_path / "hf", token=TOKEN)
        with pytest.raises(PublishError, match=r"needs huggingface-hub>=0\.24; this environment has 0\.\d+.*colornet\[train\]"):
            publish(folder, REPO)
        assert server.requests == []  # refused before anything is sent
