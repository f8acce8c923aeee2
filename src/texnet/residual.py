"""A residual encoder-decoder for stylization (behind `train-style --arch residual`).

The network of Johnson et al.'s feed-forward style transfer, with Ulyanov et al.'s instance
norm, as peers use it: a 9x9 convolution at full resolution, stride-2 convolutions down to
1/2^(K-1), residual blocks there, nearest upsampling and a convolution per scale back up,
and a 9x9 convolution to pixels. About 1.8M parameters at the default width, against the
multi-scale network's 0.1M: more capacity for strokes that follow the photo's objects.
Narrow and with smaller end kernels (`channels`, `edge_kernel`) it is as cheap as one-pass
peers at large sizes (docs/stylization.md has the times).

It keeps texnet's interface, so training, model files, ONNX export, the torch-free runtime,
tiling and the web page need nothing new: noise comes as one tensor per scale (finest first,
ceil(H / 2^s) x ceil(W / 2^s)) and each joins the encoder at its own resolution, and every
normalisation is texnet's InstanceNorm, whose statistics tiles and video frames share.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from texnet.generators import Generator, GeneratorConfig
from texnet.layers import Conv2d, make_activation, make_norm, upsample_nearest


def conv(i: int, o: int, k: int, cfg: GeneratorConfig, stride: int = 1, act: bool = True) -> nn.Sequential:
    """k x k convolution (padded `cfg.padding`-wise), instance norm and, unless act is False, the non-linearity."""
    layers: list[nn.Module] = [Conv2d(i, o, k, stride=stride, padding=k // 2, padding_mode=cfg.padding),
                               make_norm(cfg.norm, o)]
    if act:
        layers.append(make_activation(cfg.activation))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """x + (conv, norm, act, conv, norm)(x): the residual learns a change to the features, not new ones."""

    def __init__(self, channels: int, cfg: GeneratorConfig):
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels, 3, cfg), conv(channels, channels, 3, cfg, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGenerator(Generator):
    """g(y, z): content image and noise per scale -> stylized image; see the module docstring."""

    def __init__(self, cfg: GeneratorConfig, seed: int | None = None):
        super().__init__()
        self.cfg = cfg
        if cfg.scales < 1:
            raise ValueError("a generator needs at least one scale")
        if cfg.content_channels == 0:
            raise ValueError("the residual generator stylizes: it needs content_channels > 0")
        if cfg.edge_kernel < 1 or cfg.edge_kernel % 2 == 0:  # an even kernel would change the output size
            raise ValueError(f"edge_kernel must be odd and positive, not {cfg.edge_kernel}")
        nc, c = cfg.noise_channels, cfg.channels
        widths = [c * 2 ** s for s in range(cfg.scales)]  # channels at scale s
        self.stem = conv(cfg.content_channels + nc, c, cfg.edge_kernel, cfg)
        # down[s - 1]: scale s - 1 (with that scale's noise joined, for s > 1) -> scale s
        self.down = nn.ModuleList(conv(widths[s - 1] + (nc if s > 1 else 0), widths[s], 3, cfg, stride=2)
                                  for s in range(1, cfg.scales))
        deepest = widths[-1]
        self.mix = conv(deepest + (nc if cfg.scales > 1 else 0), deepest, 3, cfg)  # the coarsest noise joins here
        self.blocks = nn.Sequential(*(ResidualBlock(deepest, cfg) for _ in range(cfg.blocks)))
        # up[i]: scale s + 1 -> s, for s = scales - 2 .. 0
        self.up = nn.ModuleList(conv(widths[s + 1], widths[s], 3, cfg) for s in range(cfg.scales - 2, -1, -1))
        self.to_rgb = Conv2d(c, 1 if cfg.grayscale else 3, cfg.edge_kernel, padding=cfg.edge_kernel // 2,
                             padding_mode=cfg.padding)
        self.init_weights(seed)

    def forward(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        if content is None:
            raise ValueError("this generator stylizes: it needs a content image")
        x = self.stem(torch.cat([content, noise[0]], dim=1))
        sizes = [x.shape[-2:]]
        for s, down in enumerate(self.down, start=1):
            x = down(x if s == 1 else torch.cat([x, noise[s - 1]], dim=1))
            sizes.append(x.shape[-2:])
        if self.cfg.scales > 1:
            x = torch.cat([x, noise[-1]], dim=1)
        x = self.blocks(self.mix(x))
        for up, size in zip(self.up, reversed(sizes[:-1])):
            x = up(upsample_nearest(x, size))
        return self.to_image(self.to_rgb(x))


__all__ = ["ResidualGenerator", "ResidualBlock"]
