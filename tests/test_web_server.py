"""``colornet web``'s server: serves the page, the model and onnxruntime-web's files only, with the headers that
multi-threaded WASM needs; and the npm dependency is declared, locked and never vendored."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from colornet.web import assets
from colornet.web.server import PageServer


@pytest.fixture()
def server(tmp_path):
    model, ort = tmp_path / "model", tmp_path / "ort"
    model.mkdir()
    ort.mkdir()
    (model / "model.json").write_text('{"format": "colornet-onnx"}')
    (ort / "ort-wasm-simd-threaded.wasm").write_bytes(b"\0asm")
    (tmp_path / "secret.txt").write_text("not for the browser")
    with PageServer(model, ort) as srv:
        yield srv


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_serves_page_model_and_runtime_with_isolation_headers(server):
    status, headers, body = _get(server.url)
    assert status == 200 and b"<title>ColorNet" in body and headers["Content-Type"].startswith("text/html")
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"  # SharedArrayBuffer: WASM threads
    for name in ("app.js", "pipeline.js"):
        assert _get(server.url + name)[1]["Content-Type"] == "text/javascript"
    assert json.loads(_get(server.url + "model/model.json")[2]) == {"format": "colornet-onnx"}
    assert _get(server.url + "ort/ort-wasm-simd-threaded.wasm")[1]["Content-Type"] == "application/wasm"


@pytest.mark.parametrize("path", ["secret.txt", "model/../secret.txt", "model/%2e%2e/secret.txt", "ort/",
                                  "package.json", "node_modules/onnxruntime-web/package.json", "model/nope.onnx"])
def test_nothing_else_is_served(server, path):
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(server.url + path)
    assert err.value.code == 404


def test_uploads_are_refused(server):
    request = urllib.request.Request(server.url, data=b"photo bytes", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 501


def test_onnxruntime_web_is_a_locked_npm_dependency_not_vendored():
    package = json.loads((assets.STATIC / "package.json").read_text())
    lock = json.loads((assets.STATIC / "package-lock.json").read_text())
    version = package["dependencies"]["onnxruntime-web"]
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == version
    tracked = [p.name for p in assets.STATIC.iterdir() if p.is_file()]
    assert not any(name.startswith("ort") for name in tracked)


def test_missing_npm_is_a_message_that_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("COLORNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    with pytest.raises(assets.WebSetupError, match="npm is not installed.*Install Node.js"):
        assets.install_ort()
