"""Sample time in the browser (onnxruntime-web, WASM) and the README's screenshot of the page.

    python benchmarks/web_timing.py MODEL [MODEL ...]   # default: texnet's pretrained models

Builds the site with `texnet web`, serves it on 127.0.0.1, and drives headless Chromium with
Playwright (as tests/test_web.py does): for 256 and 1024 px it renders 4 samples of the first
texture model and keeps the median of the last 3 times the page reports (noise and network,
the first run warms WASM up). Writes benchmarks/web/web.json and benchmarks/web/screenshot.png.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "web"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    from texnet import zoo
    from texnet.site import build_site, server

    models = argv or [str(zoo.resolve(n, "onnx")) for n in zoo.names()]
    if not models:
        print("give MODEL files (texnet has no pretrained models yet)")
        return 1
    site = build_site(models, Path(tempfile.mkdtemp()) / "site", log=lambda *a: None)
    httpd = server(site, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "models": [Path(m).name for m in models], "times_ms": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
        result["browser"] = browser.version
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]", timeout=120_000)
        result["threads"] = page.evaluate("() => ort.env.wasm.numThreads")
        for size in (256, 1024):
            page.fill("#width", str(size))
            page.fill("#height", str(size))
            times = []
            for seed in range(1, 5):
                page.fill("#seed", str(seed))
                page.click("#render")
                page.wait_for_selector("body[data-state=ready]", timeout=300_000)
                times.append(float(re.search(r": (\d+) ms", page.inner_text("#timing")).group(1)))
            result["times_ms"][str(size)] = {"all": times, "median_warm": statistics.median(times[1:])}
            print(size, times, flush=True)
        page.fill("#width", "384")
        page.fill("#height", "384")
        page.fill("#seed", "7")
        page.click("#render")
        page.wait_for_selector("body[data-state=ready]", timeout=120_000)
        page.check("#tile")
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT / "screenshot.png"))
        browser.close()
    httpd.shutdown()
    (OUT / "web.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
