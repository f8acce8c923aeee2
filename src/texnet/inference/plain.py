"""The inference form of a network without texnet's special cases (the residual encoder-decoder).

Its own forward() under inference mode: the residual network's cost is in its 3x3 convolutions at
1/4 resolution, which oneDNN runs well as they are, so it has no folded or layer-by-layer form. Large
photos are still tiled with shared instance-norm statistics (texnet.stylizer), like every style model.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch

from texnet.generators import Generator
from texnet.inference.statistics import Statistics, record_statistics


class PlainInference(Generator):
    """An eval-mode copy of `generator`, with the methods the samplers, the stylizer and the export call."""

    def __init__(self, generator: Generator, bf16: bool = False):
        super().__init__()
        with torch.inference_mode(False):  # ordinary tensors even when made under inference mode
            self.net = copy.deepcopy(generator)
        self.cfg = self.net.cfg
        self.eval()

    def forward(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(noise, content)

    @torch.inference_mode()
    def infer(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        return self(noise, content)

    def record_statistics(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None) -> Statistics | None:
        return record_statistics(self, noise, content)

    def runs_bf16(self) -> bool:
        return False


__all__ = ["PlainInference"]
