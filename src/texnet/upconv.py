"""A join's first convolution, with its upsampled half computed on the coarse grid.

Every join convolves [nearest 2x upsampling of the coarser path, the finer branch]. On the
upsampled channels a 3x3 kernel sees each coarse pixel twice in some rows and columns, so for
each of the four output phases (row parity, column parity) it is a 2x2 kernel on the coarse
grid whose taps are sums of the 3x3 taps. All four phases are one 2x2 convolution with 4x the
output channels, run on a quarter of the pixels: 4 taps per output pixel instead of 9. Its
outputs are gathered into place (one index_select), then the finer branch's 3x3 convolution
adds its part and the bias in the same oneDNN call. Same sums, another order: forward()'s result
up to float rounding. In a texture's finest join the upsampled channels are 32 of 40, so this is
about 45% fewer multiplications in its first convolution.

Float32 on CPU with oneDNN's fused convolution ops only (see `available`); padding that commutes
with nearest upsampling only (circular, replicate, zeros: a reflected row of the fine grid is not
the reflected coarse row). Geometry, as used by both callers: the output covers fine rows
r0 .. r0 + rows - 1 (any integers: padded rows included) and columns c0 .. ; `fine` holds fine
rows r0 - 1 .. r0 + rows and columns c0 - 1 .. c0 + cols (the 3x3 convolution's input);
`coarse` holds coarse rows from ceil(r0 / 2) - 1 and columns from ceil(c0 / 2) - 1, through at
least ceil((r0 + rows - 1) / 2) and ceil((c0 + cols - 1) / 2) (`coarse_span` gives the range).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

# For output row parity p (0: even, 1: odd), which 3x3 kernel rows fall on the coarse row above (tap 0) and on
# the next one (tap 1). Even fine row 2i reads fine rows 2i-1, 2i, 2i+1 = coarse rows i-1, i, i; odd row 2i+1
# reads 2i, 2i+1, 2i+2 = coarse rows i, i, i+1. The 2x2 kernel of phase p is read at coarse row i+p.
_TAPS = (((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)),
         ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0)))
PADDING_MODES = ("circular", "replicate", "zeros")


@functools.lru_cache(maxsize=1)
def _fused_ops_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise") \
        and hasattr(torch.ops.mkldnn, "_convolution_pointwise_")


def available(conv: nn.Module, coarse_channels: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether `conv`, on a `dtype` input on `device` whose first `coarse_channels` are upsampled, can run here."""
    return (isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and 0 < coarse_channels < conv.in_channels
            and device.type == "cpu" and dtype == torch.float32 and conv.weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu") and _fused_ops_available())


def ceil_half(r: int) -> int:
    return (r + 1) // 2


def coarse_span(start: int, length: int) -> tuple[int, int]:
    """The coarse rows (or columns) [lo, hi) needed for `length` fine output rows from `start`."""
    return ceil_half(start) - 1, ceil_half(start + length - 1) + 1


def _split(conv: nn.Conv2d, coarse_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the four phases' 2x2 kernels as one (4 * out, coarse, 2, 2) weight, the fine channels' 3x3 weight), both
    channels_last; kept on the module, and recomputed when its weight changes (training between samples)."""
    w = conv.weight
    key = (w.data_ptr(), w._version, coarse_channels)
    cached = conv.__dict__.get("_texnet_upconv")
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    taps = torch.tensor(_TAPS, dtype=w.dtype, device=w.device)
    # phase (py, px), output o, input i, taps (ty, tx): sum over the 3x3 rows k and columns l that fall on them
    up = torch.einsum("ptk,oikl,qsl->pqoits", taps, w[:, :coarse_channels], taps)
    up = up.reshape(4 * w.shape[0], coarse_channels, 2, 2).contiguous(memory_format=torch.channels_last)
    fine = w[:, coarse_channels:].contiguous(memory_format=torch.channels_last)
    conv.__dict__["_texnet_upconv"] = (key, up, fine)  # a plain attribute: not a parameter, not in state_dict
    return up, fine


@functools.lru_cache(maxsize=64)
def _gather_index(row_parity: int, rows: int, col_parity: int, cols: int, phase_cols: int) -> torch.Tensor:
    """For each output pixel (row-major), its row in the phase output viewed as (pixels * 4 phases, channels)."""
    r = torch.arange(row_parity, row_parity + rows)
    c = torch.arange(col_parity, col_parity + cols)
    pr = (r + 1).div(2, rounding_mode="floor") - (row_parity + 1) // 2  # ceil(r / 2), from the first phase row
    pc = (c + 1).div(2, rounding_mode="floor") - (col_parity + 1) // 2
    phase = 2 * (r % 2)[:, None] + (c % 2)[None, :]
    return ((pr[:, None] * phase_cols + pc[None, :]) * 4 + phase).reshape(-1)


def conv(conv: nn.Conv2d, coarse: torch.Tensor, fine: torch.Tensor, r0: int, c0: int) -> torch.Tensor:
    """conv (unpadded, 3x3) over [coarse upsampled 2x, fine], as laid out in the module docstring: a
    channels_last (N, out, rows, cols) tensor, the bias included, no activation."""
    w_up, w_fine = _split(conv, coarse.shape[1])
    n, out_ch = fine.shape[0], conv.out_channels
    rows, cols = fine.shape[2] - 2, fine.shape[3] - 2
    lo_r, hi_r = coarse_span(r0, rows)
    lo_c, hi_c = coarse_span(c0, cols)
    if coarse.shape[2] < hi_r - lo_r or coarse.shape[3] < hi_c - lo_c:
        raise ValueError(f"coarse input {tuple(coarse.shape[2:])} is smaller than its span "
                         f"{(hi_r - lo_r, hi_c - lo_c)}")
    coarse = coarse.contiguous(memory_format=torch.channels_last)
    fine = fine.contiguous(memory_format=torch.channels_last)
    phases = torch.ops.mkldnn._convolution_pointwise(coarse, w_up, None, [0, 0], [1, 1], [1, 1], 1, "none", [], "")
    out = torch.empty(n, out_ch, rows, cols, memory_format=torch.channels_last)
    index = _gather_index(r0 % 2, rows, c0 % 2, cols, phases.shape[3])
    source = phases.permute(0, 2, 3, 1).reshape(n, -1, out_ch)
    target = out.permute(0, 2, 3, 1).view(n, -1, out_ch)
    for b in range(n):
        torch.index_select(source[b], 0, index, out=target[b])
    return torch.ops.mkldnn._convolution_pointwise_.binary(out, fine, w_fine, conv.bias, [0, 0], [1, 1], [1, 1], 1,
                                                            "add", 1.0, None, [], "")
