"""ONNX export and the torch-free runtime: equality with PyTorch, seams, tiling, metadata, bad files."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from texnet.export import export_onnx
from texnet.inference import prepare
from texnet.generators import GeneratorConfig
from texnet.modelfile import save_model
from texnet.quality import seam_score
from texnet.runtime import OnnxModel
from texnet.stylizer import StylizeOptions, TorchBackend, stylize_array

from helpers import trained_like

TOLERANCE = 2 / 255


@pytest.fixture(scope="module")
def texture_onnx(tmp_path_factory):
    g = trained_like(GeneratorConfig(scales=5))
    path = export_onnx(g, {"kind": "texture", "exemplar": {"file": "x.png"}}, tmp_path_factory.mktemp("x") / "t.onnx")
    return g, path


def test_folding_batch_norm_keeps_the_function():
    g = trained_like(GeneratorConfig(scales=4))
    folded = prepare(g)  # what the export traces
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    noise = g.seeded_noise(3, 2, 61, 45)
    with torch.no_grad():
        assert (folded(noise) - g(noise)).abs().max() < 1e-5


@pytest.mark.parametrize("size", [(64, 64), (45, 61), (17, 100)])
def test_texture_export_equals_pytorch_and_stays_seamless(texture_onnx, size):
    g, path = texture_onnx
    model = OnnxModel(path)
    h, w = size
    ours = model.sample(w, h, seed=7)
    reference = g.sample(w, h, seed=7)[0].numpy()
    assert ours.shape == (3, h, w)
    assert np.abs(ours - reference).max() <= TOLERANCE
    if min(h, w) >= 45:
        assert 0.75 < seam_score(torch.from_numpy(ours)) < 1.33


def test_metadata_is_stored(texture_onnx):
    model = OnnxModel(texture_onnx[1])
    assert model.kind == "texture" and model.scales == 5 and model.noise_channels == 3
    assert model.meta["exemplar"]["file"] == "x.png"
    import onnx

    props = {p.key: p.value for p in onnx.load(str(texture_onnx[1])).metadata_props}
    assert "ceil(H / 2^s)" in props["texnet_size_rule"]


def test_internal_names_are_short(texture_onnx):
    """The exporter's long value names were a third of a style graph's bytes; only the API names stay."""
    import onnx

    graph = onnx.load(str(texture_onnx[1])).graph
    api = {v.name for v in graph.input} | {v.name for v in graph.output}
    assert api == {"z0", "z1", "z2", "z3", "z4", "image"}
    internal = {x for n in graph.node for x in [*n.input, *n.output] if x not in api} | {i.name for i in graph.initializer}
    assert internal and max(len(x) for x in internal) <= 5


def test_batched_noise_is_dynamic(texture_onnx):
    from texnet.noise import noise_pyramid

    model = OnnxModel(texture_onnx[1])
    noise = noise_pyramid(3, 2, 40, 24, 5)
    out = model.session.run(["image"], dict(zip(model.inputs, noise)))[0]
    assert out.shape == (2, 3, 40, 24)
    assert np.abs(out[1] - model.sample(24, 40, seed=4)).max() < 1e-5  # sample b uses seed + b


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_style_export_equals_pytorch_whole_and_tiled(tmp_path, norm):
    cfg = GeneratorConfig(scales=4, content_channels=3, norm=norm, padding="replicate")
    g = trained_like(cfg)
    path = export_onnx(g, {"kind": "style"}, tmp_path / "s.onnx")
    model = OnnxModel(path)
    content = torch.nn.functional.interpolate(torch.rand(1, 3, 9, 11), size=(75, 93), mode="bilinear")[0].numpy()
    for opts in (StylizeOptions(seed=3), StylizeOptions(seed=3, tile=40, overlap=16, stats_size=64),
                 StylizeOptions(seed=3, noise_scale=2.0, preserve_color=True)):
        ours, _ = stylize_array(model, content, opts)
        reference, _ = stylize_array(TorchBackend(g), content, opts)
        assert ours.shape == content.shape
        assert np.abs(ours - reference).max() <= TOLERANCE, opts


def test_cli_export_and_onnx_sample(tmp_path, capsys):
    from PIL import Image

    from texnet.cli import main

    g = trained_like(GeneratorConfig(scales=4))
    model = save_model(tmp_path / "m.texnet", g, {"kind": "texture"})
    assert main(["export", str(model), "-o", str(tmp_path / "m.onnx")]) == 0
    assert main(["sample", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "a.png"), "--size", "33x20", "--seed", "5"]) == 0
    assert main(["sample", str(model), "-o", str(tmp_path / "b.png"), "--size", "33x20", "--seed", "5"]) == 0
    a = np.asarray(Image.open(tmp_path / "a.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "b.png")).astype(int)
    assert a.shape == (20, 33, 3) and np.abs(a - b).max() <= 2
    assert main(["sample", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "a.png"), "--size", "9"]) == 0  # smallest
    assert main(["sample", str(model), "-o", str(tmp_path / "b.png"), "--size", "8x40"]) == 0  # PyTorch: any size
    capsys.readouterr()
    not_onnx = tmp_path / "bad.onnx"
    not_onnx.write_bytes(b"not a graph")
    for argv, message in [(["sample", not_onnx, "-o", tmp_path / "c.png"], "not a texnet ONNX model"),
                          (["export", model, "-o", tmp_path / "m.png"], "name it *.onnx"),
                          (["sample", model, "-o", tmp_path / "c.png", "--runtime", "onnx"], "needs an ONNX model"),
                          (["stylize", tmp_path / "m.onnx", tmp_path / "a.png", "-o", tmp_path / "d.png"],
                           "not a style model"),
                          # 4 scales: the coarsest of 8 px is 1 px, less than the graph's padding of 2
                          (["sample", tmp_path / "m.onnx", "-o", tmp_path / "e.png", "--size", "8x40"],
                           "ask for at least 9 px a side")]:
        assert main([str(a) for a in argv]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)


RUNTIME_ONLY = r"""
import sys
sys.modules["torch"] = None  # any `import torch` now fails: this is a machine without PyTorch
from texnet.cli import main
code = main(sys.argv[1:])
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None], "torch was imported"
sys.exit(code)
"""


def test_runtime_works_with_torch_unimportable(tmp_path):
    from PIL import Image

    g = trained_like(GeneratorConfig(scales=4, content_channels=3, norm="instance", padding="replicate"))
    onnx_path = export_onnx(g, {"kind": "style"}, tmp_path / "style.onnx")
    t = trained_like(GeneratorConfig(scales=4))
    texture_path = export_onnx(t, {"kind": "texture"}, tmp_path / "tex.onnx")
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)).save(photo)

    def run(*argv):
        return subprocess.run([sys.executable, "-c", RUNTIME_ONLY, *map(str, argv)], capture_output=True, text=True)

    proc = run("sample", texture_path, "-o", tmp_path / "t.png", "--size", "40x30", "--seed", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "t.png").size == (40, 30)
    proc = run("stylize", onnx_path, photo, "-o", tmp_path / "s.png", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "s.png").size == (70, 50)
    save_model(tmp_path / "model.texnet", t, {"kind": "texture"})
    proc = run("sample", tmp_path / "model.texnet", "-o", tmp_path / "x.png")
    assert proc.returncode == 1 and "needs PyTorch" in proc.stderr and "Traceback" not in proc.stderr


def test_equal_weights_export_to_a_graph_onnxruntime_accepts(tmp_path):
    """An untrained instance-norm generator has equal norm weights; the exporter shares them through
    Identity nodes, which onnxruntime's optimiser rejected. Each use gets its own copy instead."""
    from texnet.generators import MultiScaleGenerator

    torch.manual_seed(0)
    g = MultiScaleGenerator(GeneratorConfig(scales=3, norm="instance")).eval()
    model = OnnxModel(export_onnx(g, {"kind": "texture"}, tmp_path / "fresh.onnx"))
    with torch.inference_mode():
        expected = g.sample(40, 24, seed=1)[0].numpy()
    assert np.abs(model.sample(40, 24, seed=1) - expected).max() <= TOLERANCE


def test_auto_sampler_takes_pytorch_except_for_large_instance_norm_textures(monkeypatch, tmp_path):
    """PyTorch, but onnxruntime (one pass, the image's own statistics) for instance-norm textures over
    STATISTICS_SIDE, where PyTorch would take a smaller sample's statistics; its export is made only then."""
    from texnet import runtime
    from texnet.zoo import resolve

    monkeypatch.setenv("TEXNET_CACHE", str(tmp_path))
    sampler = runtime.AutoTextureSampler(resolve("brick", "texnet"), "cpu")
    used = []
    monkeypatch.setattr(sampler.torch, "sample", lambda *a: used.append("torch"))
    assert sampler.torch.generator.cfg.norm == "instance"  # trained with batch 1
    sampler.sample(300, 300, 0)
    sampler.sample(1024, 600, 0)
    assert used == ["torch", "torch"] and sampler._onnx is None and not (tmp_path / "onnx").exists()
    monkeypatch.setattr(sampler.onnx(), "sample", lambda *a: used.append("onnx"))
    sampler.sample(1100, 1100, 0)  # beyond STATISTICS_SIDE
    assert used == ["torch", "torch", "onnx"]
    monkeypatch.setattr(sampler.torch.generator.cfg, "norm", "batch")  # batch norm: the same function either way
    sampler.sample(1100, 1100, 0)
    assert used[-1] == "torch"


def test_auto_style_backend_is_pytorch(tmp_path, monkeypatch):
    from texnet import runtime
    from texnet.stylizer import TorchBackend

    monkeypatch.setenv("TEXNET_CACHE", str(tmp_path))
    assert isinstance(runtime.open_style_model("starry-night", "auto", "cpu"), TorchBackend)
    assert isinstance(runtime.open_style_model("starry-night", "torch", "cpu"), TorchBackend)
