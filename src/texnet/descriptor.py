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

from texnet.device import cpu_has_bf16
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
    precision: str = "fp32"


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

    precision = "fp32"  # or "bf16": autocast with channels_last (see `set_precision`)

    def set_precision(self, precision: str) -> "VGGDescriptor":
        """'fp32', 'bf16' or 'auto' (bf16 where the hardware has native bf16 matrix units)."""
        self.precision = resolve_precision(precision, self.mean.device)
        if self.precision == "bf16":
            self.to(memory_format=torch.channels_last)
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named activations; in bf16 mode the VGG layers come back as bf16 (losses upcast them)."""
        out: dict[str, torch.Tensor] = {}
        wanted = set(self.layers)
        if "pixels" in wanted:
            out["pixels"] = x
        x = (x - self.mean) / self.std
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            if self.precision == "bf16":
                x = x.contiguous(memory_format=torch.channels_last)
            for name, op in zip(self.names, self.ops):
                x = op(x)
                if name in wanted:
                    out[name] = x
        return out


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """'auto' means bf16 on CPUs with AVX512-BF16 and on GPUs with bf16 support, else fp32.

    The descriptor is fixed and only feeds statistics, so its bf16 rounding acts like a
    little extra noise; texnet's bench measured the effect against run-to-run noise.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def load_descriptor(spec: str = "auto", layers: Iterable[str] = ("relu1_1",), pooling: str = "avg",
                    device: str | torch.device = "cpu", precision: str = "fp32") -> tuple[VGGDescriptor, DescriptorInfo]:
    """Build the descriptor from a source name ('auto', 'vgg19', 'vgg16-hed') or a weight file path."""
    source, path = weight_sources.resolve(spec)
    convs = weight_sources.read_convs(source, Path(path))
    model = VGGDescriptor(source.arch, convs, source.mean, source.std, layers, pooling).to(device)
    model.set_precision(precision)
    return model, DescriptorInfo(source=source.name, arch=source.arch, pooling=pooling, weights_file=str(path),
                                 precision=model.precision)


__all__ = ["VGGDescriptor", "DescriptorInfo", "load_descriptor", "layer_names", "resolve_precision", "PRECISIONS"]
