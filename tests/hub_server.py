"""A small Hugging Face Hub look-alike on 127.0.0.1, so tests drive the *real* huggingface_hub client end to end.

Implements what ``hf_hub_download``, ``HfApi.create_repo``, ``HfApi.create_commit``/``upload_folder`` and
``HfApi.model_info``/``repo_info`` call (checked against huggingface_hub 2.4's ``file_download.py`` and
``_commit_api.py``):

* ``POST /api/repos/create``                         -> ``{"url"}``; 409 (still with ``url``) if it exists
* ``POST /api/validate-yaml``                        -> no errors (sent when a README.md is committed)
* ``POST /api/models/{repo}/preupload/{rev}``        -> every file ``uploadMode: "regular"`` (see below)
* ``POST /api/models/{repo}/commit/{rev}``           -> ndjson ``header`` / ``file`` / ``deletedFile`` /
  ``deletedFolder`` lines; ``parentCommit`` is honoured (412 when stale)
* ``GET  /api/models/{repo}[/revision/{rev}]``       -> ``id``, ``sha``, ``private``, ``siblings``
* ``HEAD|GET /{repo}/resolve/{rev}/{path}``          -> the bytes, with ``X-Repo-Commit``, ``ETag`` (git blob
  sha1, quoted), ``Content-Length``; ``Range: bytes=N-`` answered with 206
* errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) so the client raises its
  specific exception classes.

Every file is stored as a regular git blob: the server never asks for LFS/Xet uploads (real clients accept
"regular" for any size), which keeps it free of a CAS/S3 emulation. Repos are kept in memory. If ``token`` is
set, writes and private reads need ``Authorization: Bearer <token>``. ``requests`` logs ``(method, path)`` so tests
can assert that no network call happened. ``throttle_bps`` slows bodies down (progress tests). Every response closes its connection, so ``stop()`` really makes the
Hub unreachable (no keep-alive socket lingers in the client's pool).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"
_ROUTES = [
    ("POST", re.compile(r"/api/repos/create"), "create_repo"),
    ("POST", re.compile(r"/api/validate-yaml"), "validate_yaml"),
    ("POST", re.compile(rf"/api/models/{_REPO}/preupload/(?P<rev>[^/]+)"), "preupload"),
    ("POST", re.compile(rf"/api/models/{_REPO}/commit/(?P<rev>[^/]+)"), "commit"),
    ("GET", re.compile(rf"/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?"), "model_info"),
    ("GET", re.compile(rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)"), "resolve"),
    ("HEAD", re.compile(rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)"), "resolve"),
]


def git_blob_sha1(data: bytes) -> str:
    """The id git (and the Hub's ETag for regular files) gives a blob."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> {path: content}
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha

    def commit(self, files: dict[str, bytes], message: str, branch: str = "main") -> str:
        parent = self.branches.get(branch, "")
        digest = hashlib.sha1(f"{self.repo_id}\n{parent}\n{message}\n{len(self.commits)}".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_sha1(files[path])}".encode())
        sha = digest.hexdigest()
        self.commits[sha] = dict(files)
        self.branches[branch] = sha
        return sha

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


class _Reply(Exception):
    """Raised by a route to answer with an error status (and Hub error headers)."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None, **extra
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.headers, self.extra = status, message, code, headers or {}, extra


class HubServer:
    """Start with ``with HubServer() as hub:`` (or ``start()``/``stop()``); ``hub.url`` is the endpoint."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.throttle_bps: float | None = None  # set: bodies are sent in throttle_chunk pieces at this rate
        self.throttle_chunk = 16384
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> "HubServer":
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: later requests get 'connection refused', like a Hub that is down."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------------------------ seeding for tests
    def create_repo(self, repo_id: str, *, private: bool = False) -> Repo:
        with self._lock:
            if repo_id not in self.repos:
                repo = Repo(repo_id, private=private)
                attributes = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                repo.commit({".gitattributes": attributes}, "initial commit")
                self.repos[repo_id] = repo
            return self.repos[repo_id]

    def commit_files(self, repo_id: str, files: dict[str, bytes], message: str = "seed") -> str:
        """Add/overwrite files on main in one commit, bypassing HTTP; returns the commit sha."""
        repo = self.create_repo(repo_id)
        with self._lock:
            return repo.commit({**repo.commits[repo.branches["main"]], **files}, message)

    # ------------------------------------------------------------------------------------------------ routes
    def _authorized(self, headers) -> bool:
        return self.token is None or headers.get("Authorization") == f"Bearer {self.token}"

    def _require_write(self, headers) -> None:
        if not self._authorized(headers):
            raise _Reply(401, "Invalid credentials in Authorization header")

    def _repo(self, repo_id: str, headers) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not self._authorized(headers)):
            raise _Reply(404, "Repository not found", "RepoNotFound")
        return repo

    def _revision(self, repo: Repo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise _Reply(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    def route_create_repo(self, match, headers, body):
        self._require_write(headers)
        payload = json.loads(body or b"{}")
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        if "/" not in repo_id:
            repo_id = f"user/{repo_id}"
        with self._lock:
            exists = repo_id in self.repos
        if exists:
            # like the Hub, the conflict answer still names the repo: create_repo(exist_ok=True) reads "url"
            raise _Reply(409, "You already created this model repo", url=f"{self.url}/{repo_id}")
        self.create_repo(repo_id, private=payload.get("visibility") == "private" or bool(payload.get("private")))
        return 200, {"url": f"{self.url}/{repo_id}", "name": repo_id, "id": repo_id}, {}

    def route_validate_yaml(self, match, headers, body):
        return 200, {"errors": [], "warnings": []}, {}

    def route_preupload(self, match, headers, body):
        self._require_write(headers)
        repo = self._repo(match["repo"], headers)
        sha = repo.resolve(unquote(match["rev"]))
        current = repo.commits.get(sha, {}) if sha else {}
        files = []
        for item in json.loads(body)["files"]:
            existing = current.get(item["path"])
            oid = git_blob_sha1(existing) if existing is not None else None
            files.append({"path": item["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": oid})
        return 200, {"files": files, "commitOid": sha}, {}

    def route_commit(self, match, headers, body):
        self._require_write(headers)
        repo = self._repo(match["repo"], headers)
        branch = unquote(match["rev"])
        if branch not in repo.branches:
            raise _Reply(404, f"Invalid rev id: {branch} (commits go to a branch)", "RevisionNotFound")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        with self._lock:
            head = repo.branches[branch]
            files = dict(repo.commits[head])
            message = "commit"
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "header":
                    message = value.get("summary") or message
                    parent = value.get("parentCommit")
                    if parent is not None and parent != head:
                        raise _Reply(412, f"A commit has happened since {parent}; head is {head}")
                elif key == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise _Reply(404, "A file with this name doesn't exist", "EntryNotFound")
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: c for p, c in files.items() if not p.startswith(prefix)}
                else:
                    raise _Reply(400, f"This test server does not support '{key}' operations (no LFS/Xet storage)")
            sha = repo.commit(files, message, branch)
        return 200, {"success": True, "commitOid": sha, "commitUrl": f"{self.url}/{repo.repo_id}/commit/{sha}"}, {}

    def route_model_info(self, match, headers, body):
        repo = self._repo(match["repo"], headers)
        sha = self._revision(repo, unquote(match["rev"] or "main"))
        files = repo.commits[sha]
        return 200, {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": sha,
            "private": repo.private,
            "lastModified": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "siblings": [
                {"rfilename": p, "size": len(c), "blobId": git_blob_sha1(c)} for p, c in sorted(files.items())
            ],
        }, {}

    def route_resolve(self, match, headers, body):
        repo = self._repo(match["repo"], headers)
        sha = self._revision(repo, unquote(match["rev"]))
        path = unquote(match["path"])
        content = repo.commits[sha].get(path)
        if content is None:
            raise _Reply(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": sha})
        out = {"X-Repo-Commit": sha, "ETag": f'"{git_blob_sha1(content)}"', "Accept-Ranges": "bytes"}
        status, start = 200, 0
        if m := re.fullmatch(r"bytes=(\d+)-", headers.get("Range", "")):
            start = min(int(m[1]), len(content))
            status = 206
            out["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        return status, content[start:], out


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _dispatch(self, method: str) -> None:
        hub = self.server_hub
        path = urlsplit(self.path).path
        hub.requests.append((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            for verb, pattern, name in _ROUTES:
                if verb == method and (match := pattern.fullmatch(path)):
                    status, payload, headers = getattr(hub, f"route_{name}")(match, self.headers, body)
                    break
            else:
                raise _Reply(404, f"No route for {method} {path}")
        except _Reply as reply:
            status, payload = reply.status, {"error": reply.message, **reply.extra}
            headers = {"X-Error-Message": reply.message, **reply.headers}
            if reply.code:
                headers["X-Error-Code"] = reply.code
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        content_type = "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        self.send_response(status)
        for key, value in {"Content-Type": content_type, **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD":
            step = hub.throttle_chunk if hub.throttle_bps and len(data) > hub.throttle_chunk else len(data) or 1
            for start in range(0, len(data), step):  # a slow link, so progress can be seen mid-file
                if start:
                    time.sleep(step / hub.throttle_bps)
                self.wfile.write(data[start : start + step])
                self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")


def point_huggingface_hub_at(monkeypatch, url: str, home, token: str | None = None) -> None:
    """Configure the real huggingface_hub client for a test: endpoint ``url``, caches and token files under ``home``.

    huggingface_hub reads HF_ENDPOINT / HF_HOME / HF_HUB_OFFLINE once, at import, into ``huggingface_hub.constants``
    (and builds its URL template from the endpoint there), so setting the env vars inside a test would be too late.
    Patching those *configuration* values is what the env vars would have done; no function is replaced. HF_TOKEN is
    read per call, so it is set as an environment variable.

    Older clients (down to the oldest colornet supports, see requirements.txt) differ in two ways, both handled: they
    lack some of these values, or have an older name beside the new one (``HUGGINGFACE_HUB_CACHE``), so each value is
    set where the installed client has it; and some of their modules copy a value at import (0.x's
    ``file_download`` has its own ``HUGGINGFACE_CO_URL_TEMPLATE``), so those copies are set too -- the client's
    modules are imported first, so that no copy is taken later from a value patched for one test only.
    """
    from pathlib import Path

    home = Path(home)
    set_hub_settings(monkeypatch, {
        "ENDPOINT": url,
        "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HUGGINGFACE_HUB_CACHE": str(home / "hub"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
    })
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    if token is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HF_TOKEN", token)


def set_hub_settings(monkeypatch, settings: dict) -> None:
    """Set ``huggingface_hub.constants`` values for one test, and the copies of them that the client's modules took
    at import (a copy: a module-level plain value of the same name equal to the constant's). Values the installed
    client does not have are left out."""
    import importlib
    import sys

    for name in ("constants", "file_download", "hf_api", "_commit_api", "utils"):
        importlib.import_module(f"huggingface_hub.{name}")
    from huggingface_hub import constants as hf

    original = {key: getattr(hf, key) for key in settings if hasattr(hf, key)}
    copies = [m for n, m in sorted(sys.modules.items()) if n.startswith("huggingface_hub.") and m is not hf]
    for key, value in settings.items():
        if key not in original:
            continue
        monkeypatch.setattr(hf, key, value)
        for module in copies:
            current = getattr(module, "__dict__", {}).get(key)
            if isinstance(current, (str, bool, int)) and current == original[key]:
                monkeypatch.setattr(module, key, value)
