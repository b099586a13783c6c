"""What the page needs besides itself: the exported model and onnxruntime-web, both kept in a user cache.

* The model: ``colornet.onnx`` exports a checkpoint once per sha256 into ``<cache>/onnx/<sha256[:16]>/``.
* onnxruntime-web is third-party code, so it is an npm dependency (``static/package.json`` + ``package-lock.json``),
  never copied into the repository. ``ort_dist`` finds an installed copy (``COLORNET_WEB_NODE_MODULES``, then a
  ``npm ci`` beside the page in a source checkout, then the user cache) and ``install_ort`` runs ``npm ci`` into
  the user cache when there is none -- the one network step, to the npm registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import WebSetupError

STATIC = Path(__file__).with_name("static")
ORT_PACKAGE = "onnxruntime-web"


def cache_root() -> Path:
    """``$COLORNET_CACHE``, else ``$XDG_CACHE_HOME/colornet``, else ``~/.cache/colornet``."""
    if os.environ.get("COLORNET_CACHE"):
        return Path(os.environ["COLORNET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "colornet"


def _lock_digest() -> str:
    return hashlib.sha256((STATIC / "package-lock.json").read_bytes()).hexdigest()[:16]


def _npm_prefix() -> Path:
    return cache_root() / "web" / _lock_digest()


def _dist(node_modules: Path) -> Path | None:
    dist = node_modules / ORT_PACKAGE / "dist"
    return dist if (dist / "ort.webgpu.min.mjs").is_file() else None


def ort_dist() -> Path | None:
    """onnxruntime-web's ``dist`` folder if installed anywhere we look, else None."""
    candidates = []
    if os.environ.get("COLORNET_WEB_NODE_MODULES"):
        candidates.append(Path(os.environ["COLORNET_WEB_NODE_MODULES"]))
    candidates += [STATIC / "node_modules", _npm_prefix() / "node_modules"]
    for node_modules in candidates:
        found = _dist(node_modules)
        if found is not None:
            return found
    return None


def required_version() -> str:
    return json.loads((STATIC / "package.json").read_text())["dependencies"][ORT_PACKAGE]


def install_ort(echo=print) -> Path:
    """``npm ci`` the page's locked dependencies into the user cache; returns onnxruntime-web's ``dist``."""
    npm = shutil.which("npm")
    if npm is None:
        raise WebSetupError(
            f"The page needs {ORT_PACKAGE} {required_version()} from npm, and npm is not installed. Install Node.js "
            f"(it brings npm; e.g. apt-get install npm), then run colornet web again; or run `npm ci` in a folder "
            f"holding {STATIC / 'package.json'} and package-lock.json and point COLORNET_WEB_NODE_MODULES at its "
            f"node_modules."
        )
    prefix = _npm_prefix()
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(STATIC / name, prefix / name)
    echo(f"Installing {ORT_PACKAGE} {required_version()} with npm ci into {prefix} (once)...")
    done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=prefix)
    dist = _dist(prefix / "node_modules")
    if done.returncode != 0 or dist is None:
        raise WebSetupError(f"npm ci failed in {prefix} (exit status {done.returncode}): see npm's message above; "
                            f"the npm registry must be reachable once")
    return dist


def exported_model(weights: str | os.PathLike | None, echo=print) -> Path:
    """The export folder of ``weights`` (default: the default checkpoint), exported now unless already cached."""
    from ..onnx.export import FORMAT_VERSION, MODEL_JSON, export_onnx, exporter, load_for_export

    model, name, sha256 = load_for_export(weights)
    folder = cache_root() / "onnx" / sha256[:16]
    try:
        existing = json.loads((folder / MODEL_JSON).read_text())
        current = (existing.get("checkpoint_sha256") == sha256 and existing.get("format_version") == FORMAT_VERSION
                   and existing.get("exported_by") == exporter())  # a newer colornet may export faster graphs
        if current and all((folder / f).is_file() for f in existing.get("files", {})):
            return folder
    except (OSError, ValueError):
        pass
    echo(f"Exporting {name} to ONNX in {folder} (once)...")
    export_onnx(model, folder, name=name, sha256=sha256)
    return folder
