"""CPU kernels of the inference form: fused convolution + activation, and joins whose input is written once.

Everything here computes what the layers compute one by one, up to float rounding; the
choices of kernel are measured in docs/performance.md.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from texnet.inference import upconv
from texnet.inference.folding import Bf16Block
from texnet.layers import circular_padded, wrap_edges


@functools.lru_cache(maxsize=1)
def fused_conv_available() -> bool:
    """oneDNN's convolution with the activation applied as it writes (the op inductor uses on CPU)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


# Inputs of fewer pixels than this (a sample's scales of 32 px and below) convolve with F.conv2d and a separate
# activation: there oneDNN's fused call costs more to set up than it saves (docs/performance.md, small scales).
FUSED_MIN_PIXELS = 48 * 48
FUSED_ACTIVATIONS = {nn.LeakyReLU: "leaky_relu", nn.ReLU: "relu"}


def run_layers(layers: Sequence[nn.Module], x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Layers of an inference-form block (or to_rgb), at inference: in float32 on CPU, on inputs of at least
    FUSED_MIN_PIXELS, each convolution and the activation after it (past the Identity a folded norm left) run as
    one oneDNN call, which applies the activation while the output is in cache; a 1x1 convolution to one channel
    (grey models) runs as a matrix-vector product, where oneDNN is slow. The same arithmetic as the layers one by
    one, up to rounding.
    inplace: x is the caller's to overwrite (an activation before any convolution then runs in place)."""
    fuse = x.device.type == "cpu" and x.dtype == torch.float32 and fused_conv_available() \
        and x.shape[-2] * x.shape[-1] >= FUSED_MIN_PIXELS
    layers, i = list(layers), 0
    while i < len(layers):
        m = layers[i]
        i += 1
        if isinstance(m, nn.Identity):  # where a folded norm was
            continue
        if inplace and type(m) in FUSED_ACTIVATIONS:
            x = F.leaky_relu_(x, m.negative_slope) if isinstance(m, nn.LeakyReLU) else F.relu_(x)
            continue
        inplace = False
        if not (fuse and isinstance(m, nn.Conv2d) and m.padding == (0, 0) and m.stride == (1, 1) and m.groups == 1):
            x = m(x)
            continue
        if i < len(layers) and isinstance(layers[i], nn.Identity):  # where a folded norm was
            i += 1
        act = layers[i] if i < len(layers) else None
        if m.out_channels == 1 and m.kernel_size == (1, 1) and x.is_contiguous(memory_format=torch.channels_last):
            n, c, h, w = x.shape
            flat = torch.addmv(m.bias.expand(n * h * w), x.permute(0, 2, 3, 1).reshape(-1, c), m.weight.view(c))
            x = flat.view(n, h, w, 1).permute(0, 3, 1, 2)
        elif type(act) in FUSED_ACTIVATIONS:
            slope = [act.negative_slope] if isinstance(act, nn.LeakyReLU) else []
            x = torch.ops.mkldnn._convolution_pointwise(x, m.weight, m.bias, [0, 0], [1, 1], list(m.dilation), 1,
                                                         FUSED_ACTIVATIONS[type(act)], slope, "")
            i += 1
        else:
            x = m(x)
    return x


def unpadded(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """An inference-form block on an input padded already."""
    if isinstance(block, Bf16Block):
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return block.block[1:](x).float()
    return run_layers(block[1:], x)


def join_input(up: torch.Tensor, fine: torch.Tensor, halo: int, dtype: torch.dtype,
               pad_rows: bool = False) -> torch.Tensor:
    """[up upsampled (nearest) to fine's size, fine] along channels, padded circularly by `halo` columns (and
    rows, with pad_rows), written once into a channels_last buffer of `dtype`: no upsampled, concatenated or
    padded temporaries. `up` has fine's rows already (strips) or the coarse rows (whole images)."""
    n, cu, h1, w1 = up.shape
    h, w = fine.shape[-2:]
    ph = halo if pad_rows else 0
    if halo > w or ph > h:  # a tiny scale: pad by wrapping more than once
        up = F.interpolate(up, size=(h, w), mode="nearest") if (h1, w1) != (h, w) else up
        return circular_padded(torch.cat([up, fine], dim=1), ph, ph, halo, halo).to(dtype)
    buf = torch.empty(n, cu + fine.shape[1], h + 2 * ph, w + 2 * halo, dtype=dtype, device=up.device,
                      memory_format=torch.channels_last)
    inner = buf[:, :, ph:ph + h, halo:halo + w]
    if h == 2 * h1 and w == 2 * w1:  # each coarse pixel as a 2x2 block, straight into the buffer
        inner[:, :cu].unflatten(3, (w1, 2)).unflatten(2, (h1, 2)).copy_(
            up[:, :, :, None, :, None].expand(n, cu, h1, 2, w1, 2))
    elif h == h1 and w == 2 * w1:
        inner[:, :cu].unflatten(3, (w1, 2)).copy_(up.unsqueeze(-1).expand(*up.shape, 2))
    else:
        inner[:, :cu].copy_(F.interpolate(up, size=(h, w), mode="nearest"))
    inner[:, cu:].copy_(fine)
    return wrap_edges(buf, ph, ph, halo, halo)


def run_join(join: nn.Module, up: torch.Tensor, fine: torch.Tensor, halo: int, pad_rows: bool) -> torch.Tensor:
    """An inference-form join on [up, fine], its input written once (in bf16 when the join runs in it).

    When up is the coarse grid itself (half fine's size each way), the first convolution runs its upsampled
    part there (texnet.inference.upconv); its input is then never upsampled at all."""
    h, w = fine.shape[-2:]
    if not isinstance(join, Bf16Block) and (2 * up.shape[2], 2 * up.shape[3]) == (h, w) and h * w >= FUSED_MIN_PIXELS \
            and upconv.available(join[1], up.shape[1], fine.dtype, fine.device):
        return run_layers(join[2:], _upconv_first(join[1], up, fine, halo, pad_rows), inplace=True)
    dtype = torch.bfloat16 if isinstance(join, Bf16Block) else fine.dtype
    return unpadded(join, join_input(up, fine, halo, dtype, pad_rows))


def _upconv_first(conv: nn.Conv2d, coarse: torch.Tensor, fine: torch.Tensor, halo: int, pad_rows: bool
                  ) -> torch.Tensor:
    """A join's first convolution (of its block's `halo`) on [coarse upsampled 2x, fine], padded circularly as
    join_input pads: columns always, rows with pad_rows (strips carry their rows already: fine's rows are coarse's
    rows doubled, from an even row). Coordinates as in texnet.inference.upconv, with fine's first row and column
    as 0."""
    h, w = fine.shape[-2:]
    r0, rows = (1 - halo, h + 2 * halo - 2) if pad_rows else (1, h - 2)
    c0, cols = 1 - halo, w + 2 * halo - 2
    lo_r, hi_r = upconv.coarse_span(r0, rows)
    lo_c, hi_c = upconv.coarse_span(c0, cols)
    coarse = circular_padded(coarse, -lo_r, hi_r - coarse.shape[2], -lo_c, hi_c - coarse.shape[3])
    fine = circular_padded(fine, halo if pad_rows else 0, halo if pad_rows else 0, halo, halo)
    return upconv.conv(conv, coarse, fine, r0, c0)
