"""How good is a texture? Measurements that compare images with their exemplar.

A low training loss is not enough: at small sizes even real crops of the exemplar score
badly on a Gram loss, and a generator can "beat" them by distorting the structure. So
texnet measures every candidate (generator samples, the optimisation result) next to
real random crops of the exemplar, the floor a perfect generator would reach:

* ``gram``: texnet's relative Gram loss against the whole exemplar (pixels, relu1_1..relu5_1);
* ``swd``: a sliced Wasserstein distance of descriptor features (relu1_1..relu4_1), with
  fixed random directions so numbers compare across runs: per layer and direction the
  mean absolute difference of quantiles, over the exemplar's spread along it;
* ``color``: the per-channel Wasserstein-1 distance of the pixel histograms (0..1 units);
* ``diversity``: mean absolute pixel difference between samples of different seeds, and
  ``shift_similarity``: their best normalised cross-correlation over all circular shifts
  (1 means "the same texture, shifted"; samples that only move a layout around score high);
* ``seam``: the jump across a 2x2 tiling's seams over the jump across interior grid lines;
* ``tone`` (stylization): the rank correlation of a stylized image's regional luminance with the
  photo's (negative when light and dark are inverted);
* ``halo`` (stylization): the detail of a stylized image along the photo's edges over its detail
  elsewhere (embossed relief piles up along the edges: texnet.quality.edge_halo);
* ``structure`` (stylization): the correlation of a stylized image's relu4_2 features with the
  photo's, each channel centred over the image: 1 for the photo itself, about 0 for an
  unrelated picture or a blank one (the relative content error cannot tell a blank image
  from a recognisable stylization: see docs/stylization.md).
"""

from __future__ import annotations

import statistics
from typing import Any, Sequence

import torch

from texnet.descriptor import VGGDescriptor
from texnet.losses import DEFAULT_TEXTURE_LAYERS, GramLoss

SWD_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
QUANTILES = 512


def _quantiles(values: torch.Tensor, count: int = QUANTILES) -> torch.Tensor:
    """(D, N) -> (D, count): each row's values at evenly spaced probability levels (linear interpolation)."""
    ordered = values.float().sort(dim=1).values
    n = ordered.shape[1]
    pos = ((torch.arange(count, dtype=torch.float32, device=values.device) + 0.5) * n / count - 0.5).clamp(0, n - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n - 1)
    frac = pos - lo
    return ordered[:, lo] * (1 - frac) + ordered[:, hi] * frac


class QualityMeter:
    """Distances of images to one exemplar, with fixed directions: the same image always scores the same."""

    def __init__(self, descriptor: VGGDescriptor, exemplar: torch.Tensor, swd_layers: Sequence[str] = SWD_LAYERS,
                 gram_layers: Sequence[str] = DEFAULT_TEXTURE_LAYERS, seed: int = 0):
        self.descriptor = descriptor
        self.swd_layers, self.gram_layers = tuple(swd_layers), tuple(gram_layers)
        missing = [n for n in self.swd_layers + self.gram_layers if n not in descriptor.layers]
        if missing:
            raise ValueError(f"the descriptor does not compute {', '.join(missing)}")
        rng = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            features = descriptor(exemplar)
            self.gram = GramLoss(features, self.gram_layers).to(exemplar.device)
            self.directions, self.targets, self.spread = {}, {}, {}
            for name in self.swd_layers:
                f = features[name][0].float()
                c = f.shape[0]
                d = torch.randn(c, c, generator=rng).to(f.device)
                d = d / d.norm(dim=1, keepdim=True)
                projected = d @ f.reshape(c, -1)
                self.directions[name] = d
                self.targets[name] = _quantiles(_subsample(projected))
                self.spread[name] = projected.std(dim=1).clamp_min(1e-6)
            self.colors = _quantiles(_subsample(exemplar[0].reshape(3, -1)))

    @torch.no_grad()
    def distances(self, image: torch.Tensor) -> dict[str, float]:
        """gram, swd (mean over layers), swd_<layer>, color for one image (1, 3, H, W) or (3, H, W)."""
        x = image if image.dim() == 4 else image[None]
        features = self.descriptor(x.to(self.colors.device))
        out = {"gram": float(sum(self.gram.relative(features).values()))}
        per_layer = []
        for name in self.swd_layers:
            f = features[name][0].float()
            q = _quantiles(_subsample(self.directions[name] @ f.reshape(f.shape[0], -1)))
            value = float(((q - self.targets[name]).abs().mean(dim=1) / self.spread[name]).mean())
            out[f"swd_{name}"] = value
            per_layer.append(value)
        out["swd"] = statistics.mean(per_layer)
        colors = _quantiles(_subsample(x[0].to(self.colors.device).reshape(3, -1)))
        out["color"] = float((colors - self.colors).abs().mean())
        return out

    def summary(self, images: torch.Tensor) -> dict[str, float]:
        """Each distance averaged over a batch (B, 3, H, W), plus diversity and seam measures."""
        rows = [self.distances(img) for img in images]
        out = {key: statistics.mean(r[key] for r in rows) for key in rows[0]}
        if images.shape[0] > 1:
            out["diversity"] = diversity(images)
            out["shift_similarity"] = shift_similarity(images)
        out["seam"] = statistics.mean(seam_score(img) for img in images)
        return out


def _subsample(values: torch.Tensor, limit: int = 1 << 18) -> torch.Tensor:
    """At most `limit` evenly strided columns of (D, N): quantiles of huge images stay cheap."""
    step = max(1, values.shape[1] // limit)
    return values[:, ::step]


def diversity(images: torch.Tensor) -> float:
    """Mean absolute pixel difference between all pairs of images (0 = identical samples)."""
    n = images.shape[0]
    pairs = [(images[i] - images[j]).abs().mean() for i in range(n) for j in range(i + 1, n)]
    return float(sum(pairs) / len(pairs))


def shift_similarity(images: torch.Tensor) -> float:
    """Mean over pairs of the best normalised cross-correlation over all circular shifts (grey levels).

    Two samples that are shifted copies of one layout score close to 1 although their pixel
    difference is large; independent textures score near the exemplar crops' value.
    """
    grey = images.float().mean(dim=1)
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    grey = grey / grey.flatten(1).norm(dim=1).clamp_min(1e-8)[:, None, None]
    spectra = torch.fft.rfft2(grey)
    n = images.shape[0]
    values = []
    for i in range(n):
        for j in range(i + 1, n):
            corr = torch.fft.irfft2(spectra[i] * spectra[j].conj(), s=grey.shape[1:])
            values.append(float(corr.max()))
    return statistics.mean(values)


def seam_score(image: torch.Tensor, grid: int = 32) -> float:
    """Jump across the seams of a 2x2 tiling over the jump across interior lines every `grid` px (1 = seamless).

    Comparing with lines on the same grid, not with all neighbours, matters: the generator's
    nearest upsampling makes every line on its coarsest grid (2^(K-1) = 16 or 32 px) a bit
    sharper than average, and the wrap-around line is one of them. With grid=1 every
    interior line is the reference.
    """
    h, w = image.shape[-2:]
    rows = [r for r in range(grid, h, grid)] or list(range(1, h))
    cols = [c for c in range(grid, w, grid)] or list(range(1, w))
    across = (image[..., :, 0] - image[..., :, w - 1]).abs().mean() + (image[..., 0, :] - image[..., h - 1, :]).abs().mean()
    inside = ((image[..., :, cols] - image[..., :, [c - 1 for c in cols]]).abs().mean()
              + (image[..., rows, :] - image[..., [r - 1 for r in rows], :]).abs().mean())
    return float(across / inside)



# ---------------------------------------------------------------------------- stylization measures


def _grey(image: torch.Tensor) -> torch.Tensor:
    """(C, H, W) or (1, C, H, W) -> (1, 1, H, W): the mean of the channels."""
    return image.float().reshape(-1, *image.shape[-2:]).mean(0)[None, None]


def _box(image: torch.Tensor, k: int) -> torch.Tensor:
    """A k x k box blur of (1, 1, H, W), edges replicated (k odd)."""
    import torch.nn.functional as F

    return F.avg_pool2d(F.pad(image, (k // 2,) * 4, mode="replicate"), k, stride=1)


def speckle(stylized: torch.Tensor, photo: torch.Tensor, dark: float = 0.25, flat: float = 0.02) -> float | None:
    """High-frequency energy of a stylized image where the photo is dark and flat (issue: white speckle).

    Mean |grey - 3x3 box blur of grey| of the stylized image over the pixels where the photo's grey
    level is below `dark` and its 5x5 standard deviation below `flat`; None when such regions
    cover under 1% of the photo. Speckle (isolated bright dots) raises it; smooth shading does not.
    """
    grey = _grey(photo)
    mean = _box(grey, 5)
    var = _box(grey**2, 5) - mean**2
    mask = (grey < dark) & (var.clamp_min(0).sqrt() < flat)
    if mask.float().mean() < 0.01:
        return None
    out = _grey(stylized)
    return float((out - _box(out, 3)).abs()[mask].mean())


def edge_halo(stylized: torch.Tensor, photo: torch.Tensor, share: float = 0.1) -> float:
    """How much a stylized image's detail piles up along the photo's strongest edges: the mean high-frequency
    energy in that band over the mean elsewhere.

    An embossed look doubles every edge of the photo with a bright and a dark rim and leaves the rest
    flat: a high ratio. A painted look spreads the painting's strokes over the whole picture: near 1.
    The band is the `share` of pixels with the photo's strongest (blurred) gradients, widened by 2 px;
    1 when the photo has no edges, or nothing but.
    """
    import torch.nn.functional as F

    smooth = _box(_grey(photo), 3)
    gy, gx = smooth[..., 1:, :-1] - smooth[..., :-1, :-1], smooth[..., :-1, 1:] - smooth[..., :-1, :-1]
    magnitude = F.pad((gx ** 2 + gy ** 2).sqrt(), (0, 1, 0, 1), mode="replicate")
    threshold = torch.quantile(_subsample(magnitude.reshape(1, -1), 1 << 16)[0], 1 - share)
    edges = (magnitude >= threshold) & (magnitude > 1e-4)
    band = F.max_pool2d(edges.float(), 5, stride=1, padding=2) > 0
    if not band.any() or band.all():
        return 1.0  # a flat photo, or one that is all edges: nothing to compare
    out = _grey(stylized)
    detail = (out - _box(out, 5)).abs()  # the high-frequency part
    return float(detail[band].mean() / detail[~band].mean().clamp_min(1e-3))


def stroke_energy(image: torch.Tensor, fine: int = 3, coarse: int = 9) -> float:
    """How strongly an image is painted at stroke scale: the RMS of its grey level's band between a `fine`
    and a `coarse` box blur (a difference of blurs, so flat shading and pixel noise both score low).

    The eye calls one stylization bolder than another when its strokes carry more contrast; the
    distances to the painting do not see this. Compare images measured at the same size.
    """
    grey = _grey(image)
    return float((_box(grey, fine) - _box(grey, coarse)).pow(2).mean().sqrt())


def tone(stylized: torch.Tensor, photo: torch.Tensor, region: int = 8) -> float:
    """Does a stylized image keep the photo's light and dark? The rank correlation (Spearman) of their
    luminance averaged over `region` px squares: 1 when the order of bright and dark regions is the
    photo's, about 0 when unrelated, negative when inverted (a night sky turned pale).

    Structure (relu4_2) does not see an inversion: edges and shapes survive it, and the eye does not.
    """
    import torch.nn.functional as F

    def regions(image: torch.Tensor) -> torch.Tensor:
        rgb = image.float().reshape(-1, *image.shape[-2:])
        y = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) if rgb.shape[0] == 3 else rgb.mean(0)
        return F.avg_pool2d(y[None, None], region, ceil_mode=True).flatten()

    ya, yb = regions(stylized), regions(photo)
    if float(ya.max() - ya.min()) < 1e-6 or float(yb.max() - yb.min()) < 1e-6:
        return 0.0  # a flat image has no light and dark to keep
    a, b = ya.argsort().argsort().double(), yb.argsort().argsort().double()
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def structure(features: torch.Tensor, photo_features: torch.Tensor, border: int = 2) -> float:
    """Centred correlation of two (1, C, H, W) feature maps: does the image keep the photo's layout?

    Each channel's spatial mean is removed first, so colour and overall activation level (which
    stylization is meant to change) do not count; what is left is where things are. `border`
    cells are dropped on each side: the descriptor's zero padding gives every image the same
    edge pattern, which would otherwise make unrelated images correlate.
    """
    h, w = features.shape[-2:]
    if min(h, w) > 4 * border:
        features = features[..., border:h - border, border:w - border]
        photo_features = photo_features[..., border:h - border, border:w - border]
    a = features.float().flatten(2)
    b = photo_features.float().flatten(2)
    a = a - a.mean(dim=2, keepdim=True)
    b = b - b.mean(dim=2, keepdim=True)
    denominator = (a.square().sum() * b.square().sum()).sqrt().clamp_min(1e-12)
    return float((a * b).sum() / denominator)


def measuring_size(height: int, width: int, limit: int, step: int = 16) -> int:
    """The largest multiple of `step` up to `limit` at which the exemplar holds 2 disjoint crops (the floor
    needs them): small exemplars are measured at a smaller size. At least 32 (the descriptor's minimum)."""
    for q in range(limit - limit % step, 31, -step):
        if (height // q) * (width // q) >= 2:
            return q
    return 32


def exemplar_crops(exemplar: torch.Tensor, size: int, n: int = 8) -> torch.Tensor | None:
    """Up to n non-overlapping size x size crops of the exemplar (3, H, W), on a grid: the floor.

    Non-overlapping, because overlapping crops share pixels and would make real texture look
    less diverse than it is. None when the exemplar holds fewer than 2 such crops.
    """
    h, w = exemplar.shape[-2:]
    image = exemplar.reshape(3, h, w)
    spots = [(t * size, l * size) for t in range(h // size) for l in range(w // size)][:n]
    if len(spots) < 2:
        return None
    return torch.stack([image[:, t:t + size, l:l + size] for t, l in spots])


def ratios(row: dict[str, float], reference: dict[str, float], keys: Sequence[str] = ("gram", "swd", "color")) -> dict:
    """row[key] / reference[key] for the distance keys (how many times the reference's distance)."""
    return {f"{k}_ratio": row[k] / reference[k] for k in keys if k in row and reference.get(k)}


def contact_sheet(rows: Sequence[tuple[str, torch.Tensor]], size: int = 256) -> Any:
    """Labelled images side by side (each resized to size x size), for looking at, not measuring."""
    from PIL import Image, ImageDraw

    from texnet.images import resize, to_pil

    pad = 18
    sheet = Image.new("RGB", (size * len(rows), size + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(rows):
        img = image if image.dim() == 3 else image[0]
        if img.shape[-2:] != (size, size):
            img = resize(img, (size, size))
        sheet.paste(to_pil(img), (i * size, pad))
        draw.text((i * size + 4, 3), label, fill="black")
    return sheet


def stack(sheets: Sequence[Any]) -> Any:
    """PIL images one below the other (rows of a grid)."""
    from PIL import Image

    grid = Image.new("RGB", (max(s.width for s in sheets), sum(s.height for s in sheets)), "white")
    y = 0
    for s in sheets:
        grid.paste(s, (0, y))
        y += s.height
    return grid


__all__ = ["QualityMeter", "stack", "speckle", "diversity", "shift_similarity", "seam_score", "exemplar_crops", "ratios",
           "contact_sheet", "SWD_LAYERS"]
