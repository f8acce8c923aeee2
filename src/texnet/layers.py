"""The layers the generators are built from: norms, conv blocks, circular padding, nearest upsampling.

A leaf module: the model (texnet.generators) and its inference forms (texnet.inference) both use
it, and it imports neither.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F


class InstanceNorm(nn.InstanceNorm2d):
    """Instance norm whose statistics can be recorded, frozen or supplied from outside.

    In training (gradients on) it is F.instance_norm. Per-tile statistics would give each tile of a large photo
    its own contrast; with
    `frozen` set (see texnet.inference.record_statistics and use_statistics) every tile is
    normalised alike. `blend` serves the ONNX export: the graph computes its own statistics,
    reports them, and uses weight * supplied + (1 - weight) * computed, so one graph does both
    passes of tiling. A 1x1 map normalises to 0 (its output is the bias), as the formula gives.
    """

    def __init__(self, channels: int):
        super().__init__(channels, affine=True)
        self.frozen: tuple[torch.Tensor, torch.Tensor] | None = None
        self.record = False
        self.blend: tuple[torch.Tensor, torch.Tensor, torch.Tensor, list] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and self.frozen is None and not self.record and self.blend is None \
                and x.shape[-1] * x.shape[-2] > 1 and not torch.onnx.is_in_onnx_export():
            # training: PyTorch's fused kernels (forward and backward), the same function up to rounding
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        if self.frozen is not None:
            mean, var = self.frozen
        else:
            # E[x^2] - E[x]^2 from two reductions (the L2 norm exports as one ReduceL2), with no full-size
            # temporaries: in the exported graph the elementwise passes, not the convolutions, cost most
            mean = x.mean(dim=(2, 3), keepdim=True)
            norm = torch.linalg.vector_norm(x, dim=(2, 3), keepdim=True)
            var = (norm * norm / (x.shape[2] * x.shape[3]) - mean * mean).clamp_min(0)
            if self.blend is not None:
                given_mean, given_var, weight, sink = self.blend
                sink.append((mean, var))
                mean = weight * given_mean + (1 - weight) * mean
                var = weight * given_var + (1 - weight) * var
            elif self.record:
                self.frozen = (mean, var)
        # one scale and one shift per channel, computed on the small statistics: two full-size passes
        scale = self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return x * scale + (self.bias.view(1, -1, 1, 1) - mean * scale)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return InstanceNorm(channels)
    raise ValueError(f"norm must be 'batch' or 'instance', not {kind!r}")


def make_activation(kind: str) -> nn.Module:
    if kind == "leaky":
        return nn.LeakyReLU(0.01, inplace=True)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(f"activation must be 'leaky' or 'relu', not {kind!r}")


class _CircularPad(torch.autograd.Function):
    """Circular padding by p on H and W with a backward of a few slice additions: PyTorch's own (F.pad) takes
    several times as long, which made padding a third of a texture generator's training pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: int) -> torch.Tensor:
        ctx.p = p
        h, w = x.shape[-2:]
        out = x.new_empty(*x.shape[:-2], h + 2 * p, w + 2 * p)
        out[..., p:p + h, p:p + w] = x
        out[..., p:p + h, :p] = x[..., w - p:]
        out[..., p:p + h, p + w:] = x[..., :p]
        out[..., :p, :] = out[..., h:h + p, :]
        out[..., p + h:, :] = out[..., p:2 * p, :]
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        p = ctx.p
        h, w = grad.shape[-2] - 2 * p, grad.shape[-1] - 2 * p
        rows = grad[..., p:p + h, :].clone()
        rows[..., h - p:, :] += grad[..., :p, :]
        rows[..., :p, :] += grad[..., p + h:, :]
        out = rows[..., p:p + w].clone()
        out[..., w - p:] += rows[..., :p]
        out[..., :p] += rows[..., p + w:]
        return out, None


class Conv2d(nn.Conv2d):
    """nn.Conv2d whose circular padding runs as _CircularPad (the same values; ONNX export traces F.pad)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        p = self.padding[0]
        if self.padding_mode != "circular" or self.padding != (p, p) or torch.onnx.is_in_onnx_export() \
                or p > min(x.shape[-2:]):
            return super()._conv_forward(x, weight, bias)
        x = _CircularPad.apply(x, p) if p else x
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)


def conv_block(in_ch: int, out_ch: int, kernels: Sequence[int], norm: str, activation: str,
               padding: str) -> nn.Sequential:
    """Convolutions of the given kernel sizes (stride 1, padded `padding`-wise), each followed by norm and
    non-linearity: the paper's block is 3x3, 3x3, 1x1."""
    layers: list[nn.Module] = []
    for k in kernels:
        layers += [Conv2d(in_ch, out_ch, k, padding=k // 2, padding_mode=padding),
                   make_norm(norm, out_ch), make_activation(activation)]
        in_ch = out_ch
    return nn.Sequential(*layers)


def upsample_nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resampling to `size` (H, W): neighbours, wrap-around ones included, stay
    neighbours, so periodicity survives any size."""
    return F.interpolate(x, size=size, mode="nearest")


@functools.lru_cache(maxsize=128)
def nearest_rows(out_size: int, in_size: int) -> torch.Tensor:
    """Which input row nearest upsampling reads for each output row (computed once per size pair)."""
    grid = torch.arange(in_size, dtype=torch.float32).view(1, 1, in_size, 1)
    return F.interpolate(grid, size=(out_size, 1), mode="nearest").view(-1).long()


class CircularPad(nn.Module):
    """Pads H and W circularly by `halo`: once per conv block in the inference form (texnet.inference)."""

    def __init__(self, halo: int):
        super().__init__()
        self.halo = halo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.halo
        if not h:
            return x
        if torch.onnx.is_in_onnx_export():  # traced as slices: no wrapping more than once (limits.smallest_side)
            return F.pad(x, (h,) * 4, mode="circular")
        return circular_padded(x, h, h, h, h)


def wrap_edges(buf: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Fills the borders of buf (top rows, bottom rows, left and right columns) circularly from its interior,
    which holds an image already: no larger borders than that image."""
    h, w = buf.shape[2] - top - bottom, buf.shape[3] - left - right
    if left:
        buf[:, :, top:top + h, :left].copy_(buf[:, :, top:top + h, w:w + left])
    if right:
        buf[:, :, top:top + h, left + w:].copy_(buf[:, :, top:top + h, left:left + right])
    if top:
        buf[:, :, :top].copy_(buf[:, :, h:h + top])
    if bottom:
        buf[:, :, top + h:].copy_(buf[:, :, top:top + bottom])
    return buf


def circular_padded(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """x padded circularly into a fresh channels_last buffer (any border, even one larger than x)."""
    n, c, h, w = x.shape
    buf = torch.empty(n, c, h + top + bottom, w + left + right, dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    if max(top, bottom) <= h and max(left, right) <= w:
        buf[:, :, top:top + h, left:left + w].copy_(x)
        return wrap_edges(buf, top, bottom, left, right)
    rows = torch.arange(-top, h + bottom, device=x.device) % h
    cols = torch.arange(-left, w + right, device=x.device) % w
    return buf.copy_(x.index_select(2, rows).index_select(3, cols))


__all__ = ["InstanceNorm", "Conv2d", "make_norm", "make_activation", "conv_block", "upsample_nearest", "nearest_rows",
           "CircularPad", "circular_padded", "wrap_edges"]
