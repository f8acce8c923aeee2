"""Losses on descriptor features: texture statistics (Gram or sliced Wasserstein), content, diversity, TV.

Losses take the feature dicts that one descriptor pass returns, so a style loss and
a content loss share that pass. Every loss returns one value per sample (shape (B,))
so training can average them and benchmarks can compare single images.

Two texture statistics are available, both built from the exemplar's features:

* ``gram``: Gatys et al.'s Gram matrices (paper eq. 5): second moments only.
* ``swd``: the sliced Wasserstein distance of Heitz et al. (CVPR 2021): the whole
  distribution of feature vectors, compared along random 1-D projections.

Both report one error per layer; how the layers are summed is the *weighting*:
``relative`` divides each layer by its target's energy (texnet's default: raw
magnitudes differ by 10^6 between relu1_1 and relu5_1 of vgg16-hed, so an
unnormalised sum trains on one layer), ``paper`` is the plain sum of the authors'
code, and ``floor`` also divides each layer by what real crops of the exemplar score
at the training size (see `calibrate_floor`), so that no layer asks the generator for
more than real texture gives.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

PAPER_TEXTURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PAPER_CONTENT_LAYERS = ("relu4_2",)
# texnet's default adds the statistics of the RGB pixels: they pin the colours, which the
# (edge-tuned) VGG layers leave loose (samples of a grey exemplar otherwise drift to colour casts).
DEFAULT_TEXTURE_LAYERS = ("pixels",) + PAPER_TEXTURE_LAYERS
LOSS_KINDS = ("gram", "swd")
WEIGHTINGS = ("relative", "paper", "floor")
MAX_TARGET_POSITIONS = 1 << 16  # swd keeps at most this many exemplar feature vectors per layer

Features = Mapping[str, torch.Tensor]


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) feature correlations averaged over positions.

    Dividing by H*W makes the statistic independent of image size, so the Gram of a
    large exemplar is a valid target for small training samples and vice versa.
    """
    b, c, h, w = features.shape
    flat = features.float().reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


class TextureStatisticLoss(nn.Module):
    """sum_l w_l * d_l(x, x0): the shared part of the Gram and sliced-Wasserstein losses.

    Subclasses implement `raw(name, features, rng)` (the unweighted error of one layer, per
    sample) and `energy(name)` (the target's scale that makes the error relative).
    """

    kind = ""

    def __init__(self, layers: Sequence[str], layer_weights: Mapping[str, float] | None, weighting: str):
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, not {weighting!r}")
        self.layers = tuple(layers)
        self.weighting = weighting
        user = dict(layer_weights or {})
        self.user_weights = {name: float(user.get(name, 1.0)) for name in self.layers}
        self.floor = {name: 1.0 for name in self.layers}

    def raw(self, name: str, features: Features, rng: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def energy(self, name: str) -> float:
        raise NotImplementedError

    def weight(self, name: str) -> float:
        """The factor layer `name`'s raw error is multiplied by."""
        w = self.user_weights[name]
        if self.weighting == "paper":
            return w
        w = w / self.energy(name)
        return w / self.floor[name] if self.weighting == "floor" else w

    def per_layer(self, features: Features, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Each layer's weighted error, per sample."""
        return {name: self.weight(name) * self.raw(name, features, rng) for name in self.layers}

    def forward(self, features: Features, rng: torch.Generator | None = None) -> torch.Tensor:
        return sum(self.per_layer(features, rng).values())

    def relative(self, features: Features, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Each layer's error relative to its target's energy, whatever the weighting (for measurements)."""
        return {name: self.raw(name, features, rng) / self.energy(name) for name in self.layers}

    def describe(self) -> dict:
        """What a model file records about this loss."""
        return {"kind": self.kind, "weighting": self.weighting, "layers": list(self.layers),
                "layer_weights": self.user_weights,
                "floor": {k: round(v, 6) for k, v in self.floor.items()} if self.weighting == "floor" else None}


class GramLoss(TextureStatisticLoss):
    """||G_l(x) - G_l(x0)||^2 per layer: paper eq. 5 with Gram matrices averaged over positions."""

    kind = "gram"

    def __init__(self, exemplar: Features, layers: Sequence[str], layer_weights: Mapping[str, float] | None = None,
                 weighting: str = "relative"):
        super().__init__(layers, layer_weights, weighting)
        self._energy = {}
        for name in self.layers:
            target = gram(exemplar[name])[0].detach()
            self.register_buffer(f"target_{name}", target.clone())
            self._energy[name] = float((target**2).sum().clamp_min(1e-12))

    def target(self, name: str) -> torch.Tensor:
        return getattr(self, f"target_{name}")

    def energy(self, name: str) -> float:
        return self._energy[name]

    def raw(self, name: str, features: Features, rng: torch.Generator | None = None) -> torch.Tensor:
        return ((gram(features[name]) - self.target(name)) ** 2).sum(dim=(1, 2))


class SlicedWassersteinLoss(TextureStatisticLoss):
    """Sliced Wasserstein distance per layer (Heitz, Vanhoey, Chambon, Belcour, CVPR 2021).

    The feature vectors of all positions are projected onto as many random unit directions
    as there are channels, drawn afresh at every call; both projected sets are sorted, and
    the loss is the mean squared difference of the sorted values. The exemplar's vectors,
    kept in random order, give a random window of the sample's count (or, when there are
    fewer of them, their quantiles at the sample's count), which also handles exemplars and
    samples of different sizes. Matching sorted projections matches
    the whole feature distribution, not only its second moments.

    ``positions`` caps how many of the sample's positions one call compares (a random subset,
    drawn afresh, against a target window of the same count): sorting is the loss's main cost
    and grows with the finest layers' positions, and fresh subsets still sample the whole
    distribution over the iterations; the rest get no gradient from that call (what it does to
    quality per minute: docs/quality.md, "Cheaper iterations").
    """

    kind = "swd"

    def __init__(self, exemplar: Features, layers: Sequence[str], layer_weights: Mapping[str, float] | None = None,
                 weighting: str = "relative", seed: int = 0, projections: float = 1.0, quantiles: bool = False,
                 positions: int | None = None):
        super().__init__(layers, layer_weights, weighting)
        # projections: directions per call as a multiple of the channels (more: less gradient noise);
        # quantiles: compare with the target's exact quantiles instead of a random resample of it;
        # positions: at most this many sample positions per call (None: all of them)
        if positions is not None and positions < 1:
            raise ValueError(f"positions must be at least 1, not {positions}")
        self.projections, self.quantiles, self.positions = projections, quantiles, positions
        keep = torch.Generator().manual_seed(seed)
        self._energy = {}
        self.default_rng = torch.Generator().manual_seed(seed + 1)
        for name in self.layers:
            f = exemplar[name][0].detach().float()
            flat = f.reshape(f.shape[0], -1)
            # in random order (and at most MAX_TARGET_POSITIONS of them: memory stays bounded for big exemplars),
            # so that any window of them is a random sample
            idx = torch.randperm(flat.shape[1], generator=keep)[:MAX_TARGET_POSITIONS].to(flat.device)
            self.register_buffer(f"target_{name}", flat[:, idx].contiguous())
            # expected squared projection of a target vector on a random unit direction
            self._energy[name] = float((flat**2).sum(dim=0).mean().clamp_min(1e-12) / flat.shape[0])

    def energy(self, name: str) -> float:
        return self._energy[name]

    def raw(self, name: str, features: Features, rng: torch.Generator | None = None) -> torch.Tensor:
        rng = rng if rng is not None else self.default_rng
        x = features[name].float()
        b, c, h, w = x.shape
        x = x.reshape(b, c, h * w)
        if self.positions is not None and h * w > self.positions:
            x = x[:, :, torch.randperm(h * w, generator=rng)[:self.positions].to(x.device)]
        n = x.shape[2]
        target = getattr(self, f"target_{name}")
        directions = torch.randn(max(1, round(c * self.projections)), c, generator=rng).to(x.device)
        directions = directions / directions.norm(dim=1, keepdim=True)
        projected_x = sorted_last(torch.matmul(directions, x))
        with torch.no_grad():
            m = target.shape[1]
            if self.quantiles or m <= n:  # the target's exact quantiles (a target with fewer vectors than the sample)
                projected_y = _quantiles(sorted_last(directions @ target), n)
            else:  # a random window of the shuffled target: a sample without replacement, and no gather
                start = int(torch.randint(m - n + 1, (1,), generator=rng))
                projected_y = sorted_last(directions @ target[:, start:start + n])
        return ((projected_x - projected_y) ** 2).mean(dim=(1, 2))

    def describe(self) -> dict:
        return {**super().describe(), "projections": self.projections, "quantiles": self.quantiles,
                "positions": self.positions}


@functools.lru_cache(maxsize=1)
def _numpy_sorts_fast() -> bool:
    """NumPy sorts float32 with x86-simd-sort where the CPU has AVX2 (or AVX-512): there it finds the order several
    times faster than torch.sort (docs/performance.md); without AVX2 the two are alike."""
    features = getattr(getattr(np, "_core", None), "_multiarray_umath", None)
    return bool(getattr(features, "__cpu_features__", {}).get("AVX2", True))


def sorted_last(x: torch.Tensor) -> torch.Tensor:
    """x sorted along its last dimension, differentiable. On the CPU NumPy finds the order and torch gathers the
    values, so the gradient flows as through torch.sort (the same values; among equal values the order may
    differ, which changes nothing)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or not _numpy_sorts_fast():
        return x.sort(dim=-1).values
    flat = x.detach().reshape(-1, x.shape[-1]).numpy()
    if not x.requires_grad:
        return torch.from_numpy(_rows_sorted(flat, np.sort)).view(x.shape)
    order = torch.from_numpy(_rows_sorted(flat, np.argsort)).view(x.shape)
    return x.gather(-1, order)


PARALLEL_SORT_MIN = 1 << 16  # elements below which one thread sorts: starting threads would cost more


def _rows_sorted(flat: np.ndarray, sort: Callable[..., np.ndarray]) -> np.ndarray:
    """np.sort or np.argsort of each row, the rows shared among torch's intra-op threads.

    NumPy sorts on one thread and releases the GIL while it does, so between the descriptor's passes
    (which use every thread) the sort would leave all but one core idle. Each row is sorted exactly as
    one call would sort it, so the result is the same.
    """
    rows = flat.shape[0]
    threads = min(torch.get_num_threads(), rows)
    if threads < 2 or flat.size < PARALLEL_SORT_MIN:
        return sort(flat, axis=-1)
    out = np.empty(flat.shape, dtype=np.intp if sort is np.argsort else flat.dtype)
    bounds = np.linspace(0, rows, threads + 1).astype(int)

    def part(i: int) -> None:
        out[bounds[i]:bounds[i + 1]] = sort(flat[bounds[i]:bounds[i + 1]], axis=-1)

    with ThreadPoolExecutor(threads - 1) as pool:
        rest = [pool.submit(part, i) for i in range(1, threads)]
        part(0)
        for done in rest:
            done.result()
    return out


def _quantiles(sorted_values: torch.Tensor, n: int) -> torch.Tensor:
    """n evenly spaced quantiles (at (i + 0.5) / n) of each row of sorted values, linearly interpolated."""
    m = sorted_values.shape[1]
    if m == n:
        return sorted_values
    pos = ((torch.arange(n, device=sorted_values.device, dtype=torch.float32) + 0.5) * (m / n) - 0.5).clamp(0, m - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=m - 1)
    frac = pos - lo
    return sorted_values[:, lo] * (1 - frac) + sorted_values[:, hi] * frac


def build_texture_loss(kind: str, exemplar: Features, layers: Sequence[str],
                       layer_weights: Mapping[str, float] | None = None, weighting: str = "relative",
                       options: Mapping[str, object] | None = None) -> TextureStatisticLoss:
    """The texture (or style) term from the exemplar's descriptor features; options go to the loss's class."""
    if kind == "gram":
        return GramLoss(exemplar, layers, layer_weights, weighting, **(options or {}))
    if kind == "swd":
        return SlicedWassersteinLoss(exemplar, layers, layer_weights, weighting, **(options or {}))
    raise ValueError(f"loss must be one of {', '.join(LOSS_KINDS)}, not {kind!r}")


def content_loss(features: Features, targets: Features, layers: Sequence[str] = PAPER_CONTENT_LAYERS) -> torch.Tensor:
    """Paper eq. 6 as a relative error: ||F(x) - F(y)||^2 / ||F(y)||^2 per sample and layer.

    Relative like the texture loss, so the content weight alpha means the same for any
    descriptor and any image size (alpha = 1: both terms count alike).
    """
    total = 0
    for name in layers:
        target = targets[name].float()
        energy = (target**2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
        total = total + ((features[name].float() - target) ** 2).mean(dim=(1, 2, 3)) / energy
    return total


def luminance_layout(images: torch.Tensor, region: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, N): luminance averaged over `region` px squares, standardised per image."""
    y = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2])[:, None].float()
    cells = torch.nn.functional.avg_pool2d(y, region, ceil_mode=True).flatten(1)
    cells = cells - cells.mean(dim=1, keepdim=True)
    return cells / cells.norm(dim=1, keepdim=True).clamp_min(1e-6)


def tone_loss(images: torch.Tensor, photos: torch.Tensor, region: int = 8) -> torch.Tensor:
    """1 - correlation of regional luminance with the photo's, per sample (0: the photo's light and dark).

    The content layers of the edge-tuned descriptor barely see polarity (an inverted photo is about
    half as far from the photo at relu4_2 as noise is: docs/stylization.md), so a stylization can keep
    every edge and still turn a night sky pale or relieve the photo into an etching. This term pins
    where the photo is light and where dark, and nothing else: each image is standardised first, so
    the painting still chooses how bright and how contrasted the result is, and the detail inside a
    region (the strokes) stays free.
    """
    a, b = luminance_layout(images, region), luminance_layout(photos, region)
    return 1 - (a * b).sum(dim=1)


def diversity_loss(features: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Improved Texture Networks' entropy term: -mean_i log(min_j!=i ||f_i - f_j||^2), per batch.

    Added with a positive weight it pushes each sample away from its nearest neighbour in
    descriptor space, so different noise gives different textures (Ulyanov, Vedaldi,
    Lempitsky, CVPR 2017). Distances are mean squared differences, relative to the
    features' mean energy, so the weight means the same for any layer. Needs a batch of 2+.
    """
    b = features.shape[0]
    if b < 2:
        raise ValueError("the diversity term needs a batch of at least 2 samples")
    flat = features.float().reshape(b, -1)
    scale = (flat**2).mean().detach().clamp_min(eps)
    dist = torch.cdist(flat, flat).pow(2) / flat.shape[1] / scale
    dist = dist + torch.eye(b, device=flat.device) * 1e6  # ignore each sample's distance to itself
    return -torch.log(dist.min(dim=1).values + eps).mean()


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per image: discourages speckle."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return dx + dy
