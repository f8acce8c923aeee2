"""Feed-forward stylization (paper section 3.3): train g(y, z) on one style image.

The generator is the texture generator with the content image joined to the noise
at every scale; the loss is the texture (Gram) loss against the style image plus
alpha times the content loss against the input photo. Training reuses the texture
loop (`texnet.train.fit`); only the objective differs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from texnet.descriptor import VGGDescriptor, load_descriptor
from texnet.device import resolve_device
from texnet.errors import TexnetError
from texnet.generators import Generator, GeneratorConfig, build_generator, check_scales
from texnet.images import IMAGE_SUFFIXES, SAMPLE_PHOTOS, load_exemplar, load_image, resize, sample_path
from texnet.losses import DEFAULT_TEXTURE_LAYERS, PAPER_CONTENT_LAYERS, content_loss, tone_loss
from texnet.modelfile import load_model_of_kind
from texnet import presets
from texnet.texture import StatisticTerms, exemplar_loss
from texnet import train as train_loop
from texnet.train import History, TrainConfig, fit

PREVIEW_PHOTO = "chelsea"  # used for previews
# Held out of the default pool: the previews' photo, and the style-quality bench's animal and indoor photos.
HELD_OUT_PHOTOS = (PREVIEW_PHOTO, "coffee")


@dataclass
class StyleConfig:
    descriptor: str = "auto"
    loss: str = "gram"  # the style term: "gram" or "swd" (see texnet.losses)
    style_layers: tuple[str, ...] = DEFAULT_TEXTURE_LAYERS
    layer_weights: dict[str, float] = field(default_factory=dict)
    weighting: str = "relative"
    content_layers: tuple[str, ...] = PAPER_CONTENT_LAYERS
    content_weight: float = 5.0  # alpha of paper eq. 8 (both losses are relative errors); chosen by eye
    tone_weight: float = 0.0  # keep the photo's light and dark (texnet.losses.tone_loss); 0 is the paper's objective
    tv_weight: float = 0.0
    pooling: str = "avg"
    precision: str = "auto"
    style_size: int | None = None  # longer side of the style image; None keeps its pixel scale
    augment: bool = False  # random scale of the content crops (flips are always on)
    pool_size: int | None = None  # use only the first N content images
    generator: GeneratorConfig = field(
        default_factory=lambda: GeneratorConfig(scales=6, content_channels=3, norm="instance", padding="replicate"))


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ContentPool:
    """Natural images for training, kept in memory at a size where random crops make sense."""

    def __init__(self, images: list[torch.Tensor], names: list[str], preview: torch.Tensor):
        self.images, self.names, self.preview = images, names, preview

    @classmethod
    def load(cls, folder: str | os.PathLike | None, size: int, log: Callable[[str], None] = print) -> "ContentPool":
        """From a folder (recursive), or scikit-image's colour photos (less HELD_OUT_PHOTOS) when folder is None."""
        if folder is None:
            paths = [sample_path(n) for n in SAMPLE_PHOTOS if n not in HELD_OUT_PHOTOS]
            preview_path: Path | None = sample_path(PREVIEW_PHOTO)
        else:
            root = Path(folder)
            if not root.is_dir():
                raise TexnetError(f"content folder not found: {folder}")
            paths, preview_path = list_images(root), None
        images, names, bad = [], [], []
        for path in paths:
            try:
                images.append(cls._prepare(load_image(path, min_size=16), size))
                names.append(path.name)
            except TexnetError as exc:
                bad.append(f"{path.name} ({str(exc).split(': ')[0]})")
        if bad:
            log(f"skipped {len(bad)} unreadable content image(s): {', '.join(bad)}")
        if not images:
            raise TexnetError(f"no usable content images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)})")
        if preview_path is not None:
            preview = load_image(preview_path)
        elif len(images) > 1:  # hold the first image out of training for previews
            preview = images.pop(0)
            names.pop(0)
        else:
            preview = images[0]
        w, h = preview.shape[2], preview.shape[1]
        scale = min(1.0, 384 / max(w, h))
        preview = resize(preview, (max(1, round(w * scale)), max(1, round(h * scale))))
        return cls(images, names, preview)

    @staticmethod
    def _prepare(image: torch.Tensor, size: int) -> torch.Tensor:
        """Shorter side to 1.5x the crop size: crops show objects, not just flat patches."""
        h, w = image.shape[1:]
        scale = 1.5 * size / min(h, w)
        return resize(image, (max(size, round(w * scale)), max(size, round(h * scale))))

    def crops(self, batch: int, size: int, rng: torch.Generator, augment: bool = False) -> torch.Tensor:
        """Random crops, flipped half the time; with `augment`, a random window of 1 to 1.5 crop
        sides is taken and resized to the crop, so objects appear at several scales."""
        out = []
        for _ in range(batch):
            image = self.images[int(torch.randint(len(self.images), (1,), generator=rng))]
            h, w = image.shape[1:]
            side = size
            if augment:
                side = min(h, w, int(size * (1 + 0.5 * float(torch.rand(1, generator=rng)))))
            top = int(torch.randint(h - side + 1, (1,), generator=rng))
            left = int(torch.randint(w - side + 1, (1,), generator=rng))
            crop = image[:, top:top + side, left:left + side]
            if side != size:
                crop = resize(crop, (size, size))
            if bool(torch.rand(1, generator=rng) < 0.5):
                crop = crop.flip(-1)
            out.append(crop)
        return torch.stack(out)


class StyleObjective:
    """Noise + content crops in; the style term against the painting plus alpha * content loss out."""

    def __init__(self, descriptor: VGGDescriptor, terms: StatisticTerms, pool: "ContentPool | None",
                 cfg: StyleConfig, device: torch.device | str):
        self.descriptor, self.terms, self.pool, self.cfg, self.device = descriptor, terms, pool, cfg, device

    def inputs(self, generator: Generator, batch_size: int, size: int, rng: torch.Generator):
        content = self.pool.crops(batch_size, size, rng, self.cfg.augment).to(self.device)
        return generator.make_noise(batch_size, size, size, rng, self.device), content

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """The content layers of the photos; the optimisation baseline computes them once, not per step."""
        with torch.no_grad():
            features = self.descriptor(content)
        return {name: features[name] for name in self.cfg.content_layers}

    def losses(self, images: torch.Tensor, content: torch.Tensor | None, rng: torch.Generator | None = None,
               targets: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        features = self.descriptor(images)
        targets = targets if targets is not None else self.content_targets(content)
        terms, total = self.terms(images, features, rng)
        terms["content"] = content_loss(features, targets, self.cfg.content_layers).mean()
        total = total + self.cfg.content_weight * terms["content"]
        if self.cfg.tone_weight:
            terms["tone"] = tone_loss(images, content).mean()
            total = total + self.cfg.tone_weight * terms["tone"]
        terms["total"] = total
        return terms

    @torch.no_grad()
    def preview(self, generator: Generator) -> torch.Tensor:
        """The held-out photo, stylized with fixed noise, beside the original."""
        content = self.pool.preview[None].to(self.device)
        out = generator.sample(content.shape[3], content.shape[2], content=content, seed=1234)
        return torch.cat([content[0], out[0]], dim=2)


def train_style(style: str, output: str | Path, content: str | None = None, train: TrainConfig | None = None,
                cfg: StyleConfig | None = None, resume: bool = False, progress: bool = True,
                log: Callable[[str], None] = print,
                on_iteration: Callable[[int], None] | None = None) -> tuple[Path, History]:
    """Train a stylization generator for one style image and write it to `output`."""
    from texnet.texture import check_training_memory, describe_schedule

    started = train_loop.now()  # a budget counts from here: set-up is part of the user's minutes
    train = train or presets.STYLE["quick"].train
    cfg = cfg or presets.apply(StyleConfig(), presets.STYLE["quick"].settings, {})
    train.validate()
    if cfg.content_weight < 0 or cfg.tone_weight < 0:
        raise TexnetError("--content-weight and --tone-weight must be at least 0")
    check_scales(cfg.generator.scales, min(s[0] for s in train.stages) if train.budget else train.size)
    device = resolve_device(train.device)
    check_training_memory("style", train, str(device))
    style_image, style_info = load_exemplar(style, cfg.style_size)
    pool = ContentPool.load(content, train.largest_size(), log)
    if cfg.pool_size:
        pool.images, pool.names = pool.images[:cfg.pool_size], pool.names[:cfg.pool_size]
    descriptor, descriptor_info = load_descriptor(cfg.descriptor, style_layers(cfg), cfg.pooling, device, cfg.precision)
    log(f"descriptor: {descriptor_info.source} ({descriptor_info.arch}, {cfg.pooling} pooling, "
        f"{descriptor_info.precision}) from {descriptor_info.weights_file}")
    log(f"style: {style_info['file']} at {style_info['used_size'][0]}x{style_info['used_size'][1]} px; "
        f"{len(pool.images)} content images ({content or 'scikit-image photos'}); {describe_schedule(train)}, "
        f"{cfg.loss} style loss, content weight {cfg.content_weight}, {cfg.generator.norm} norm on {device}")
    generator = build_generator(cfg.generator, seed=train.seed)
    objective = style_objective(descriptor, style_image.to(device), cfg, pool, train.size)
    meta = {
        "kind": "style",
        "descriptor": asdict(descriptor_info),
        "style": style_info,
        "content_pool": {"source": str(content) if content else "scikit-image", "images": pool.names},
        "loss": {**objective.terms.loss.describe(), "content_layers": list(cfg.content_layers),
                 "content_weight": cfg.content_weight, "tone_weight": cfg.tone_weight, "tv_weight": cfg.tv_weight},
    }
    return fit(generator, objective, train, Path(output), meta, resume=resume, progress=progress, log=log,
               started=started, on_iteration=on_iteration)


def style_layers(cfg: StyleConfig) -> tuple[str, ...]:
    """Every descriptor layer the style objective reads."""
    return tuple(dict.fromkeys(cfg.style_layers + cfg.content_layers))


def style_objective(descriptor: VGGDescriptor, style_image: torch.Tensor, cfg: StyleConfig,
                    pool: ContentPool | None = None, train_size: int | None = None) -> StyleObjective:
    """The one place a style objective is built (training, optimisation and the bench use it)."""
    loss = exemplar_loss(descriptor, style_image, cfg.loss, cfg.style_layers, cfg.layer_weights, cfg.weighting,
                         train_size)
    return StyleObjective(descriptor, StatisticTerms(loss, cfg.tv_weight, name="style"), pool, cfg,
                          style_image.device)


def load_style_model(path: str | Path, device: str | torch.device = "cpu",
                     inference: bool = False) -> tuple[Generator, dict]:
    return load_model_of_kind(path, "style", device, inference)


__all__ = ["StyleConfig", "ContentPool", "StyleObjective", "style_objective", "style_layers", "train_style",
           "load_style_model"]
