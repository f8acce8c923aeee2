import pytest
import torch

from texnet.generators import Bf16Block, GeneratorConfig, MultiScaleGenerator, scale_sizes
from texnet.images import tile


def test_parameter_counts_match_the_paper_and_released_code():
    assert 60_000 < MultiScaleGenerator(GeneratorConfig(scales=5)).num_parameters() < 80_000
    assert 110_000 < MultiScaleGenerator(GeneratorConfig(scales=6)).num_parameters() < 125_000


@pytest.mark.parametrize("size", [(1, 1), (23, 37), (64, 64), (100, 33)])
def test_any_output_size(size):
    g = MultiScaleGenerator(GeneratorConfig(scales=5))
    h, w = size
    out = g.sample(h, w, batch=2, seed=0)
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
    g = _trained_like(MultiScaleGenerator(seed=1))
    evaluated = g.sample(24, 24, seed=5)
    assert not g.training
    g.train()
    assert torch.equal(g.sample(24, 24, seed=5), evaluated)  # running statistics, not the batch's
    assert g.training and all(m.training for m in g.modules())


def _trained_like(g):
    """Give batch norm non-trivial running statistics, as after training."""
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(g.make_noise(4, 32, 32))
    return g.eval()


def test_output_is_periodic_shifting_noise_shifts_the_image():
    # On a torus, rolling every noise map by the same physical offset rolls the output.
    torch.manual_seed(0)
    g = _trained_like(MultiScaleGenerator(GeneratorConfig(scales=4)))
    noise = g.make_noise(1, 64, 48, torch.Generator().manual_seed(0))
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
    g = _trained_like(MultiScaleGenerator(GeneratorConfig(scales=5)))
    with torch.no_grad():
        image = g(g.make_noise(1, 45, 61, torch.Generator().manual_seed(1)))[0]
    assert 0.8 < seam_ratio(image) < 1.25
    # a non-periodic image (a gradient) has an obvious seam by the same measure
    ramp = torch.linspace(0, 1, 61).expand(3, 45, 61) + 0.01 * torch.rand(3, 45, 61)
    assert seam_ratio(ramp) > 5


def test_scale_sizes_round_up():
    assert scale_sizes(100, 33, 3) == [(100, 33), (50, 17), (25, 9)]


def test_stylization_generator_needs_content():
    g = MultiScaleGenerator(GeneratorConfig(scales=3, content_channels=3))
    content = torch.rand(1, 3, 29, 31)
    assert g.sample(29, 31, content=content).shape == (1, 3, 29, 31)
    with pytest.raises(ValueError):
        g.sample(29, 31)


@pytest.mark.parametrize("size,rows", [((45, 61), 7), ((64, 40), 16), ((33, 17), 100)])
def test_strip_evaluation_equals_one_pass(size, rows):
    torch.manual_seed(2)
    g = _trained_like(MultiScaleGenerator(GeneratorConfig(scales=5)))
    noise = g.make_noise(2, *size, torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = g(noise)
        strips = g.forward_strips(noise, rows_per_strip=rows)
    assert strips.shape == whole.shape
    assert torch.allclose(strips, whole, atol=1e-5)
    # sample() switches to strips above its pixel budget, with the same images
    assert torch.allclose(g.sample(*size, seed=4, max_pixels_at_once=200), g.sample(*size, seed=4), atol=1e-5)
    # the inference form (folded, column-padded joins written in one buffer) too, in float32 and in bf16
    folded = g.fold_batchnorm()
    noise_cl = [z.contiguous(memory_format=torch.channels_last) for z in noise]
    assert torch.allclose(folded.forward_strips(noise_cl, rows_per_strip=rows), whole, atol=1e-4)
    assert torch.allclose(folded.infer(noise_cl), whole, atol=1e-4)  # whole images: the join buffers padded all round
    folded.joins[-1] = Bf16Block(folded.joins[-1])
    with torch.no_grad():
        reference = folded(noise_cl)
    assert (folded.forward_strips(noise_cl, rows_per_strip=rows) - reference).abs().max() < 0.5 / 255
    assert (folded.infer(noise_cl) - reference).abs().max() < 0.5 / 255


@pytest.mark.parametrize("grayscale,activation", [(False, "leaky"), (True, "relu")])
def test_inference_layers_fused_or_not_give_the_same_images(monkeypatch, grayscale, activation):
    """_run_layers: convolution + activation as one oneDNN call, grey to_rgb as a matrix-vector product, or each
    layer on its own (where oneDNN's fused op is missing): the same images as forward(), whole and in strips."""
    from texnet import generators

    g = MultiScaleGenerator(GeneratorConfig(scales=4, grayscale=grayscale, activation=activation))
    for m in g.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.uniform_(m.bias, -0.5, 0.5, generator=torch.Generator().manual_seed(1))
    g = _trained_like(g)
    noise = [z.contiguous(memory_format=torch.channels_last) for z in g.make_noise(1, 70, 52)]
    with torch.no_grad():
        reference = g(noise)
    folded = g.fold_batchnorm()
    paths = (True, False) if generators._fused_conv_available() else (False,)  # the fused op: oneDNN builds only
    for fused in paths:
        monkeypatch.setattr(generators, "_fused_conv_available", lambda fused=fused: fused)
        for out in (folded.infer(noise), folded.forward_strips(noise, rows_per_strip=16)):
            assert (out - reference).abs().max() < 1e-4


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (16, 16), (9, 40), (40, 9)])
def test_inference_form_samples_any_size(size):
    """Scales smaller than a block's halo (the coarsest of a 16 px sample is 1 px, padded by 2) wrap more than once,
    as the plain pass's per-convolution padding does: the same images, whole and in strips."""
    g = _trained_like(MultiScaleGenerator(GeneratorConfig(scales=5)))
    expected = g.sample(*size, seed=3)
    folded = g.fold_batchnorm()
    assert (folded.sample(*size, seed=3) - expected).abs().max() < 1e-4
    assert (folded.sample(*size, seed=3, max_pixels_at_once=size[0] * size[1] - 1) - expected).abs().max() < 1e-4


def test_inference_form_samples_large_images_in_strips(monkeypatch):
    """Above max_pixels_at_once, strips of at most STRIP_ROWS rows: the same images."""
    from texnet import generators

    g = _trained_like(MultiScaleGenerator(GeneratorConfig(scales=4))).fold_batchnorm()
    monkeypatch.setattr(generators, "STRIP_ROWS", 16)
    calls = []
    monkeypatch.setattr(g, "forward_strips", lambda *a, **k: calls.append(k) or MultiScaleGenerator.forward_strips(
        g, *a, **k))
    strips = g.sample(70, 40, seed=2, max_pixels_at_once=70 * 40 - 1)
    assert calls == [{"rows_per_strip": 16}]
    assert torch.allclose(strips, g.infer(g.seeded_noise(2, 1, 70, 40)).clamp(0, 1), atol=1e-5)
    g.sample(70, 40, seed=2, max_pixels_at_once=70 * 40)  # within the budget: one pass
    assert len(calls) == 1


def test_grayscale_generator_gives_equal_channels():
    g = MultiScaleGenerator(GeneratorConfig(scales=3, grayscale=True))
    out = g.sample(20, 24, batch=2, seed=0)
    assert out.shape == (2, 3, 20, 24)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    colour = MultiScaleGenerator(GeneratorConfig(scales=3))
    assert g.num_parameters() < colour.num_parameters()


def test_instance_norm_texture_generator_samples_large_sizes_in_strips():
    torch.manual_seed(3)
    g = MultiScaleGenerator(GeneratorConfig(scales=4, norm="instance")).eval()
    for m in g.modules():  # non-trivial affine parameters, as after training
        if isinstance(m, torch.nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    whole = g.sample(96, 80, seed=5)
    # up to STATISTICS_SIDE the statistics are the image's own: the same as one pass
    assert torch.equal(g.sample(96, 80, seed=5, max_pixels_at_once=48 * 48), whole)
    # strips with an image's own statistics give that image
    from texnet.generators import record_statistics, use_statistics

    noise = g.seeded_noise(5, 1, 96, 80)
    with torch.no_grad(), use_statistics(g, record_statistics(g, noise, None)):
        strips = g.forward_strips(noise, rows_per_strip=16).clamp(0, 1)
    assert (strips - whole).abs().max() < 1e-4
    assert not g.is_local()  # the frozen statistics are released after sampling


def test_instance_norm_strips_beyond_the_statistics_side_use_a_stand_in(monkeypatch):
    from texnet import generators

    torch.manual_seed(3)
    g = MultiScaleGenerator(GeneratorConfig(scales=4, norm="instance")).eval()
    for m in g.modules():
        if isinstance(m, torch.nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    monkeypatch.setattr(generators, "STATISTICS_SIDE", 48)
    whole = g.sample(96, 80, seed=5)
    strips = g.sample(96, 80, seed=5, max_pixels_at_once=48 * 48)
    # statistics from a smaller sample of the same seed: close to, not equal to, one pass
    assert 0 < (strips - whole).abs().mean() < 0.05


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
    noise = g.make_noise(1, 24, 20, torch.Generator().manual_seed(1))
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


def test_instance_norm_matches_pytorchs_and_its_gradients():
    """texnet's InstanceNorm (statistics from two reductions, one scale and shift) is instance norm."""
    from texnet.generators import InstanceNorm

    torch.manual_seed(0)
    norm = InstanceNorm(5)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.uniform_(-0.5, 0.5)
    x = (torch.randn(2, 5, 9, 7) * 3 + 4).requires_grad_()  # an offset mean, as after a convolution
    ours = norm(x)
    ref = torch.nn.functional.instance_norm(x, weight=norm.weight, bias=norm.bias, eps=norm.eps)
    assert torch.allclose(ours, ref, atol=1e-4)
    g1, = torch.autograd.grad(ours.square().sum(), x)
    g2, = torch.autograd.grad(ref.square().sum(), x)
    assert torch.allclose(g1, g2, atol=1e-3)
    flat = norm(torch.full((1, 5, 1, 1), 2.0))  # a 1x1 map normalises to 0: the output is the bias
    assert torch.allclose(flat, norm.bias.view(1, 5, 1, 1), atol=1e-3)


def test_bf16_finest_join_stays_within_two_levels_or_is_not_used(monkeypatch):
    from texnet import generators
    from texnet.modelfile import load_model
    from texnet.zoo import resolve

    # the zoo's brick trained with batch 1 and samples as instance norm; kept with its running averages it is a
    # trained batch-norm generator
    brick = resolve("brick", "texnet")
    fp32, _ = load_model(brick, inference=True, bf16=False, running_stats=True)
    fast, _ = load_model(brick, inference=True, bf16=True, running_stats=True)
    assert fp32.cfg.norm == "batch" and not fp32.runs_bf16()
    a, b = fp32.sample(200, 136, seed=7), fast.sample(200, 136, seed=7)
    if fast.runs_bf16():  # the check passed (it does on every CPU tried; its outcome rests on bf16 rounding)
        assert not torch.equal(a, b)  # bf16 really ran
        assert (a - b).abs().max() <= 2 / 255
        # strips (large samples) go through the same bf16 join
        assert (fp32.sample(64, 96, seed=1, max_pixels_at_once=900)
                - fast.sample(64, 96, seed=1, max_pixels_at_once=900)).abs().max() <= 2 / 255
    else:
        assert torch.equal(a, b)
    # a model the check refuses stays in float32
    monkeypatch.setattr(generators, "BF16_CHECK_TOLERANCE", 0.0)
    strict, _ = load_model(brick, inference=True, bf16=True, running_stats=True)
    assert not strict.runs_bf16() and torch.equal(strict.sample(200, 136, seed=7), a)
    # folding again (export does) gives float32 back
    assert not fast.fold_batchnorm().runs_bf16()
