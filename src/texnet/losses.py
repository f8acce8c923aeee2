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
# texnet's default adds the Gram of the RGB pixels: it pins mean colour and colour covariance,
# which the VGG layers leave loose (samples of a grey exemplar otherwise drift to yellow/purple casts).
DEFAULT_TEXTURE_LAYERS = ("pixels",) + PAPER_TEXTURE_LAYERS


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) feature correlations averaged over positions.

    Dividing by H*W makes the statistic independent of image size, so the Gram of a
    large exemplar is a valid target for small training samples and vice versa.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


class TextureLoss(nn.Module):
    """sum_l w_l * ||G_l(x) - G_l(x0)||^2 / ||G_l(x0)||^2: paper eq. 5, each layer as a relative error.

    Raw Gram magnitudes differ by orders of magnitude between layers (and between
    descriptors: 10^5 at relu1_1 vs 10^-2 at relu5_1 for vgg16-hed), so an unnormalised
    sum silently trains on one or two layers. Dividing by the target's energy gives
    every layer the same say and makes loss values comparable across descriptors.
    """

    def __init__(self, targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float] | None = None):
        super().__init__()
        self.layers = tuple(targets)
        weights = dict(layer_weights or {})
        self.layer_weights = {name: float(weights.get(name, 1.0)) for name in self.layers}
        for name, target in targets.items():
            self.register_buffer(f"target_{name}", target.detach().clone())
            self.register_buffer(f"scale_{name}", (target.detach() ** 2).sum().clamp_min(1e-12))

    @classmethod
    def from_features(cls, features: Mapping[str, torch.Tensor], layers: Sequence[str],
                      layer_weights: Mapping[str, float] | None = None) -> "TextureLoss":
        """Targets from the descriptor features of one exemplar (batch of 1)."""
        return cls({name: gram(features[name])[0] for name in layers}, layer_weights)

    def target(self, name: str) -> torch.Tensor:
        return getattr(self, f"target_{name}")

    def per_layer(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: ((gram(features[name]) - self.target(name)) ** 2).sum(dim=(1, 2)) / getattr(self, f"scale_{name}")
                for name in self.layers}

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        terms = self.per_layer(features)
        return sum(self.layer_weights[name] * value for name, value in terms.items())


def content_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                 layers: Sequence[str] = PAPER_CONTENT_LAYERS) -> torch.Tensor:
    """Paper eq. 6 as a relative error: ||F(x) - F(y)||^2 / ||F(y)||^2 per sample and layer.

    Relative like the texture loss, so the content weight alpha means the same for any
    descriptor and any image size (alpha = 1: both terms count alike).
    """
    total = 0
    for name in layers:
        target = targets[name]
        energy = (target**2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
        total = total + ((features[name] - target) ** 2).mean(dim=(1, 2, 3)) / energy
    return total


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per image: discourages speckle."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return dx + dy
