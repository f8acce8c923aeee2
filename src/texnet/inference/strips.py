"""Sampling in horizontal strips: the memory of a large texture follows the strip, not the image.

Every layer is local (convolutions, nearest upsampling, eval-mode batch norm, instance norm
with frozen statistics), so a strip of output rows needs only a few rows of context at each
scale, taken with circular indexing just as the circular padding would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
from torch import nn

from texnet.inference.kernels import run_join, unpadded
from texnet.layers import circular_padded, nearest_rows, upsample_nearest
from texnet.limits import block_halo

if TYPE_CHECKING:
    from texnet.inference.generator import InferenceGenerator


def forward_strips(g: "InferenceGenerator", noise: Sequence[torch.Tensor], rows_per_strip: int) -> torch.Tensor:
    """g's output for `noise`, computed `rows_per_strip` rows at a time (g must be local: see is_local)."""
    height = noise[0].shape[2]
    pixels = g.fast_pixels if g.pads_once else g.pixels
    strips = [pixels(_rows(g, list(noise), 0, a, min(a + rows_per_strip, height)))
              for a in range(0, height, rows_per_strip)]
    return torch.cat(strips, dim=2)


def _rows(g: "InferenceGenerator", noise: list[torch.Tensor], s: int, a: int, b: int) -> torch.Tensor:
    """Rows a..b-1 (any integers, read modulo the height) of the activation at scale s."""
    r = block_halo(g.cfg.kernels)
    z = noise[s]
    k = g.cfg.scales

    def take(t: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        idx = torch.arange(lo, hi, device=t.device) % t.shape[2]
        return t.index_select(2, idx)

    if s == k - 1:
        return _block_rows(g, g.branches[s], take(z, a - r, b + r))
    j = k - 2 - s  # index of the join at this scale
    fine = g.branch_norms[j](_block_rows(g, g.branches[s], take(z, a - 2 * r, b + 2 * r)))
    # nearest upsampling from the coarser scale, row map extended periodically
    h0, h1 = z.shape[2], noise[s + 1].shape[2]
    if g.pads_once and h0 == 2 * h1 and (a - r) % 2 == 0 and (b + r) % 2 == 0:
        # exact doubling from an even row: the coarse rows, each written twice by join_input (a row-gathered
        # copy of them, read across its channels, cost more than the join's 1x1 convolution)
        up = _rows(g, noise, s + 1, (a - r) // 2, (b + r) // 2)
    else:
        rows = torch.arange(a - r, b + r)
        src = torch.div(rows, h0, rounding_mode="floor") * h1 + nearest_rows(h0, h1)[rows % h0]
        c0, c1 = int(src.min()), int(src.max()) + 1
        coarse = _rows(g, noise, s + 1, c0, c1)
        up = coarse.index_select(2, (src - c0).to(coarse.device))
    if g.pads_once:  # upsample and concatenate straight into the join's column-padded input
        return run_join(g.joins[j], up, fine, r, pad_rows=False)
    up = g.up_norms[j](upsample_nearest(up, (up.shape[2], z.shape[3])))
    return _block_rows(g, g.joins[j], torch.cat([up, fine], dim=1))


def _block_rows(g: "InferenceGenerator", block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A conv block on rows that carry its halo above and below: the rows in between.

    A block that pads once (texnet.inference.folding) pads only the columns, circularly: the rows are there."""
    r = block_halo(g.cfg.kernels)
    if g.pads_once:
        return unpadded(block, circular_padded(x, 0, 0, r, r))
    return block(x)[:, :, r:x.shape[2] - r]
