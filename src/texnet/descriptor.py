"""The fixed descriptor CNN: a VGG that returns the named activations the losses ask for.

One multi-layer encoder is shared by every loss (texture Gram, content, ...): a
single forward pass gives all requested layers, and the network is cut after the
deepest of them so no work is spent on layers nobody reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import nn

from texnet import weights as weight_sources

BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)


def layer_names(arch: str) -> list[str]:
    """pixels, relu1_1, relu1_2, pool1, relu2_1, ... in network order.

    'pixels' is the RGB input itself: its Gram holds the mean colour and colour
    covariance, which the (edge-tuned) VGG layers constrain only loosely.
    """
    names = ["pixels"]
    for b, count in enumerate(BLOCKS[arch], start=1):
        names += [f"relu{b}_{i}" for i in range(1, count + 1)]
        names.append(f"pool{b}")
    return names


@dataclass(frozen=True)
class DescriptorInfo:
    """What a model file records about the descriptor it was trained with."""

    source: str
    arch: str
    pooling: str
    weights_file: str


class VGGDescriptor(nn.Module):
    """Frozen VGG feature extractor on RGB input in [0, 1] (it does its own normalisation)."""

    def __init__(self, arch: str, convs: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 mean: Sequence[float], std: Sequence[float], layers: Iterable[str], pooling: str = "avg"):
        super().__init__()
        if pooling not in ("avg", "max"):
            raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        order = layer_names(arch)
        self.layers = tuple(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in order]
        if unknown:
            raise ValueError(f"{arch} has no layer(s) {', '.join(unknown)}; known: {', '.join(order)}")
        last = max(order.index(name) for name in self.layers)
        order = order[1:]  # "pixels" is the input, not an operation
        last -= 1
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.names: list[str] = []
        self.ops = nn.ModuleList()
        conv_iter = iter(convs)
        for name in order[: last + 1]:
            if name.startswith("relu"):
                weight, bias = next(conv_iter)
                conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
                conv.weight.data.copy_(weight)
                conv.bias.data.copy_(bias)
                self.ops.append(nn.Sequential(conv, nn.ReLU(inplace=False)))
            else:
                self.ops.append(nn.AvgPool2d(2, ceil_mode=True) if pooling == "avg" else nn.MaxPool2d(2, ceil_mode=True))
            self.names.append(name)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGDescriptor":
        """Always stays in eval mode: the descriptor is fixed."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        wanted = set(self.layers)
        if "pixels" in wanted:
            out["pixels"] = x
        x = (x - self.mean) / self.std
        for name, op in zip(self.names, self.ops):
            x = op(x)
            if name in wanted:
                out[name] = x
        return out


def load_descriptor(spec: str = "auto", layers: Iterable[str] = ("relu1_1",), pooling: str = "avg",
                    device: str | torch.device = "cpu") -> tuple[VGGDescriptor, DescriptorInfo]:
    """Build the descriptor from a source name ('auto', 'vgg19', 'vgg16-hed') or a weight file path."""
    source, path = weight_sources.resolve(spec)
    convs = weight_sources.read_convs(source, Path(path))
    model = VGGDescriptor(source.arch, convs, source.mean, source.std, layers, pooling).to(device)
    return model, DescriptorInfo(source=source.name, arch=source.arch, pooling=pooling, weights_file=str(path))


__all__ = ["VGGDescriptor", "DescriptorInfo", "load_descriptor", "layer_names"]
