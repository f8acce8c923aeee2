"""texnet.inference: the inference form computes what the model's forward() computes, at any size, in strips,
with fused kernels or without, in bf16 only where its check allows."""

import pytest
import torch
from helpers import with_running_stats

from texnet.generators import GeneratorConfig, MultiScaleGenerator
from texnet.inference import InferenceGenerator, prepare, use_statistics
from texnet.inference import generator as inference_generator
from texnet.inference import kernels
from texnet.inference.folding import Bf16Block


def _instance_norm_texture() -> MultiScaleGenerator:
    torch.manual_seed(3)
    g = MultiScaleGenerator(GeneratorConfig(scales=4, norm="instance")).eval()
    for m in g.modules():  # non-trivial affine parameters, as after training
        if isinstance(m, torch.nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return g


def test_the_inference_form_is_its_own_type_and_a_copy():
    g = with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=4)))
    fast = prepare(g)
    assert isinstance(fast, InferenceGenerator) and fast.pads_once and not fast.training
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())  # the model is untouched
    assert not prepare(_instance_norm_texture()).pads_once  # nothing to fold: layer by layer instead
    assert not prepare(with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=3, padding="replicate")))).pads_once


@pytest.mark.parametrize("size,rows", [((61, 45), 7), ((40, 64), 16), ((17, 33), 100)])
def test_strip_evaluation_equals_one_pass(size, rows):
    torch.manual_seed(2)
    g = with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=5)))
    noise = g.make_noise(2, *size, torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = g(noise)
    # the inference form (folded, column-padded joins written in one buffer), in float32 and in bf16
    folded = prepare(g)
    noise_cl = [z.contiguous(memory_format=torch.channels_last) for z in noise]
    assert torch.allclose(folded.forward_strips(noise_cl, rows_per_strip=rows), whole, atol=1e-4)
    assert torch.allclose(folded.infer(noise_cl), whole, atol=1e-4)  # whole images: the join buffers padded all round
    # sample() switches to strips above its pixel budget, with the same images
    assert torch.allclose(folded.sample(*size, seed=4, max_pixels_at_once=200), g.sample(*size, seed=4), atol=1e-4)
    folded.joins[-1] = Bf16Block(folded.joins[-1])
    with torch.no_grad():
        reference = folded(noise_cl)
    assert (folded.forward_strips(noise_cl, rows_per_strip=rows) - reference).abs().max() < 0.5 / 255
    assert (folded.infer(noise_cl) - reference).abs().max() < 0.5 / 255


def test_a_form_that_does_not_pad_once_runs_the_plain_pass():
    """Replicate padding folds the norms but keeps each convolution's own padding (and wraps no rows: no strips)."""
    g = with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=4, padding="replicate")))
    fast = prepare(g)
    noise = g.make_noise(1, 40, 52, torch.Generator().manual_seed(5))
    with torch.no_grad():
        whole = g(noise)
    assert torch.allclose(fast.infer(noise), whole, atol=1e-4)
    assert torch.allclose(fast.sample(40, 52, seed=1, max_pixels_at_once=100), g.sample(40, 52, seed=1), atol=1e-4)
    with pytest.raises(ValueError, match="circular"):
        fast.forward_strips(noise, rows_per_strip=8)


@pytest.mark.parametrize("grayscale,activation", [(False, "leaky"), (True, "relu")])
def test_inference_layers_fused_or_not_give_the_same_images(monkeypatch, grayscale, activation):
    """run_layers: convolution + activation as one oneDNN call, grey to_rgb as a matrix-vector product, or each
    layer on its own (where oneDNN's fused op is missing): the same images as forward(), whole and in strips."""
    g = MultiScaleGenerator(GeneratorConfig(scales=4, grayscale=grayscale, activation=activation))
    for m in g.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.uniform_(m.bias, -0.5, 0.5, generator=torch.Generator().manual_seed(1))
    g = with_running_stats(g)
    noise = [z.contiguous(memory_format=torch.channels_last) for z in g.make_noise(1, 52, 70)]
    with torch.no_grad():
        reference = g(noise)
    folded = prepare(g)
    paths = (True, False) if kernels.fused_conv_available() else (False,)  # the fused op: oneDNN builds only
    for fused in paths:
        monkeypatch.setattr(kernels, "fused_conv_available", lambda fused=fused: fused)
        for out in (folded.infer(noise), folded.forward_strips(noise, rows_per_strip=16)):
            assert (out - reference).abs().max() < 1e-4


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (16, 16), (40, 9), (9, 40)])
def test_inference_form_samples_any_size(size):
    """Scales smaller than a block's halo (the coarsest of a 16 px sample is 1 px, padded by 2) wrap more than once,
    as the plain pass's per-convolution padding does: the same images, whole and in strips."""
    g = with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=5)))
    expected = g.sample(*size, seed=3)
    folded = prepare(g)
    assert (folded.sample(*size, seed=3) - expected).abs().max() < 1e-4
    assert (folded.sample(*size, seed=3, max_pixels_at_once=size[0] * size[1] - 1) - expected).abs().max() < 1e-4


def test_inference_form_samples_large_images_in_strips(monkeypatch):
    """Above max_pixels_at_once, strips of at most STRIP_ROWS rows: the same images."""
    g = prepare(with_running_stats(MultiScaleGenerator(GeneratorConfig(scales=4))))
    monkeypatch.setattr(inference_generator, "STRIP_ROWS", 16)
    calls = []
    monkeypatch.setattr(g, "forward_strips", lambda *a, **k: calls.append(k) or InferenceGenerator.forward_strips(
        g, *a, **k))
    strips = g.sample(40, 70, seed=2, max_pixels_at_once=70 * 40 - 1)  # width 40, height 70
    assert calls == [{"rows_per_strip": 16}]
    assert strips.shape == (1, 3, 70, 40)
    assert torch.allclose(strips, g.infer(g.seeded_noise(2, 1, 40, 70)).clamp(0, 1), atol=1e-5)
    g.sample(40, 70, seed=2, max_pixels_at_once=70 * 40)  # within the budget: one pass
    assert len(calls) == 1


def test_instance_norm_texture_generator_samples_large_sizes_in_strips():
    g = prepare(_instance_norm_texture())
    whole = g.sample(80, 96, seed=5)
    # up to STATISTICS_SIDE the statistics are the image's own: the same as one pass
    assert torch.equal(g.sample(80, 96, seed=5, max_pixels_at_once=48 * 48), whole)
    # strips with an image's own statistics give that image
    noise = g.seeded_noise(5, 1, 80, 96)
    with torch.no_grad(), use_statistics(g, g.record_statistics(noise, None)):
        strips = g.forward_strips(noise, rows_per_strip=16).clamp(0, 1)
    assert (strips - whole).abs().max() < 1e-4
    assert not g.is_local()  # the frozen statistics are released after sampling
    with pytest.raises(ValueError, match="frozen"):
        g.forward_strips(noise, rows_per_strip=16)


def test_instance_norm_strips_beyond_the_statistics_side_use_a_stand_in(monkeypatch):
    g = prepare(_instance_norm_texture())
    monkeypatch.setattr(inference_generator, "STATISTICS_SIDE", 48)
    whole = g.sample(80, 96, seed=5)
    strips = g.sample(80, 96, seed=5, max_pixels_at_once=48 * 48)
    # statistics from a smaller sample of the same seed: close to, not equal to, one pass
    assert 0 < (strips - whole).abs().mean() < 0.05


def test_bf16_finest_join_stays_within_two_levels_or_is_not_used(monkeypatch):
    from texnet.modelfile import load_model
    from texnet.zoo import resolve

    # the zoo's brick trained with batch 1 and samples as instance norm; kept with its running averages it is a
    # trained batch-norm generator
    brick = resolve("brick", "texnet")
    fp32, _ = load_model(brick, inference=True, bf16=False, running_stats=True)
    fast, _ = load_model(brick, inference=True, bf16=True, running_stats=True)
    assert fp32.cfg.norm == "batch" and not fp32.runs_bf16()
    a, b = fp32.sample(136, 200, seed=7), fast.sample(136, 200, seed=7)
    if fast.runs_bf16():  # the check passed (it does on every CPU tried; its outcome rests on bf16 rounding)
        assert not torch.equal(a, b)  # bf16 really ran
        assert (a - b).abs().max() <= 2 / 255
        # strips (large samples) go through the same bf16 join
        assert (fp32.sample(96, 64, seed=1, max_pixels_at_once=900)
                - fast.sample(96, 64, seed=1, max_pixels_at_once=900)).abs().max() <= 2 / 255
    else:
        assert torch.equal(a, b)
    # a model the check refuses stays in float32
    monkeypatch.setattr(inference_generator, "BF16_CHECK_TOLERANCE", 0.0)
    strict, _ = load_model(brick, inference=True, bf16=True, running_stats=True)
    assert not strict.runs_bf16() and torch.equal(strict.sample(136, 200, seed=7), a)
    # preparing again (export does) gives float32 back
    assert not prepare(fast).runs_bf16()
