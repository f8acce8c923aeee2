"""Sampling in horizontal strips: the memory of a large texture follows the strip, not the image.

Every layer is local (convolutions, nearest upsampling, eval-mode batch norm, instance norm
with frozen statistics), so a strip of output rows needs only a few rows of context at each
scale, taken with circular indexing just as the circular padding would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from texnet.inference.kernels import run_join, unpadded
from texnet.layers import circular_padded, nearest_rows, upsample_nearest
from texnet.limits import block_halo
from texnet.noise import uniform_rows

if TYPE_CHECKING:
    from texnet.inference.generator import InferenceGenerator


class NoiseRows(Protocol):
    """One scale's noise, handing out any rows (read modulo its height) as (N, C, rows, width)."""

    height: int
    width: int

    def rows(self, lo: int, hi: int) -> torch.Tensor: ...


class TensorNoise:
    """Rows of a noise tensor that is there whole."""

    def __init__(self, z: torch.Tensor):
        self.z, self.height, self.width = z, z.shape[2], z.shape[3]

    def rows(self, lo: int, hi: int) -> torch.Tensor:
        return self.z.index_select(2, torch.arange(lo, hi, device=self.z.device) % self.height)


class HashedNoise:
    """Rows of one scale of texnet.noise's field for `seed`, made when asked for: a band of a texture too large to
    hold needs only its own rows (the same values as the whole field's)."""

    def __init__(self, seed: int, scale: int, channels: int, height: int, width: int, amplitude: float = 1.0,
                 device: torch.device | str = "cpu"):
        self.seed, self.scale, self.channels, self.amplitude, self.device = seed, scale, channels, amplitude, device
        self.height, self.width = height, width

    def rows(self, lo: int, hi: int) -> torch.Tensor:
        z = uniform_rows(self.seed, self.scale, self.channels, np.arange(lo, hi) % self.height, self.width)
        if self.amplitude != 1.0:
            z *= np.float32(self.amplitude)
        return torch.from_numpy(z)[None].to(self.device)


def forward_strips(g: "InferenceGenerator", noise: Sequence[torch.Tensor], rows_per_strip: int) -> torch.Tensor:
    """g's output for `noise`, computed `rows_per_strip` rows at a time (g must be local: see is_local)."""
    height = noise[0].shape[2]
    return forward_rows(g, [TensorNoise(z) for z in noise], 0, height, rows_per_strip)


def forward_rows(g: "InferenceGenerator", noise: Sequence[NoiseRows], a: int, b: int,
                 rows_per_strip: int) -> torch.Tensor:
    """Output rows a..b-1, strip by strip as forward_strips cuts the whole image (a a multiple of rows_per_strip),
    so that a band computes exactly what the whole image holds there."""
    pixels = g.fast_pixels if g.pads_once else g.pixels
    height = noise[0].height
    strips = [pixels(_rows(g, list(noise), 0, r, min(r + rows_per_strip, height, b)))
              for r in range(a, min(b, height), rows_per_strip)]
    return torch.cat(strips, dim=2)


def _rows(g: "InferenceGenerator", noise: list[NoiseRows], s: int, a: int, b: int) -> torch.Tensor:
    """Rows a..b-1 (any integers, read modulo the height) of the activation at scale s."""
    r = block_halo(g.cfg.kernels)
    z = noise[s]
    k = g.cfg.scales

    if s == k - 1:
        return _block_rows(g, g.branches[s], z.rows(a - r, b + r))
    j = k - 2 - s  # index of the join at this scale
    fine = g.branch_norms[j](_block_rows(g, g.branches[s], z.rows(a - 2 * r, b + 2 * r)))
    # nearest upsampling from the coarser scale, row map extended periodically
    h0, h1 = z.height, noise[s + 1].height
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
    up = g.up_norms[j](upsample_nearest(up, (up.shape[2], z.width)))
    return _block_rows(g, g.joins[j], torch.cat([up, fine], dim=1))


def _block_rows(g: "InferenceGenerator", block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A conv block on rows that carry its halo above and below: the rows in between.

    A block that pads once (texnet.inference.folding) pads only the columns, circularly: the rows are there."""
    r = block_halo(g.cfg.kernels)
    if g.pads_once:
        return unpadded(block, circular_padded(x, 0, 0, r, r))
    return block(x)[:, :, r:x.shape[2] - r]
