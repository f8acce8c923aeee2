"""The residual encoder-decoder (train-style --arch residual): shapes, every noise scale used, model files,
ONNX export and the torch-free runtime, tiling, and training through the CLI."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from texnet import presets
from texnet.export import export_onnx
from texnet.generators import GeneratorConfig
from texnet.inference import PlainInference, prepare
from texnet.modelfile import load_model, save_model
from texnet.residual import ResidualGenerator
from texnet.runtime import OnnxModel
from texnet.style import StyleConfig
from texnet.stylizer import StylizeOptions, TorchBackend, stylize_array

from helpers import trained_like

TOLERANCE = 2 / 255
SMALL = GeneratorConfig(arch="residual", scales=3, channels=8, blocks=2, content_channels=3, norm="instance",
                        padding="replicate")


def test_default_residual_config_has_the_intended_size():
    cfg = presets.apply(StyleConfig(), {}, {"generator": {"arch": "residual"}}).generator
    assert (cfg.arch, cfg.scales, cfg.channels, cfg.blocks) == ("residual", 3, 32, 5)
    assert 1_000_000 <= ResidualGenerator(cfg).num_parameters() <= 2_000_000
    # the user's own choice still wins over the architecture's defaults
    assert presets.apply(StyleConfig(), {}, {"generator": {"arch": "residual", "scales": 4}}).generator.scales == 4


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (9, 5)])
def test_output_has_the_input_size_and_every_noise_scale_matters(size):
    g = trained_like(SMALL)
    h, w = size
    content = torch.rand(1, 3, h, w)
    noise = g.seeded_noise(1, 1, w, h)
    out = g(noise, content)
    assert out.shape == (1, 3, h, w)
    for s in range(len(noise)):  # an unused input would vanish from the ONNX graph and break the runtime
        changed = [z if i != s else torch.rand_like(z) for i, z in enumerate(noise)]
        assert (g(changed, content) - out).abs().max() > 1e-4, s


def test_needs_content():
    with pytest.raises(ValueError, match="content"):
        ResidualGenerator(GeneratorConfig(arch="residual", content_channels=0))
    with pytest.raises(ValueError, match="edge_kernel"):
        ResidualGenerator(replace(SMALL, edge_kernel=4))


def test_model_file_round_trip_and_inference_form(tmp_path):
    g = trained_like(SMALL)
    save_model(tmp_path / "r.texnet", g, {"kind": "style"})
    loaded, meta = load_model(tmp_path / "r.texnet", inference=True)
    assert isinstance(loaded, PlainInference) and meta["generator"]["arch"] == "residual"
    content = torch.rand(1, 3, 30, 42)
    noise = g.seeded_noise(2, 1, 42, 30)
    with torch.no_grad():
        assert torch.equal(loaded.infer(noise, content), g(noise, content))
    assert len(loaded.record_statistics(noise, content)) == sum(
        isinstance(m, torch.nn.InstanceNorm2d) for m in g.modules())


def test_edge_kernel_sets_the_first_and_last_convolution_and_old_files_keep_9(tmp_path):
    g = ResidualGenerator(replace(SMALL, edge_kernel=5))
    assert g.stem[0].kernel_size == g.to_rgb.kernel_size == (5, 5)
    assert g(g.seeded_noise(0, 1, 21, 17), torch.rand(1, 3, 17, 21)).shape == (1, 3, 17, 21)
    old = {k: v for k, v in SMALL.to_dict().items() if k != "edge_kernel"}  # a model file from before the field
    assert GeneratorConfig.from_dict(old).edge_kernel == 9


@pytest.mark.parametrize("edge", [9, 3])
def test_export_and_runtime_equal_pytorch_whole_and_tiled(tmp_path, edge):
    g = trained_like(replace(SMALL, edge_kernel=edge))
    model = OnnxModel(export_onnx(g, {"kind": "style"}, tmp_path / "r.onnx"))
    content = torch.nn.functional.interpolate(torch.rand(1, 3, 9, 11), size=(75, 93), mode="bilinear")[0].numpy()
    for opts in (StylizeOptions(seed=3), StylizeOptions(seed=3, tile=40, overlap=16, stats_size=64)):
        ours, _ = stylize_array(model, content, opts)
        reference, _ = stylize_array(TorchBackend(prepare(g)), content, opts)
        assert ours.shape == content.shape
        assert np.abs(ours - reference).max() <= TOLERANCE, opts


def test_tiles_with_shared_statistics_match_one_pass():
    g = trained_like(SMALL)
    content = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 14), size=(150, 170), mode="bilinear")[0].numpy()
    whole, _ = stylize_array(TorchBackend(g), content, StylizeOptions(tile=1000))
    # the receptive field reaches about 60 px: overlaps of about that size hide the tiles' borders
    tiled, _ = stylize_array(TorchBackend(g), content, StylizeOptions(tile=96, overlap=48, stats_size=1000))
    assert np.abs(tiled - whole).mean() < 0.02


def test_cli_trains_a_residual_model_that_stylizes(tmp_path, small_exemplar, capsys):
    from texnet.cli import main

    out = tmp_path / "r.texnet"
    main(["train-style", str(small_exemplar), "-o", str(out), "--arch", "residual", "--iterations", "3",
          "--size", "32", "--batch-size", "1", "--quiet"])
    main(["info", str(out)])
    assert ("residual encoder-decoder, 32-128 channels over 3 scales, 5 residual blocks, 9x9 first and last "
            "convolutions") in capsys.readouterr().out
    main(["stylize", str(out), "astronaut", "-o", str(tmp_path / "a.png"), "--max-size", "64"])
    assert (tmp_path / "a.png").stat().st_size > 0
