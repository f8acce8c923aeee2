"""Small builders shared by several test files."""

import torch

from texnet.generators import GeneratorConfig, MultiScaleGenerator


def trained_like(cfg: GeneratorConfig, seed: int = 0) -> MultiScaleGenerator:
    """A generator with non-trivial norm statistics and affine parameters, as after training."""
    torch.manual_seed(seed)
    g = MultiScaleGenerator(cfg)
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(g.make_noise(2, 32, 32), torch.rand(2, 3, 32, 32) if cfg.content_channels else None)
        for m in g.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return g.eval()


def with_running_stats(g: MultiScaleGenerator) -> MultiScaleGenerator:
    """`g` with non-trivial batch-norm running statistics, as after training, in eval mode."""
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(g.make_noise(4, 32, 32))
    return g.eval()
