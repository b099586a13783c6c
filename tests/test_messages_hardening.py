"""Issue 19 items 7 and 15: a worker that dies ends the run with a message; messages say what a thing is.

Each test failed before the issue: ``colornet colorize`` hung for ever when the reader thread died; ``--weights
/dev/zero`` said "no such file"; a Hub cache that cannot be written was "could not reach the Hub"; the manifest's
``bundled`` path could point anywhere (``../..``, absolute).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import colornet.batchrun as batchrun
from colornet import constants
from colornet.checkpoint import CONFIG_NAME, WEIGHTS_NAME, save_checkpoint
from colornet.cli import main
from colornet.errors import ManifestError, WeightsNotFoundError
from colornet.manifest import load_manifest, sha256_file
from colornet.model import ColorNet, ColorNetConfig
from colornet.weights import resolve_weights

from hub_server import HubServer, point_huggingface_hub_at


def test_a_reader_thread_that_dies_ends_the_run_with_a_message(tmp_path, monkeypatch, capsys):
    for i in range(3):
        Image.fromarray(np.full((24, 32, 3), 60 * i, np.uint8)).save(tmp_path / f"p{i}.png")

    def broken(*args, **kwargs):  # an exception no loader wraps, as a bug would raise
        raise KeyError("simulated reader bug")

    monkeypatch.setattr(batchrun, "load_image", broken)
    result: dict = {}
    run = threading.Thread(target=lambda: result.setdefault("code", main(
        ["colorize", str(tmp_path / "p0.png"), str(tmp_path / "p1.png"), "-o", str(tmp_path / "out"), "-q"])),
        daemon=True)
    run.start()
    run.join(timeout=120)
    assert not run.is_alive(), "colornet colorize hangs when its reader thread dies"
    err = capsys.readouterr().err
    assert result["code"] == 1 and "reader" in err and "KeyError" in err and "Traceback" not in err, err


def test_a_device_as_weights_says_what_it_is():
    with pytest.raises(WeightsNotFoundError, match="not a regular file or folder"):
        resolve_weights("/dev/zero")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = ColorNetConfig(name="tiny", width=0.0625, global_size=32, global_dim=32, class_names=["a", "b"])
    folder = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(ColorNet(config), folder)
    return folder


def _manifest(path: Path, checkpoint: Path, **fields) -> Path:
    weights = checkpoint / WEIGHTS_NAME
    entry = {"repo_id": "colornet-tests/tiny", "revision": None, "filename": WEIGHTS_NAME,
             "config_filename": CONFIG_NAME, "sha256": sha256_file(weights), "size": weights.stat().st_size,
             "config": "tiny", "bundled": None, **fields}
    path.write_text(json.dumps({"default": "tiny", "models": {"tiny": entry}}))
    return path


def test_a_hub_cache_that_cannot_be_written_is_not_called_unreachable(tmp_path, monkeypatch, checkpoint):
    with HubServer() as server:
        point_huggingface_hub_at(monkeypatch, server.url, tmp_path / "hf")
        files = {n: (checkpoint / n).read_bytes() for n in (WEIGHTS_NAME, CONFIG_NAME)}
        commit = server.commit_files("colornet-tests/tiny", files, "upload")
        from huggingface_hub import constants as hf

        (tmp_path / "not-a-folder").write_text("x")  # the cache path runs through a file: nothing can be written
        monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "not-a-folder" / "hub"))
        monkeypatch.setattr(constants, "COLORNET_MANIFEST", _manifest(tmp_path / "m.json", checkpoint,
                                                                       revision=commit))
        monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", tmp_path / "models")
        with pytest.raises(WeightsNotFoundError) as info:
            resolve_weights("tiny")
    text = str(info.value)
    assert "cannot be written" in text and "HF_HUB_CACHE" in text and "could not reach" not in text, text


@pytest.mark.parametrize("bundled", ["../../etc/x.safetensors", "/tmp/x.safetensors", "weights/../../x.safetensors"])
def test_the_bundled_path_is_confined_like_filename(tmp_path, checkpoint, bundled):
    with pytest.raises(ManifestError, match="bundled"):
        load_manifest(_manifest(tmp_path / "m.json", checkpoint, bundled=bundled))


def test_a_bundled_link_leading_out_of_the_package_is_refused(tmp_path, monkeypatch, checkpoint):
    package = tmp_path / "package"
    (package / "weights").mkdir(parents=True)
    (package / "weights" / "x.safetensors").symlink_to(checkpoint / WEIGHTS_NAME)
    monkeypatch.setattr(constants, "PACKAGE_DIR", package)
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", _manifest(tmp_path / "m.json", checkpoint,
                                                                   bundled="weights/x.safetensors"))
    monkeypatch.setattr(constants, "COLORNET_MODELS_DIR", tmp_path / "models")
    with pytest.raises(ManifestError, match="outside the package"):
        resolve_weights("tiny")
