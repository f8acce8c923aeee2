"""A join's first convolution, with its upsampled half computed on the coarse grid.

Every join convolves [nearest 2x upsampling of the coarser path, the finer branch]. On the
upsampled channels a 3x3 kernel sees each coarse pixel twice in some rows and columns, so for
each of the four output phases (row parity, column parity) it is a 2x2 kernel on the coarse
grid whose taps are sums of the 3x3 taps. All four phases are one 2x2 convolution with 4x the
output channels, run on a quarter of the pixels: 4 taps per output pixel instead of 9. Its
outputs are copied into place (strided copies: fine rows 2i-1 and 2i read the same coarse rows,
so their phases lie side by side), then the finer branch's 3x3 convolution adds its part and
the bias in the same oneDNN call. Same sums, another order: forward()'s result
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

# Which 3x3 kernel rows fall on the coarse row above (tap 0) and on the next one (tap 1), for the odd output row
# (phase 0) and the even one (phase 1) of a pair. Odd fine row 2i-1 reads fine rows 2i-2, 2i-1, 2i = coarse rows
# i-1, i-1, i; even row 2i reads 2i-1, 2i, 2i+1 = coarse rows i-1, i, i. Both read coarse rows i-1 and i, so the
# pair's two phases are one 2x2 convolution's outputs at the same place, side by side in memory.
_TAPS = (((1.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
         ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)))
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
    # phase (row, column; 0 odd, 1 even), output o, input i, taps (ty, tx): sums of the 3x3 taps (k, l) on them
    up = torch.einsum("ptk,oikl,qsl->pqoits", taps, w[:, :coarse_channels], taps)
    up = up.reshape(4 * w.shape[0], coarse_channels, 2, 2).contiguous(memory_format=torch.channels_last)
    fine = w[:, coarse_channels:].contiguous(memory_format=torch.channels_last)
    conv.__dict__["_texnet_upconv"] = (key, up, fine)  # a plain attribute: not a parameter, not in state_dict
    return up, fine


def _segments(start: int, length: int) -> list[tuple[int, int, int, int, int]]:
    """Fine rows start .. start + length - 1 (absolute) as runs of (first output row, count, rows per phase row
    (2: a pair, odd then even; 1: a single row), first phase row, first phase): a lone even row first, the pairs,
    a lone odd row last. Phase row of fine row r: ceil(r / 2) - ceil(start / 2); phase: 0 odd, 1 even."""
    runs, first = [], ceil_half(start)
    out = 0
    if start % 2 == 0:  # a lone even row (its pair's odd row lies before the output)
        runs.append((0, 1, 1, 0, 1))
        out = 1
    pairs = (length - out) // 2
    if pairs:
        runs.append((out, pairs, 2, ceil_half(start + out) - first, 0))
    if out + 2 * pairs < length:  # a lone odd row (its even row lies after the output)
        runs.append((out + 2 * pairs, 1, 1, ceil_half(start + out + 2 * pairs) - first, 0))
    return runs


def _place(phases: torch.Tensor, out: torch.Tensor, r0: int, c0: int) -> None:
    """Copies the phase convolution's output (channels_last (N, 4 * C, P, Q), phases (row, column) outermost)
    into `out` (channels_last (N, C, rows, cols), fine rows from r0 and columns from c0): one strided copy per
    run of rows and of columns, so one copy when both start odd and have even lengths."""
    n, ch, rows, cols = out.shape
    src = phases.permute(0, 2, 3, 1).unflatten(3, (2, 2, ch))  # (N, P, Q, row phase, column phase, C)
    dst = out.permute(0, 2, 3, 1)  # (N, rows, cols, C), a view
    for a, nr, wr, pr, qr in _segments(r0, rows):
        for b, nc, wc, pc, qc in _segments(c0, cols):
            target = dst[:, a:a + nr * wr, b:b + nc * wc].unflatten(2, (nc, wc)).unflatten(1, (nr, wr))
            target.copy_(src[:, pr:pr + nr, pc:pc + nc, qr:qr + wr, qc:qc + wc].permute(0, 1, 3, 2, 4, 5))


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
    _place(phases, out, r0, c0)
    return torch.ops.mkldnn._convolution_pointwise_.binary(out, fine, w_fine, conv.bias, [0, 0], [1, 1], [1, 1], 1,
                                                            "add", 1.0, None, [], "")
