"""Layer-by-layer strip inference (texnet.inference.layerwise) computes what forward() computes."""

import pytest
import torch

from texnet.inference import layerwise, prepare
from texnet.inference.generator import BF16_CHECK_TOLERANCE
from texnet.generators import GeneratorConfig, MultiScaleGenerator


@pytest.fixture(autouse=True)
def every_scale_layer_by_layer(monkeypatch):
    """These tests' images are small: without this, all their scales would run module by module."""
    monkeypatch.setattr(layerwise, "MODULE_MAX_PIXELS", 0)


def _generator(**cfg) -> MultiScaleGenerator:
    """An instance-norm generator with norms that do something (not the identity of a fresh one)."""
    g = MultiScaleGenerator(GeneratorConfig(norm="instance", **cfg), seed=1).eval()
    rng = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if "norm" in name or "joins" in name or "branches" in name:
                p.add_(0.2 * torch.randn(p.shape, generator=rng))
        g.to_rgb.weight.mul_(40)  # outputs are in 0..255 units: make them span grey levels
    return g


def _inputs(g: MultiScaleGenerator, batch: int, h: int, w: int):
    content = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(3)) if g.cfg.content_channels else None
    return g.seeded_noise(0, batch, w, h), content


CASES = [dict(scales=4), dict(scales=4, content_channels=3, padding="replicate"), dict(scales=3, padding="reflect"),
         dict(scales=3, padding="zeros", activation="relu", kernels=(3, 1))]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: c.get("padding", "circular"))
@pytest.mark.parametrize("size", [(37, 53), (64, 64)])
@pytest.mark.parametrize("channels_last", [True, False], ids=["channels_last", "channels_first"])
@pytest.mark.parametrize("module_max", [0, 600], ids=["all_layerwise", "small_scales_by_module"])
def test_equals_forward_in_many_strips(cfg, size, channels_last, module_max, monkeypatch):
    monkeypatch.setattr(layerwise, "STRIP_PIXELS", 7 * 53)  # strips of a few rows, ragged at the end
    monkeypatch.setattr(layerwise, "MODULE_MAX_PIXELS", module_max)  # 600: the two coarsest joins by module
    monkeypatch.setattr(layerwise, "CHANNELS_LAST_FLOAT32", channels_last)
    g = _generator(**cfg)
    noise, content = _inputs(g, 2, *size)
    with torch.inference_mode():
        expected = g(noise, content)
        got = layerwise.forward(prepare(g), noise, content)
    assert expected.std() > 0.01  # a picture, not a constant
    assert (got - expected).abs().max() < 1e-4


@pytest.mark.parametrize("cfg", CASES[:2], ids=["texture", "style"])
def test_frozen_and_recorded_statistics(cfg):
    """Tiles and video frames normalise with given statistics; recording them works layer by layer."""
    from texnet.inference.statistics import recording, use_statistics

    g = _generator(**cfg)
    fast = prepare(g)
    ref_noise, ref_content = _inputs(g, 1, 40, 48)
    with torch.inference_mode():
        recorded = fast.record_statistics(ref_noise, ref_content)  # layer by layer
        with recording(g) as norms:
            g(ref_noise, ref_content)  # forward()
            in_forward = [m.frozen for m in norms]
    assert len(recorded) == len(in_forward) == 2 * len(g.joins) + sum(len(b) // 3 for b in [*g.branches, *g.joins])
    for (m1, v1), (m2, v2) in zip(recorded, in_forward):
        assert torch.allclose(m1, m2, atol=1e-5) and torch.allclose(v1, v2, rtol=1e-4, atol=1e-6)
    noise, content = _inputs(g, 1, 70, 30)
    with torch.inference_mode(), use_statistics(fast, recorded), use_statistics(g, recorded):
        assert (fast.infer(noise, content) - g(noise, content)).abs().max() < 1e-4


def test_bf16_finest_join_is_checked_and_close():
    g = _generator(scales=4)
    fast = prepare(g, bf16=True)
    assert fast.runs_bf16() == fast.layerwise_bf16
    noise, _ = _inputs(g, 1, 80, 96)
    with torch.inference_mode():
        reference, got = g(noise), fast.infer(noise)
    limit = BF16_CHECK_TOLERANCE if fast.runs_bf16() else 1e-4
    assert (got.clamp(0, 1) - reference.clamp(0, 1)).abs().max() <= 2 * limit
    assert not prepare(g, bf16=False).runs_bf16()


def test_stored_strips_hand_out_any_rows_with_their_steps():
    """A convolution's output kept as ragged strips reads like the whole tensor: runs across strip ends,
    wrap-around and jumps; bf16 strips come out in float32 with the steps applied."""
    full = torch.randn(2, 3, 23, 5, generator=torch.Generator().manual_seed(0))
    cuts = [0, 7, 8, 16, 23]
    scale, shift = torch.rand(1, 3, 1, 1) + 0.5, torch.randn(1, 3, 1, 1)
    step = [(scale, shift, "leaky")]
    for dtype in (torch.float32, torch.bfloat16):
        stored = layerwise.Stored([(a, full[:, :, a:b].to(dtype)) for a, b in zip(cuts, cuts[1:])], step)
        assert (stored.channels, stored.height, stored.width) == (3, 23, 5)
        index = torch.tensor([21, 22, 0, 1, 2, 6, 7, 8, 9, 15, 16, 3, 3])
        expected = torch.nn.functional.leaky_relu(full.to(dtype).float().index_select(2, index) * scale + shift, 0.01)
        got = stored.rows(index, 2)
        assert got.dtype == torch.float32
        assert torch.allclose(got, expected, atol=1e-5)


def test_statistics_of_a_doubled_source_come_from_the_coarse_one():
    coarse = layerwise.Stored(torch.randn(1, 4, 6, 9, generator=torch.Generator().manual_seed(1)))
    doubled = layerwise.Upsampled(coarse, 12, 18)
    direct = layerwise._Sums()
    direct.add(doubled.rows(torch.arange(12), 1))
    for a, b in zip(layerwise._statistics(doubled, 1).mean_var(), direct.mean_var()):
        assert torch.allclose(a, b, atol=1e-6)
    odd = layerwise.Upsampled(coarse, 13, 18)  # not an exact doubling: its own pass
    assert layerwise._statistics(odd, 1).count == 13 * 18


@pytest.mark.parametrize("chunk", [10, 1000])
def test_sums_of_channels_last_strips_equal_channels_first_ones(chunk, monkeypatch):
    monkeypatch.setattr(layerwise._Sums, "CHUNK", chunk)  # squares taken in chunks of pixels, ragged at the end
    x = torch.randn(2, 5, 7, 11, generator=torch.Generator().manual_seed(4)) * 3 + 1
    first, last = layerwise._Sums(), layerwise._Sums()
    first.add(x)
    last.add(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(first.mean_var(), last.mean_var()):
        assert torch.allclose(a, b, atol=1e-5)
    assert first.count == last.count == 7 * 11
