"""Layer-by-layer strip inference (texnet.layerwise) computes what forward() computes."""

import pytest
import torch

from texnet import layerwise
from texnet.generators import (BF16_CHECK_TOLERANCE, GeneratorConfig, MultiScaleGenerator, record_statistics,
                               use_statistics)


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
    return g.seeded_noise(0, batch, h, w), content


CASES = [dict(scales=4), dict(scales=4, content_channels=3, padding="replicate"), dict(scales=3, padding="reflect"),
         dict(scales=3, padding="zeros", activation="relu", kernels=(3, 1))]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: c.get("padding", "circular"))
@pytest.mark.parametrize("size", [(37, 53), (64, 64)])
def test_equals_forward_in_many_strips(cfg, size, monkeypatch):
    monkeypatch.setattr(layerwise, "STRIP_PIXELS", 7 * 53)  # strips of a few rows, ragged at the end
    g = _generator(**cfg)
    noise, content = _inputs(g, 2, *size)
    with torch.inference_mode():
        expected = g(noise, content)
        got = layerwise.forward(g, noise, content)
    assert expected.std() > 0.01  # a picture, not a constant
    assert (got - expected).abs().max() < 1e-4


@pytest.mark.parametrize("cfg", CASES[:2], ids=["texture", "style"])
def test_frozen_and_recorded_statistics(cfg):
    """Tiles and video frames normalise with given statistics; recording them works through infer()."""
    g = _generator(**cfg)
    ref_noise, ref_content = _inputs(g, 1, 48, 40)
    with torch.inference_mode():
        recorded = record_statistics(g, ref_noise, ref_content)  # eval mode: layer by layer
        for m in g.modules():
            m.training = True
        in_training_form = record_statistics(g, ref_noise, ref_content)  # forward()
        g.eval()
    for (m1, v1), (m2, v2) in zip(recorded, in_training_form):
        assert torch.allclose(m1, m2, atol=1e-5) and torch.allclose(v1, v2, rtol=1e-4, atol=1e-6)
    noise, content = _inputs(g, 1, 30, 70)
    with torch.inference_mode(), use_statistics(g, recorded):
        assert (g.infer(noise, content) - g(noise, content)).abs().max() < 1e-4


def test_bf16_finest_join_is_checked_and_close():
    g = _generator(scales=4)
    fast = g.fold_batchnorm(finest_bf16=True)
    assert fast.runs_bf16() == fast.layerwise_bf16
    noise, _ = _inputs(g, 1, 96, 80)
    with torch.inference_mode():
        reference, got = g(noise), fast.infer(noise)
    limit = BF16_CHECK_TOLERANCE if fast.runs_bf16() else 1e-4
    assert (got.clamp(0, 1) - reference.clamp(0, 1)).abs().max() <= 2 * limit
    assert not g.fold_batchnorm(finest_bf16=False).runs_bf16()
