"""Small builders shared by several test files."""

import torch

from texnet.generators import Generator, GeneratorConfig, MultiScaleGenerator, build_generator


def trained_like(cfg: GeneratorConfig, seed: int = 0) -> Generator:
    """A generator (of cfg.arch) with non-trivial norm statistics and affine parameters, as after training;
    the last convolution is scaled up so that the image shows them (an untrained one is nearly flat grey)."""
    torch.manual_seed(seed)
    g = build_generator(cfg)
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(g.make_noise(2, 32, 32), torch.rand(2, 3, 32, 32) if cfg.content_channels else None)
        for m in g.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
        if cfg.arch != "multiscale":
            g.to_rgb.weight.mul_(40.0)
    return g.eval()


def with_running_stats(g: MultiScaleGenerator) -> MultiScaleGenerator:
    """`g` with non-trivial batch-norm running statistics, as after training, in eval mode."""
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(g.make_noise(4, 32, 32))
    return g.eval()
