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
from texnet.errors import TexnetError
from texnet.generators import GeneratorConfig, MultiScaleGenerator
from texnet.images import IMAGE_SUFFIXES, SAMPLE_PHOTOS, load_image, resize, sample_path
from texnet.losses import PAPER_CONTENT_LAYERS, DEFAULT_TEXTURE_LAYERS, TextureLoss, content_loss, total_variation
from texnet.modelfile import load_model
from texnet.texture import load_exemplar
from texnet.train import History, TrainConfig, fit, resolve_device

PRESETS = {
    "paper": TrainConfig(),
    "quick": TrainConfig(size=128, batch_size=2, iterations=600, lr=0.05, lr_decay=0.7,
                         lr_decay_start=300, lr_decay_every=60, preview_every=100),
}

PREVIEW_PHOTO = "chelsea"  # held out of the default pool, used for previews


@dataclass
class StyleConfig:
    descriptor: str = "auto"
    style_layers: tuple[str, ...] = DEFAULT_TEXTURE_LAYERS
    content_layers: tuple[str, ...] = PAPER_CONTENT_LAYERS
    content_weight: float = 5.0  # alpha of paper eq. 8 (both losses are relative errors); chosen by eye
    tv_weight: float = 0.0
    pooling: str = "avg"
    style_size: int | None = None  # longer side of the style image; None keeps its pixel scale
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
        """From a folder (recursive), or scikit-image's colour photos when folder is None."""
        if folder is None:
            paths = [sample_path(n) for n in SAMPLE_PHOTOS if n != PREVIEW_PHOTO]
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

    def crops(self, batch: int, size: int, rng: torch.Generator) -> torch.Tensor:
        out = []
        for _ in range(batch):
            image = self.images[int(torch.randint(len(self.images), (1,), generator=rng))]
            h, w = image.shape[1:]
            top = int(torch.randint(h - size + 1, (1,), generator=rng))
            left = int(torch.randint(w - size + 1, (1,), generator=rng))
            crop = image[:, top:top + size, left:left + size]
            if bool(torch.rand(1, generator=rng) < 0.5):
                crop = crop.flip(-1)
            out.append(crop)
        return torch.stack(out)


class StyleObjective:
    """Noise + content crops in; Gram loss against the style plus alpha * content loss out."""

    def __init__(self, descriptor: VGGDescriptor, style_loss: TextureLoss, pool: ContentPool, cfg: StyleConfig,
                 device: torch.device | str):
        self.descriptor, self.style_loss, self.pool, self.cfg, self.device = descriptor, style_loss, pool, cfg, device

    def inputs(self, generator: MultiScaleGenerator, batch_size: int, size: int, rng: torch.Generator):
        content = self.pool.crops(batch_size, size, rng).to(self.device)
        return generator.make_noise(batch_size, size, size, rng, self.device), content

    def losses(self, images: torch.Tensor, content: torch.Tensor | None) -> dict[str, torch.Tensor]:
        features = self.descriptor(images)
        with torch.no_grad():
            targets = self.descriptor(content)
        style = self.style_loss(features).mean()
        cont = content_loss(features, targets, self.cfg.content_layers).mean()
        terms = {"style": style, "content": cont}
        total = style + self.cfg.content_weight * cont
        if self.cfg.tv_weight:
            terms["tv"] = total_variation(images).mean()
            total = total + self.cfg.tv_weight * terms["tv"]
        terms["total"] = total
        return terms

    @torch.no_grad()
    def preview(self, generator: MultiScaleGenerator) -> torch.Tensor:
        """The held-out photo, stylized with fixed noise, beside the original."""
        content = self.pool.preview[None].to(self.device)
        out = generator.sample(content.shape[2], content.shape[3], content=content, seed=1234)
        return torch.cat([content[0], out[0]], dim=2)


def train_style(style: str, output: str | Path, content: str | None = None, train: TrainConfig | None = None,
                cfg: StyleConfig | None = None, resume: bool = False, progress: bool = True,
                log: Callable[[str], None] = print) -> tuple[Path, History]:
    """Train a stylization generator for one style image and write it to `output`."""
    train = train or PRESETS["paper"]
    cfg = cfg or StyleConfig()
    train.validate()
    if cfg.content_weight < 0:
        raise TexnetError("--content-weight must be at least 0")
    device = resolve_device(train.device)
    style_image, style_info = load_exemplar(style, cfg.style_size)
    pool = ContentPool.load(content, train.size, log)
    layers = tuple(dict.fromkeys(cfg.style_layers + cfg.content_layers))
    descriptor, descriptor_info = load_descriptor(cfg.descriptor, layers, cfg.pooling, device)
    log(f"descriptor: {descriptor_info.source} ({descriptor_info.arch}, {cfg.pooling} pooling) "
        f"from {descriptor_info.weights_file}")
    log(f"style: {style_info['file']} at {style_info['used_size'][0]}x{style_info['used_size'][1]} px; "
        f"{len(pool.images)} content images ({content or 'scikit-image photos'}); crops {train.size}px, "
        f"batch {train.batch_size}, {train.iterations} iterations, content weight {cfg.content_weight}, "
        f"{cfg.generator.norm} norm on {device}")
    with torch.no_grad():
        style_loss = TextureLoss.from_features(descriptor(style_image.to(device)), cfg.style_layers).to(device)
    generator = MultiScaleGenerator(cfg.generator, seed=train.seed)
    objective = StyleObjective(descriptor, style_loss, pool, cfg, device)
    meta = {
        "kind": "style",
        "descriptor": asdict(descriptor_info),
        "style": style_info,
        "content_pool": {"source": str(content) if content else "scikit-image", "images": pool.names},
        "loss": {"style_layers": list(cfg.style_layers), "content_layers": list(cfg.content_layers),
                 "content_weight": cfg.content_weight, "tv_weight": cfg.tv_weight},
    }
    return fit(generator, objective, train, Path(output), meta, resume=resume, progress=progress, log=log)


def load_style_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[MultiScaleGenerator, dict]:
    generator, meta = load_model(path, device)
    if meta.get("kind") != "style":
        raise TexnetError(f"{path} is a {meta.get('kind', 'unknown')} model, not a style model "
                          "(train one with `texnet train-style`)")
    return generator, meta


__all__ = ["StyleConfig", "ContentPool", "StyleObjective", "train_style", "load_style_model", "PRESETS"]
