"""``colornet web``: export the model, make sure onnxruntime-web is installed, serve the page on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
import webbrowser


def add_web_parser(sub) -> None:
    web = sub.add_parser(
        "web", help="serve the in-browser colorizer on this machine (photos never leave the browser)",
        description="Serve the static page that colorizes in the browser with onnxruntime-web (WebGPU, else WASM). "
                    "The first run exports the model to ONNX and runs `npm ci` for onnxruntime-web into the user "
                    "cache (~/.cache/colornet; needs npm once). Only 127.0.0.1 by default.",
    )
    web.add_argument("--port", type=int, default=8765, help="port (0 = any free one)")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    web.add_argument("--open", action="store_true", help="open the page in the default browser")
    web.add_argument("--weights", default=None,
                     help="manifest name or path to a .safetensors file (default: the default checkpoint)")
    web.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    from .assets import exported_model, install_ort, ort_dist
    from .server import PageServer

    echo = lambda text: print(text, file=sys.stderr)  # noqa: E731
    model_dir = exported_model(args.weights, echo=echo)
    dist = ort_dist() or install_ort(echo=echo)
    server = PageServer(model_dir, dist, host=args.host, port=args.port, quiet=True)
    print(f"ColorNet page: {server.url}  (model {model_dir}; Ctrl-C stops)", flush=True)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0
