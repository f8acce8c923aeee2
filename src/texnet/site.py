"""`texnet web`: a static site that runs texnet generators in the browser (onnxruntime-web, WASM).

The site is index.html, its JS and CSS (texnet/webapp/), the models as ONNX files with a
models.json list, and the onnxruntime-web files copied from the npm package (the set-up
installs it with npm): no CDN, so the page works offline. Browsers refuse to load
models from file:// pages, so the site is opened through a local server (`--serve`),
which also sends the cross-origin isolation headers that let WASM use several threads.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
from pathlib import Path
from typing import Callable

from texnet.errors import TexnetError
from texnet.files import atomic_path
from texnet.limits import smallest_side

ORT_VERSION = "1.30.0"
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
APP_FILES = ("index.html", "app.js", "noise.js", "style.css")


def find_ort_web() -> Path:
    """The dist/ folder of an installed onnxruntime-web npm package."""
    here = Path(__file__).resolve()
    candidates = [os.environ.get("TEXNET_ORT_WEB"), Path.cwd() / "node_modules" / "onnxruntime-web" / "dist",
                  *(parent / "node_modules" / "onnxruntime-web" / "dist" for parent in here.parents)]
    for c in candidates:
        if c and all((Path(c) / f).exists() for f in ORT_FILES):
            return Path(c)
    raise TexnetError(f"onnxruntime-web is not installed: run `npm install onnxruntime-web@{ORT_VERSION}` here "
                      "(`make setup` does it), or set TEXNET_ORT_WEB to its dist/ folder")


def build_site(models: list[str], output: str | Path, log: Callable[[str], None] = print) -> Path:
    """Write the site for `models` (.texnet files are exported to ONNX, .onnx files copied) into `output`."""
    from texnet.runtime import OnnxModel, is_onnx

    if not models:
        raise TexnetError("give at least one model")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise TexnetError(f"output {out} is a file, expected a folder")
    ort_dir = find_ort_web()
    entries, names = [], set()
    (out / "models").mkdir(parents=True, exist_ok=True)
    for spec in models:
        source = Path(spec)
        if not source.exists():
            raise TexnetError(f"model not found: {spec}")
        name = source.stem
        while name in names:
            name += "_"
        names.add(name)
        target = out / "models" / f"{name}.onnx"
        if is_onnx(source):
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
        else:
            from texnet.export import export_onnx
            from texnet.modelfile import load_model

            generator, meta = load_model(source)
            export_onnx(generator, meta, target)
        model = OnnxModel(target)
        origin = model.meta.get("exemplar", model.meta.get("style", {}))
        entries.append({"name": name, "file": target.name, "kind": model.kind, "scales": model.scales,
                        "noise_channels": model.noise_channels, "stats_size": model.stats_size,
                        "min_side": smallest_side(model.scales, model.kernels) if model.kind == "texture" else 16,
                        "source": origin.get("name") or origin.get("file", "")})
        log(f"model {name}: {model.kind}, {target.stat().st_size / 1024:.0f} KB")
    with atomic_path(out / "models.json") as tmp:
        tmp.write_text(json.dumps({"models": entries}, indent=1))
    app = Path(__file__).resolve().parent / "webapp"
    for f in APP_FILES:
        with atomic_path(out / f) as tmp:
            shutil.copyfile(app / f, tmp)
    (out / "ort").mkdir(exist_ok=True)
    for f in ORT_FILES:
        with atomic_path(out / "ort" / f) as tmp:
            shutil.copyfile(ort_dir / f, tmp)
    log(f"wrote {out}/ ({len(entries)} model(s)); open it with `texnet web ... --serve` or any static server")
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with cross-origin isolation (WASM threads) and quiet logs."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".mjs": "text/javascript", ".js": "text/javascript", ".onnx": "application/octet-stream"}

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def server(folder: str | Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server for `folder` on 127.0.0.1 (port 0: any free port); call serve_forever() on it."""
    handler = functools.partial(_Handler, directory=str(folder))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise TexnetError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}; try another --port") from None


__all__ = ["build_site", "server", "find_ort_web", "ORT_VERSION"]
