"""A local-only static server for the page: ``/`` the page, ``/model/`` the export, ``/ort/`` onnxruntime-web.

Only files under those three folders are served, only on the address given (127.0.0.1 by default), and only GET.
It sends the cross-origin isolation headers (COOP/COEP) without which browsers refuse the SharedArrayBuffer that
onnxruntime-web's multi-threaded WASM needs. Nothing is ever received: the photos stay inside the browser tab.
"""

from __future__ import annotations

import mimetypes
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .assets import STATIC

TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
         ".onnx": "application/octet-stream", ".css": "text/css", ".html": "text/html; charset=utf-8"}
PAGE_FILES = {"index.html", "app.js", "pipeline.js", "style.css"}


def _handler(model_dir: Path, ort_dir: Path, quiet: bool):
    roots = {"model": model_dir.resolve(), "ort": ort_dir.resolve()}

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
            if not quiet:
                super().log_message(format, *args)

        def end_headers(self) -> None:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.send_header("Cache-Control", "no-cache")
            super().end_headers()

        def _resolve(self) -> Path | None:
            path = unquote(urlsplit(self.path).path)
            parts = [p for p in path.split("/") if p]
            if not parts:
                return STATIC / "index.html"
            if len(parts) == 1 and parts[0] in PAGE_FILES:
                return STATIC / parts[0]
            if len(parts) == 2 and parts[0] in roots and parts[1] not in ("", ".", ".."):
                target = (roots[parts[0]] / parts[1]).resolve()
                if target.parent == roots[parts[0]] and target.is_file():
                    return target
            return None

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._send(body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._send(body=False)

        def _send(self, body: bool) -> None:
            target = self._resolve()
            if target is None:
                self.send_error(HTTPStatus.NOT_FOUND, "Not found")
                return
            data = target.read_bytes()
            self.send_response(HTTPStatus.OK)
            kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


class PageServer:
    """The page's server on ``host:port`` (port 0: any free one), in a background thread or in the foreground."""

    def __init__(self, model_dir: str | Path, ort_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                 quiet: bool = True):
        self.httpd = ThreadingHTTPServer((host, port), _handler(Path(model_dir), Path(ort_dir), quiet))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> "PageServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "PageServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
