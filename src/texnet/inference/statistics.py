"""Instance-norm statistics taken from one pass and used by another: tiles of a large photo, strips of a large
texture and the frames of a video are then normalised alike."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

from texnet.layers import InstanceNorm

Statistics = list[tuple[torch.Tensor, torch.Tensor]]


def instance_norms(module: nn.Module) -> list[InstanceNorm]:
    """The instance norms of a generator, in module order (the order statistics lists use)."""
    return [m for m in module.modules() if isinstance(m, InstanceNorm)]


@contextlib.contextmanager
def recording(module: nn.Module) -> Iterator[list[InstanceNorm]]:
    """Within the block, each instance norm keeps the statistics of the pass it sees (`frozen` afterwards)."""
    norms = instance_norms(module)
    for m in norms:
        m.frozen, m.record = None, True
    try:
        yield norms
    finally:
        for m in norms:
            m.frozen, m.record = None, False


@torch.no_grad()
def record_statistics(generator: nn.Module, noise: Sequence[torch.Tensor],
                      content: torch.Tensor | None) -> Statistics | None:
    """Every instance norm's (mean, var) in one pass of `generator.infer` on these inputs; None for a model
    without instance norm.

    Used to process a large image in pieces: the reference is the whole image at a size that fits in
    memory, and every piece is then normalised with its statistics (use_statistics)."""
    if not instance_norms(generator):
        return None
    with recording(generator) as norms:
        generator.infer(noise, content)
        return [m.frozen for m in norms]


@contextlib.contextmanager
def use_statistics(module: nn.Module, stats: Statistics | None):
    """Within the block, instance norms use `stats` (from InferenceGenerator.record_statistics) instead of
    their own; None changes nothing."""
    norms = instance_norms(module) if stats is not None else []
    for m, frozen in zip(norms, stats or []):
        m.frozen = frozen
    try:
        yield
    finally:
        for m in norms:
            m.frozen = None
