"""The web page in a real browser: headless Chromium driven by Playwright, against the local server.

Needs Debian's chromium (the set-up installs it when it runs as root), the Python package
playwright and the npm package onnxruntime-web (both installed by the set-up). Without
them the tests skip, with the reason; under CI=true a missing piece is a failure.
"""

import os
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from texnet.export import export_onnx
from texnet.generators import GeneratorConfig
from texnet.runtime import OnnxModel
from texnet.stylizer import StylizeOptions, stylize_array

from helpers import trained_like

TOLERANCE = 2  # in 0..255 units: WASM and native float arithmetic may round differently
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _missing() -> str | None:
    if shutil.which("chromium") is None and not os.path.exists("/usr/bin/chromium"):
        return "Debian's chromium is not installed (apt install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    from texnet.errors import TexnetError
    from texnet.site import find_ort_web

    try:
        find_ort_web()
    except TexnetError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from texnet.site import build_site, server

    folder = tmp_path_factory.mktemp("site")
    models = folder / "src"
    models.mkdir()
    texture = export_onnx(trained_like(GeneratorConfig(scales=4)), {"kind": "texture", "exemplar": {"file": "t.png"}},
                          models / "texture.onnx")
    style = export_onnx(trained_like(GeneratorConfig(scales=4, content_channels=3, norm="instance",
                                                     padding="replicate")), {"kind": "style"}, models / "style.onnx")
    residual = export_onnx(trained_like(GeneratorConfig(arch="residual", scales=3, channels=8, blocks=2,
                                                        content_channels=3, norm="instance", padding="replicate")),
                           {"kind": "style"}, models / "residual.onnx")
    out = build_site([str(texture), str(style), str(residual)], folder / "site", log=lambda *a: None)
    httpd = server(out, 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield out, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, site):
    page = browser.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site[1])
    page.wait_for_selector("body[data-state=ready]", timeout=60_000)
    yield page
    page.close()
    assert not errors, errors


def canvas_pixels(page) -> np.ndarray:
    data = page.evaluate("""() => {
        const c = document.getElementById('canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        return {w: c.width, h: c.height, px: Array.from(d.data)};
    }""")
    return np.array(data["px"], dtype=np.int16).reshape(data["h"], data["w"], 4)[..., :3]


def as_bytes(image: np.ndarray) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) as texnet saves it."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.int16).transpose(1, 2, 0)


def click_and_wait(page, selector):
    page.click(selector)
    page.wait_for_selector("body[data-state=ready]", timeout=60_000)


def test_texture_sample_matches_python_and_tiles(page, site):
    page.fill("#width", "64")
    page.fill("#height", "48")
    page.fill("#seed", "7")
    click_and_wait(page, "#render")
    shown = canvas_pixels(page)
    expected = as_bytes(OnnxModel(site[0] / "models" / "texture.onnx").sample(64, 48, seed=7))
    assert shown.shape == expected.shape == (48, 64, 3)
    assert np.abs(shown - expected).max() <= TOLERANCE
    assert "64x48 sample, seed 7" in page.inner_text("#timing")
    page.check("#tile")
    tiled = canvas_pixels(page)
    assert tiled.shape == (96, 128, 3)
    assert np.array_equal(tiled[:48, :64], tiled[48:, 64:])
    click_and_wait(page, "#new-sample")
    assert page.input_value("#seed") != "7"


def test_bad_size_gives_a_visible_message(page):
    page.fill("#width", "5000")
    click_and_wait(page, "#render")
    assert page.is_visible("#message") and "2048" in page.inner_text("#message")


@pytest.mark.parametrize("index, name", [("1", "style"), ("2", "residual")])
def test_stylize_a_small_photo_matches_python(page, site, tmp_path, index, name):
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    small = np.kron(rng.random((6, 8, 3)), np.ones((8, 8, 1)))  # blocky, so browser decoding is exact
    Image.fromarray((small * 255).astype(np.uint8)).save(photo)
    page.select_option("#model", index)
    page.wait_for_selector("#style-controls:not([hidden])")
    page.set_input_files("#photo", str(photo))
    page.wait_for_selector("#stylize:not([disabled])")
    click_and_wait(page, "#stylize")
    shown = canvas_pixels(page)
    content = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255
    expected, _ = stylize_array(OnnxModel(site[0] / "models" / f"{name}.onnx"), content, StylizeOptions(seed=0))
    assert shown.shape == (48, 64, 3)
    assert np.abs(shown - as_bytes(expected)).max() <= TOLERANCE
    # a file that is not an image: a visible message, not a blank page
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    page.set_input_files("#photo", str(text))
    page.wait_for_selector("#message:not([hidden])")
    assert "not an image" in page.inner_text("#message")


def test_manifest_gives_each_texture_model_its_smallest_side(site):
    """The page refuses sizes below the ONNX graph's smallest (limits.smallest_side) with its size message."""
    import json

    sides = {m["kind"]: m["min_side"] for m in json.loads((site[0] / "models.json").read_text())["models"]}
    assert sides["texture"] == 9  # 4 noise scales: the coarsest of 9 px is 2 px, the graph's padding
