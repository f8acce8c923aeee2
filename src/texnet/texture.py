"""Texture synthesis (paper sections 3.1-3.2): train g(z) on one exemplar, then sample.

The exemplar keeps its pixel scale unless `exemplar_size` says otherwise: its statistics
come from the image as given, and the training size only sets how large the generated
training samples are. Samples of any size then show structures at the exemplar's scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from texnet.descriptor import VGGDescriptor, load_descriptor
from texnet.generators import GeneratorConfig, MultiScaleGenerator, check_scales
from texnet.images import is_grayscale, load_exemplar
from texnet.limits import check_training
from texnet.losses import (DEFAULT_TEXTURE_LAYERS, TextureStatisticLoss, build_texture_loss, diversity_loss,
                           total_variation)
from texnet.modelfile import load_model_of_kind
from texnet import presets
from texnet import train as train_loop
from texnet.train import History, TrainConfig, fit
from texnet.device import resolve_device


@dataclass
class TextureConfig:
    """What to match and with which generator (the model file records all of it)."""

    descriptor: str = "auto"
    loss: str = "gram"  # "gram" (Gatys et al.) or "swd" (sliced Wasserstein, Heitz et al.)
    layers: tuple[str, ...] = DEFAULT_TEXTURE_LAYERS
    layer_weights: dict[str, float] = field(default_factory=dict)
    weighting: str = "relative"  # how layers are summed: relative, paper or floor (see texnet.losses)
    loss_options: dict[str, Any] = field(default_factory=dict)  # to the loss (swd: projections, quantiles, positions)
    pooling: str = "avg"
    precision: str = "auto"  # descriptor arithmetic: auto (bf16 where the hardware has it), fp32, bf16
    exemplar_size: int | None = None  # longer side in pixels; None keeps the exemplar's own scale
    tv_weight: float = 0.0
    diversity: float = 0.0  # Improved Texture Networks' entropy term weight (needs batch >= 2)
    diversity_layer: str = "relu4_1"
    grayscale: bool | None = None  # None: grey output exactly when the exemplar is grey
    generator: GeneratorConfig = field(default_factory=lambda: GeneratorConfig(scales=5))

    def descriptor_layers(self) -> tuple[str, ...]:
        extra = (self.diversity_layer,) if self.diversity else ()
        return tuple(dict.fromkeys(self.layers + extra))


def exemplar_loss(descriptor: VGGDescriptor, exemplar: torch.Tensor, kind: str, layers: tuple[str, ...],
                  layer_weights: dict[str, float] | None, weighting: str, train_size: int | None,
                  options: dict[str, Any] | None = None) -> TextureStatisticLoss:
    """The texture (or style) term for one exemplar (1, 3, H, W); 'floor' weighting is calibrated here."""
    with torch.no_grad():
        loss = build_texture_loss(kind, descriptor(exemplar), layers, layer_weights, weighting,
                                  options).to(exemplar.device)
        if weighting == "floor":
            loss.floor = crop_floor(descriptor, exemplar, loss, train_size or 256)
    return loss


def crop_floor(descriptor: VGGDescriptor, exemplar: torch.Tensor, loss: TextureStatisticLoss,
               size: int) -> dict[str, float]:
    """What real size x size crops of the exemplar score on each layer: the 'floor' weighting's divisors."""
    with torch.no_grad():
        crops = random_crops(exemplar[0], size, 8, seed=0).to(exemplar.device)
        values = loss.relative(descriptor(crops), torch.Generator().manual_seed(0))
    return {name: max(float(v.mean()), 1e-4) for name, v in values.items()}


def random_crops(image: torch.Tensor, size: int, n: int, seed: int = 0) -> torch.Tensor:
    """n random size x size crops of (3, H, W); an image smaller than that is tiled first."""
    h, w = image.shape[1:]
    if h < size or w < size:
        image = image.repeat(1, -(-size // h), -(-size // w))
        h, w = image.shape[1:]
    g = torch.Generator().manual_seed(seed)
    tops = torch.randint(h - size + 1, (n,), generator=g).tolist()
    lefts = torch.randint(w - size + 1, (n,), generator=g).tolist()
    return torch.stack([image[:, t:t + size, l:l + size] for t, l in zip(tops, lefts)])


class StatisticTerms:
    """The exemplar-matching terms texture and style objectives share: statistics, diversity, TV."""

    def __init__(self, loss: TextureStatisticLoss, tv_weight: float = 0.0, diversity: float = 0.0,
                 diversity_layer: str = "relu4_1", name: str = "texture"):
        self.loss, self.tv_weight, self.diversity, self.diversity_layer = loss, tv_weight, diversity, diversity_layer
        self.name = name

    def __call__(self, images: torch.Tensor, features: dict[str, torch.Tensor],
                 rng: torch.Generator | None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        value = self.loss(features, rng).mean()
        terms, total = {self.name: value}, value
        if self.diversity:
            terms["diversity"] = diversity_loss(features[self.diversity_layer])
            total = total + self.diversity * terms["diversity"]
        if self.tv_weight:
            terms["tv"] = total_variation(images).mean()
            total = total + self.tv_weight * terms["tv"]
        return terms, total


class TextureObjective:
    """Noise in, statistics loss against the exemplar out."""

    def __init__(self, descriptor: VGGDescriptor, terms: StatisticTerms, preview_size: int = 256,
                 device: torch.device | str = "cpu", exemplar: torch.Tensor | None = None):
        self.descriptor, self.terms, self.device = descriptor, terms, device
        self.preview_size = preview_size
        self.preview_noise: list[torch.Tensor] | None = None
        self.exemplar = exemplar
        self.floors: dict[int, dict[str, float]] = {}

    def prepare(self, size: int) -> None:
        """Training samples are `size` px from now on (a budget's next stage): the floor weighting compares each
        layer with what real crops of that size score."""
        loss = self.terms.loss
        if loss.weighting != "floor" or self.exemplar is None:
            return
        if size not in self.floors:
            self.floors[size] = crop_floor(self.descriptor, self.exemplar, loss, size)
        loss.floor = self.floors[size]

    def inputs(self, generator: MultiScaleGenerator, batch_size: int, size: int, rng: torch.Generator):
        return generator.make_noise(batch_size, size, size, rng, self.device), None

    def losses(self, images: torch.Tensor, content: torch.Tensor | None,
               rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        terms, total = self.terms(images, self.descriptor(images), rng)
        terms["total"] = total
        return terms

    @torch.no_grad()
    def preview(self, generator: MultiScaleGenerator) -> torch.Tensor:
        """Two samples from fixed noise, so previews show the generator changing, not the noise."""
        if self.preview_noise is None:
            rng = torch.Generator().manual_seed(1234)
            self.preview_noise = generator.make_noise(2, self.preview_size, self.preview_size, rng, self.device)
        out = generator(self.preview_noise).clamp(0, 1)
        return torch.cat(list(out), dim=2)


def texture_objective(descriptor: VGGDescriptor, exemplar: torch.Tensor, cfg: TextureConfig,
                      train_size: int | None = None, preview_size: int = 256) -> TextureObjective:
    """The objective for `exemplar` as `cfg` describes it (training, optimisation and the bench use this)."""
    loss = exemplar_loss(descriptor, exemplar, cfg.loss, cfg.layers, cfg.layer_weights, cfg.weighting, train_size,
                         cfg.loss_options)
    terms = StatisticTerms(loss, cfg.tv_weight, cfg.diversity, cfg.diversity_layer)
    objective = TextureObjective(descriptor, terms, preview_size=preview_size, device=exemplar.device,
                                 exemplar=exemplar)
    if cfg.weighting == "floor" and train_size:
        objective.floors[train_size] = loss.floor
    return objective


def train_texture(image: str, output: str | Path, train: TrainConfig | None = None,
                  cfg: TextureConfig | None = None, resume: bool = False, progress: bool = True,
                  log: Callable[[str], None] = print,
                  on_iteration: Callable[[int], None] | None = None) -> tuple[Path, History]:
    """Train a texture generator on one exemplar and write it to `output`."""
    started = train_loop.now()  # a budget counts from here: set-up is part of the user's minutes
    train = train or presets.TEXTURE["quick"].train
    cfg = cfg or presets.apply(TextureConfig(), presets.TEXTURE["quick"].settings, {})
    train.validate()
    check_texture_config(cfg, train)
    device = resolve_device(train.device)
    check_training_memory("texture", train, str(device))
    exemplar, exemplar_info = load_exemplar(image, cfg.exemplar_size)
    largest = fitting_size(train, exemplar.shape[-2:], log)
    if train.budget and cfg.generator.norm == "batch":  # stages change the batch: per-sample statistics throughout
        cfg = replace(cfg, generator=replace(cfg.generator, norm="instance"))
    grey = is_grayscale(exemplar) if cfg.grayscale is None else cfg.grayscale
    gen_cfg = replace(cfg.generator, grayscale=grey)
    descriptor, descriptor_info = load_descriptor(cfg.descriptor, cfg.descriptor_layers(), cfg.pooling, device,
                                                  cfg.precision)
    log(f"descriptor: {descriptor_info.source} ({descriptor_info.arch}, {cfg.pooling} pooling, "
        f"{descriptor_info.precision}) from {descriptor_info.weights_file}")
    w, h = exemplar_info["used_size"]
    log(f"exemplar: {exemplar_info['file']} at {w}x{h} px{' (grey)' if grey else ''}; {cfg.loss} loss "
        f"({cfg.weighting}); {describe_schedule(train, largest)} on {device}")
    first = train.stages[0][0] if train.budget else train.size
    objective = texture_objective(descriptor, exemplar.to(device), cfg, min(first, largest or first),
                                  preview_size=max(train.largest_size(), 256))
    generator = MultiScaleGenerator(gen_cfg, seed=train.seed)
    meta = {
        "kind": "texture",
        "descriptor": asdict(descriptor_info),
        "exemplar": exemplar_info,
        "loss": {**objective.terms.loss.describe(), "tv_weight": cfg.tv_weight, "diversity": cfg.diversity,
                 "diversity_layer": cfg.diversity_layer},
    }
    return fit(generator, objective, train, Path(output), meta, resume=resume, progress=progress, log=log,
               started=started, largest=largest, on_iteration=on_iteration)


def check_texture_config(cfg: TextureConfig, train: TrainConfig) -> None:
    from texnet.errors import TexnetError

    batches = [s[1] for s in train.stages] if train.budget else [train.batch_size]
    if cfg.diversity and min(batches) < 2:
        raise TexnetError("--diversity needs --batch-size 2 or more (it compares samples within a batch)"
                          + ("; a time budget trains its last stage at batch 1, so give --iterations N --batch-size 2"
                             if train.budget else ""))
    if cfg.diversity < 0:
        raise TexnetError("--diversity must be at least 0")
    check_scales(cfg.generator.scales, min(s[0] for s in train.stages) if train.budget else train.size)


def check_training_memory(kind: str, train: TrainConfig, device: str) -> None:
    """One clear error before any work when the largest training batch would not fit."""
    for size, batch in ([(s[0], s[1]) for s in train.stages] if train.budget else [(train.size, train.batch_size)]):
        check_training(kind, size, batch, device)


def fitting_size(train: TrainConfig, shape: Sequence[int], log: Callable[[str], None]) -> int | None:
    """The largest training size a budget's stages may use on this exemplar: samples larger than the exemplar's
    shorter side hold nothing it has, so those stages train at that side (multiple of 16) instead."""
    side = min(shape)
    if not train.budget or train.largest_size() <= side:
        return None
    cap = max(32, side - side % 16)
    log(f"the exemplar's shorter side is {side} px: training sizes above {cap} px are capped at {cap}")
    return cap


def describe_schedule(train: TrainConfig, largest: int | None = None) -> str:
    if not train.budget:
        return f"training samples {train.size}x{train.size}, batch {train.batch_size}, {train.iterations} iterations"
    stages = ", then ".join(f"{min(s, largest or s)} px x{b}" for s, b, _ in train.stages)
    return f"{train.minutes:g} minutes: {stages}"


def load_texture_model(path: str | Path, device: str | torch.device = "cpu",
                       inference: bool = False) -> tuple[MultiScaleGenerator, dict]:
    return load_model_of_kind(path, "texture", device, inference)


def sample(model: str | Path | MultiScaleGenerator, width: int, height: int, n: int = 1,
           seed: int | None = 0, device: str = "auto") -> torch.Tensor:
    """n textures (n, 3, H, W) in [0, 1], one at a time so memory does not grow with n."""
    return torch.cat(list(samples(model, width, height, n, seed, device)))


def samples(model: str | Path | MultiScaleGenerator, width: int, height: int, n: int = 1,
            seed: int | None = 0, device: str = "auto") -> Iterator[torch.Tensor]:
    """Yield n textures (1, 3, H, W) in [0, 1]; sample i uses seed + i (a random seed when None)."""
    dev = resolve_device(device)
    from texnet.inference import InferenceGenerator, prepare

    if isinstance(model, InferenceGenerator):
        generator = model
    elif isinstance(model, MultiScaleGenerator):
        generator = prepare(model)
    else:
        generator = load_texture_model(model, dev, inference=True)[0]
    generator = generator.to(dev)
    base = seed if seed is not None else int(torch.seed() % 2**31)
    for i in range(n):
        yield generator.sample(width, height, 1, seed=base + i).cpu()


__all__ = ["TextureConfig", "TextureObjective", "StatisticTerms", "texture_objective", "exemplar_loss",
           "train_texture", "load_texture_model", "sample", "samples", "random_crops"]
