"""Batch norm folded into the convolutions, and one circular pad per block: the same function, fewer passes.

Each eval-mode batch norm is a per-channel affine map: it folds into the convolution
before it (conv blocks), or into the join's first convolution after it (the norms in
front of each join; circular or replicate padding repeats values, so it commutes).
Then, for circular padding, each block pads its input once by the block's total halo and
convolves unpadded.
"""

from __future__ import annotations

import torch
from torch import nn

from texnet.layers import CircularPad
from texnet.limits import block_halo


class Bf16Block(nn.Module):
    """A block run in bfloat16 (autocast), handing back float32: the inference form's finest join
    (see texnet.inference.InferenceGenerator.use_bf16_finest)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.block(x).float()


def _affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval-mode batch norm as y = a * x + b per channel."""
    a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return a, bn.bias - a * bn.running_mean


@torch.no_grad()
def fold_batch_norms(g: nn.Module) -> bool:
    """Folds every batch norm of an eval-mode generator `g` (its branches, joins, up_norms, branch_norms) in
    place, pads each block once where padding is circular, and makes g channels_last (oneDNN's faster layout
    for these small convolutions). Returns whether blocks now pad once."""
    blocks = list(g.branches) + list(g.joins)
    for block in blocks:
        for i in range(len(block) - 1):
            conv, bn = block[i], block[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                a, b = _affine(bn)
                conv.weight.mul_(a.view(-1, 1, 1, 1))
                conv.bias.copy_(a * conv.bias + b)
                block[i + 1] = nn.Identity()
    if g.cfg.padding in ("circular", "replicate", "reflect"):
        for j, join in enumerate(g.joins):
            a_up, b_up = _affine(g.up_norms[j])
            a_fine, b_fine = _affine(g.branch_norms[j])
            a, b = torch.cat([a_up, a_fine]), torch.cat([b_up, b_fine])
            conv = join[0]
            conv.bias.add_((conv.weight * b.view(1, -1, 1, 1)).sum(dim=(1, 2, 3)))
            conv.weight.mul_(a.view(1, -1, 1, 1))
            g.up_norms[j] = nn.Identity()
            g.branch_norms[j] = nn.Identity()
    pads_once = g.cfg.padding == "circular"
    if pads_once:
        # With only pointwise layers left between them, a block's convolutions can share one circular pad of
        # the block's input by their total halo and run unpadded: the same values, a fraction of the copies.
        for container in (g.branches, g.joins):
            for i, block in enumerate(container):
                for m in block:
                    if isinstance(m, nn.Conv2d):
                        m.padding, m.padding_mode = (0, 0), "zeros"
                container[i] = nn.Sequential(CircularPad(block_halo(g.cfg.kernels)), *block)
    g.to(memory_format=torch.channels_last)
    return pads_once
