"""Texture synthesis (paper sections 3.1-3.2): train g(z) on one exemplar, then sample.

The exemplar keeps its pixel scale unless `exemplar_size` says otherwise: its Gram
targets come from the image as given, and the training size only sets how large the
generated training samples are. Samples of any size then show structures at the
exemplar's scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from texnet.descriptor import VGGDescriptor, load_descriptor
from texnet.errors import TexnetError
from texnet.files import sha256_of
from texnet.generators import GeneratorConfig, MultiScaleGenerator
from texnet.images import fit_within, load_image, resize, resolve_image_path
from texnet.losses import DEFAULT_TEXTURE_LAYERS, TextureLoss, total_variation
from texnet.modelfile import load_model
from texnet.train import History, TrainConfig, fit, resolve_device

# Training presets. `paper` is section 4 of the paper. `quick` was chosen by measurement
# on a 2-core CPU to give a recognisable texture in under 10 minutes (see README).
PRESETS = {
    "paper": TrainConfig(),
    "quick": TrainConfig(size=128, batch_size=2, iterations=1200, lr=0.05, lr_decay=0.7,
                         lr_decay_start=600, lr_decay_every=120, preview_every=100),
}

MIN_EXEMPLAR = 32  # the descriptor pools 4 times before relu5_1
MAX_EXEMPLAR_PIXELS = 4096 * 4096  # descriptor activations of larger images do not fit in memory comfortably


@dataclass
class TextureConfig:
    """What to match and with which generator (the model file records all of it)."""

    descriptor: str = "auto"
    layers: tuple[str, ...] = DEFAULT_TEXTURE_LAYERS
    layer_weights: dict[str, float] = field(default_factory=dict)
    pooling: str = "avg"
    exemplar_size: int | None = None  # longer side in pixels; None keeps the exemplar's own scale
    tv_weight: float = 0.0
    generator: GeneratorConfig = field(default_factory=lambda: GeneratorConfig(scales=5))


def load_exemplar(spec: str, exemplar_size: int | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """The exemplar as (1, 3, H, W) and what the model file records about it."""
    path = resolve_image_path(spec)
    image = load_image(path, min_size=1)
    h, w = image.shape[1:]
    if exemplar_size is not None:
        if exemplar_size < MIN_EXEMPLAR:
            raise TexnetError(f"--exemplar-size must be at least {MIN_EXEMPLAR}")
        scale = exemplar_size / max(h, w)
        image = resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))
    h2, w2 = image.shape[1:]
    if min(h2, w2) < MIN_EXEMPLAR:
        raise TexnetError(f"exemplar {path} is {w2}x{h2}; at least {MIN_EXEMPLAR}x{MIN_EXEMPLAR} pixels are needed")
    if h2 * w2 > MAX_EXEMPLAR_PIXELS:
        nw, nh = fit_within((h2, w2), 4096)
        raise TexnetError(f"exemplar {path} is {w2}x{h2}, too large to describe in memory; "
                          f"pass --exemplar-size {max(nw, nh)} (or smaller) to rescale it")
    info = {"file": path.name, "sha256": sha256_of(path), "original_size": [w, h], "used_size": [w2, h2]}
    return image[None], info


class TextureObjective:
    """Noise in, Gram loss against the exemplar out."""

    def __init__(self, descriptor: VGGDescriptor, loss: TextureLoss, tv_weight: float = 0.0,
                 preview_size: int = 256, device: torch.device | str = "cpu"):
        self.descriptor, self.loss, self.tv_weight, self.device = descriptor, loss, tv_weight, device
        self.preview_size = preview_size
        self.preview_noise: list[torch.Tensor] | None = None

    def inputs(self, generator: MultiScaleGenerator, batch_size: int, size: int, rng: torch.Generator):
        return generator.make_noise(batch_size, size, size, rng, self.device), None

    def losses(self, images: torch.Tensor, content: torch.Tensor | None) -> dict[str, torch.Tensor]:
        texture = self.loss(self.descriptor(images)).mean()
        terms = {"texture": texture}
        total = texture
        if self.tv_weight:
            terms["tv"] = total_variation(images).mean()
            total = total + self.tv_weight * terms["tv"]
        terms["total"] = total
        return terms

    @torch.no_grad()
    def preview(self, generator: MultiScaleGenerator) -> torch.Tensor:
        """The same noise every time, so previews show the generator changing, not the noise."""
        if self.preview_noise is None:
            rng = torch.Generator().manual_seed(1234)
            self.preview_noise = generator.make_noise(1, self.preview_size, self.preview_size, rng, self.device)
        return generator(self.preview_noise)[0].clamp(0, 1)


def build_texture_loss(descriptor: VGGDescriptor, exemplar: torch.Tensor, cfg: TextureConfig) -> TextureLoss:
    with torch.no_grad():
        features = descriptor(exemplar)
    return TextureLoss.from_features(features, cfg.layers, cfg.layer_weights)


def train_texture(image: str, output: str | Path, train: TrainConfig | None = None,
                  cfg: TextureConfig | None = None, resume: bool = False, progress: bool = True,
                  log: Callable[[str], None] = print) -> tuple[Path, History]:
    """Train a texture generator on one exemplar and write it to `output`."""
    train = train or PRESETS["paper"]
    cfg = cfg or TextureConfig()
    train.validate()
    device = resolve_device(train.device)
    exemplar, exemplar_info = load_exemplar(image, cfg.exemplar_size)
    descriptor, descriptor_info = load_descriptor(cfg.descriptor, cfg.layers, cfg.pooling, device)
    log(f"descriptor: {descriptor_info.source} ({descriptor_info.arch}, {cfg.pooling} pooling) "
        f"from {descriptor_info.weights_file}")
    w, h = exemplar_info["used_size"]
    log(f"exemplar: {exemplar_info['file']} at {w}x{h} px; training samples {train.size}x{train.size}, "
        f"batch {train.batch_size}, {train.iterations} iterations on {device}")
    loss = build_texture_loss(descriptor, exemplar.to(device), cfg).to(device)
    generator = MultiScaleGenerator(cfg.generator, seed=train.seed)
    objective = TextureObjective(descriptor, loss, cfg.tv_weight, preview_size=max(train.size, 256), device=device)
    meta = {
        "kind": "texture",
        "descriptor": asdict(descriptor_info),
        "exemplar": exemplar_info,
        "loss": {"layers": list(cfg.layers), "layer_weights": cfg.layer_weights, "tv_weight": cfg.tv_weight},
    }
    return fit(generator, objective, train, Path(output), meta, resume=resume, progress=progress, log=log)


def load_texture_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[MultiScaleGenerator, dict]:
    generator, meta = load_model(path, device)
    if meta.get("kind") != "texture":
        raise TexnetError(f"{path} is a {meta.get('kind', 'unknown')} model, not a texture model")
    return generator, meta


def sample(model: str | Path | MultiScaleGenerator, width: int, height: int, n: int = 1,
           seed: int | None = 0, device: str = "auto") -> torch.Tensor:
    """n textures (n, 3, H, W) in [0, 1], one at a time so memory does not grow with n."""
    dev = resolve_device(device)
    generator = model if isinstance(model, MultiScaleGenerator) else load_texture_model(model, dev)[0]
    generator = generator.to(dev)
    rng_seed = seed if seed is not None else int(torch.seed() % 2**31)
    out = [generator.sample(height, width, 1, seed=rng_seed + i).cpu() for i in range(n)]
    return torch.cat(out)
