"""Losses on descriptor features: the Gram texture loss, the content loss, total variation.

Losses take the feature dicts that one descriptor pass returns, so a style loss and
a content loss share that pass. Every loss returns one value per sample (shape (B,))
so training can average them and benchmarks can compare single images.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

PAPER_TEXTURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PAPER_CONTENT_LAYERS = ("relu4_2",)


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) feature correlations averaged over positions.

    Dividing by H*W makes the statistic independent of image size, so the Gram of a
    large exemplar is a valid target for small training samples and vice versa.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


class TextureLoss(nn.Module):
    """sum_l w_l * mean_ij (G_l(x)_ij - G_l(x0)_ij)^2 (paper eq. 5; Gatys et al.'s scaling up to 1/4)."""

    def __init__(self, targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float] | None = None):
        super().__init__()
        self.layers = tuple(targets)
        weights = dict(layer_weights or {})
        self.layer_weights = {name: float(weights.get(name, 1.0)) for name in self.layers}
        for name, target in targets.items():
            self.register_buffer(f"target_{name}", target.detach().clone())

    @classmethod
    def from_features(cls, features: Mapping[str, torch.Tensor], layers: Sequence[str],
                      layer_weights: Mapping[str, float] | None = None) -> "TextureLoss":
        """Targets from the descriptor features of one exemplar (batch of 1)."""
        return cls({name: gram(features[name])[0] for name in layers}, layer_weights)

    def target(self, name: str) -> torch.Tensor:
        return getattr(self, f"target_{name}")

    def per_layer(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: ((gram(features[name]) - self.target(name)) ** 2).mean(dim=(1, 2)) for name in self.layers}

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        terms = self.per_layer(features)
        return sum(self.layer_weights[name] * value for name, value in terms.items())


def content_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                 layers: Sequence[str] = PAPER_CONTENT_LAYERS) -> torch.Tensor:
    """Mean squared difference of activations at the same positions (paper eq. 6, averaged)."""
    return sum(((features[name] - targets[name]) ** 2).mean(dim=(1, 2, 3)) for name in layers)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per image: discourages speckle."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return dx + dy
