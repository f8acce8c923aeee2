from dataclasses import replace

import pytest
import torch
from helpers import trained_like, with_running_stats

from texnet.export import export_onnx
from texnet.generators import GeneratorConfig, MultiScaleGenerator, scale_sizes
from texnet.images import tile
from texnet.inference import PlainInference, prepare
from texnet.modelfile import load_model, save_model
from texnet.runtime import OnnxModel
from texnet.stylizer import StylizeOptions, TorchBackend, stylize_array


def test_parameter_counts_match_the_paper_and_released_code():
    assert 60_000 < MultiScaleGenerator(GeneratorConfig(scales=5)).num_parameters() < 80_000
    assert 110_000 < MultiScaleGenerator(GeneratorConfig(scales=6)).num_parameters() < 125_000


@pytest.mark.parametrize("size", [(1, 1), (23, 37), (64, 64), (100, 33)])
def test_any_output_size(size):
    g = MultiScaleGenerator(GeneratorConfig(scales=5))
    h, w = size
    out = g.sample(w, h, batch=2, seed=0)
    assert out.shape == (2, 3, h, w)
    assert torch.isfinite(out).all()
    if h * w > 1:
        assert out.std() > 0  # a texture, not a flat colour


def test_same_seed_same_sample_other_seed_other_sample():
    g = MultiScaleGenerator()
    a, b, c = g.sample(40, 40, seed=3), g.sample(40, 40, seed=3), g.sample(40, 40, seed=4)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_sample_runs_in_eval_mode_and_leaves_the_mode_as_it_was():
    g = with_running_stats(MultiScaleGenerator(seed=1))
    evaluated = g.sample(24, 24, seed=5)
    assert not g.training
    g.train()
    assert torch.equal(g.sample(24, 24, seed=5), evaluated)  # running statistics, not the batch's
    assert g.training and all(m.training for m in g.modules())


def test_output_is_periodic_shifting_noise_shifts_the_image():
    # On a torus, rolling every noise map by the same physical offset rolls the output.
    torch.manual_seed(0)
    g = with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=4)))
    noise = g.make_noise(1, 48, 64, torch.Generator().manual_seed(0))
    shift = 8  # a whole coarsest-scale cell (2^(K-1))
    rolled = [torch.roll(z, shifts=(shift // 2**s, shift // 2**s), dims=(2, 3)) for s, z in enumerate(noise)]
    with torch.no_grad():
        out, out_rolled = g(noise), g(rolled)
    assert torch.allclose(torch.roll(out, shifts=(shift, shift), dims=(2, 3)), out_rolled, atol=1e-5)


def seam_ratio(image):
    """Mean jump across the 2x2 tiling seams divided by the mean jump between interior neighbours."""
    t = tile(image)
    h, w = image.shape[-2:]
    across = (t[..., :, w] - t[..., :, w - 1]).abs().mean() + (t[..., h, :] - t[..., h - 1, :]).abs().mean()
    inside = (image[..., :, 1:] - image[..., :, :-1]).abs().mean() + (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return float(across / inside)


def test_odd_sizes_tile_without_seams():
    torch.manual_seed(1)
    g = with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=5)))
    with torch.no_grad():
        image = g(g.make_noise(1, 61, 45, torch.Generator().manual_seed(1)))[0]
    assert 0.8 < seam_ratio(image) < 1.25
    # a non-periodic image (a gradient) has an obvious seam by the same measure
    ramp = torch.linspace(0, 1, 61).expand(3, 45, 61) + 0.01 * torch.rand(3, 45, 61)
    assert seam_ratio(ramp) > 5


def test_scale_sizes_round_up():
    assert scale_sizes(100, 33, 3) == [(100, 33), (50, 17), (25, 9)]


def test_stylization_generator_needs_content():
    g = MultiScaleGenerator(GeneratorConfig(scales=3, content_channels=3))
    content = torch.rand(1, 3, 29, 31)
    assert g.sample(31, 29, content=content).shape == (1, 3, 29, 31)  # width, height
    with pytest.raises(ValueError):
        g.sample(31, 29)


def test_grayscale_generator_gives_equal_channels():
    g = MultiScaleGenerator(GeneratorConfig(scales=3, grayscale=True))
    out = g.sample(24, 20, batch=2, seed=0)
    assert out.shape == (2, 3, 20, 24)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    colour = MultiScaleGenerator(GeneratorConfig(scales=3))
    assert g.num_parameters() < colour.num_parameters()


def _with_running_stats(cfg: GeneratorConfig) -> MultiScaleGenerator:
    """A generator with non-trivial norm parameters and running averages, as after training."""
    torch.manual_seed(4)
    g = MultiScaleGenerator(cfg, seed=0)
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return g


def test_batch_one_batch_norm_runs_as_the_instance_norm_it_trained_as():
    from texnet.generators import batch_norm_to_instance, trained_per_sample

    g = _with_running_stats(GeneratorConfig(scales=3))
    noise = g.make_noise(1, 20, 24, torch.Generator().manual_seed(1))
    with torch.no_grad():
        in_training = g.train()(noise)  # batch norm on a batch of one: the sample's own statistics
        running = g.eval()(noise)
        converted = batch_norm_to_instance(g).eval()
        assert converted.cfg.norm == "instance"
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in converted.modules())
        assert torch.allclose(converted(noise), in_training, atol=1e-4)
    assert (running - in_training).abs().max() > 1e-2  # the running averages are another function
    assert trained_per_sample(GeneratorConfig(), 1)
    assert not trained_per_sample(GeneratorConfig(), 2) and not trained_per_sample(GeneratorConfig(), None)
    assert not trained_per_sample(GeneratorConfig(norm="instance"), 1)


def test_loading_a_batch_one_model_gives_instance_norms(tmp_path):
    from texnet.modelfile import load_model, save_model

    for batch, expect in ((1, "instance"), (2, "batch")):
        path = save_model(tmp_path / f"b{batch}.texnet", _with_running_stats(GeneratorConfig(scales=3)),
                          {"kind": "texture", "training": {"batch_size": batch}})
        g, meta = load_model(path)
        assert g.cfg.norm == expect and meta["generator"]["norm"] == "batch"
        kept, _ = load_model(path, running_stats=True)
        assert kept.cfg.norm == "batch"
        fast, _ = load_model(path, inference=True, bf16=False)  # the inference form keeps the norm it loaded with
        assert torch.allclose(fast.sample(40, 36, seed=2), g.sample(40, 36, seed=2), atol=1e-4)
        fast, _ = load_model(path, inference=True, bf16=True)  # bf16 only where its check passed: within 2/255
        assert (fast.sample(40, 36, seed=2) - g.sample(40, 36, seed=2)).abs().max() <= 2 / 255


HEADED = GeneratorConfig(scales=4, channels=8, content_channels=3, norm="instance", padding="replicate", head=6)


def test_head_narrows_the_full_resolution_join_only():
    g = MultiScaleGenerator(HEADED, seed=0)
    paper = MultiScaleGenerator(replace(HEADED, head=0), seed=0)
    assert g.head.in_channels == 8 * 3 and g.head.out_channels == 6
    assert g.joins[-1][0].in_channels == g.to_rgb.in_channels == 6 + 8
    assert [j[0].in_channels for j in g.joins[:-1]] == [j[0].in_channels for j in paper.joins[:-1]]
    assert g.num_parameters() < paper.num_parameters()
    content = torch.rand(1, 3, 29, 35)
    out = g.sample(35, 29, content=content, seed=1)
    assert out.shape == (1, 3, 29, 35) and out.std() > 0
    assert paper.head is None and "head.weight" not in paper.state_dict()


def test_head_is_for_stylization_and_positive():
    with pytest.raises(ValueError, match="head"):
        MultiScaleGenerator(GeneratorConfig(scales=4, head=8))  # a texture generator: no head
    with pytest.raises(ValueError, match="head"):
        MultiScaleGenerator(replace(HEADED, head=-1))


def test_headed_model_file_round_trip_export_and_old_files_have_no_head(tmp_path, capsys):
    from texnet.cli import main

    g = trained_like(HEADED)
    save_model(tmp_path / "h.texnet", g, {"kind": "style"})
    loaded, meta = load_model(tmp_path / "h.texnet", inference=True)
    assert isinstance(loaded, PlainInference) and meta["generator"]["head"] == 6
    main(["info", str(tmp_path / "h.texnet")])
    assert "the coarse path narrowed to 6 channels at full resolution" in capsys.readouterr().out
    content = torch.rand(1, 3, 30, 42)
    noise = g.seeded_noise(2, 1, 42, 30)
    with torch.no_grad():
        assert torch.equal(loaded.infer(noise, content), g(noise, content))
    onnx = OnnxModel(export_onnx(g, {"kind": "style"}, tmp_path / "h.onnx"))
    photo = content[0].numpy()
    for opts in (StylizeOptions(seed=3), StylizeOptions(seed=3, tile=24, overlap=8, stats_size=64)):
        ours, _ = stylize_array(onnx, photo, opts)
        reference, _ = stylize_array(TorchBackend(prepare(g)), photo, opts)
        assert abs(ours - reference).max() <= 2 / 255, opts
    old = {k: v for k, v in HEADED.to_dict().items() if k != "head"}  # a model file from before the field
    assert GeneratorConfig.from_dict(old).head == 0
