"""Training settings and presets, in one place: what `--preset` means for textures and for styles.

`paper` is section 4 of the paper (a GPU's work). The others were chosen from measured
runs on a 2-core CPU (benchmarks/quality_sweep.py and style_sweep.py); a preset sets
training settings and, where the measurements called for it, loss and generator settings.
Explicit command-line options override both. This module does not import torch, so
`texnet --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from texnet.errors import TexnetError


@dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the paper's (section 4)."""

    size: int = 256  # side of the generated training samples
    batch_size: int = 16
    iterations: int = 2000
    lr: float = 0.1
    lr_decay: float = 0.7  # lr *= lr_decay at lr_decay_start and every lr_decay_every after
    lr_decay_start: int = 1000
    lr_decay_every: int = 200
    preview_every: int = 100  # 0 disables previews
    checkpoint_every: int = 50
    seed: int = 0
    device: str = "auto"

    def with_overrides(self, **overrides: Any) -> "TrainConfig":
        """Explicit options win over the preset; None means 'not given'."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def lr_at(self, iteration: int) -> float:
        if iteration < self.lr_decay_start or self.lr_decay_every <= 0:
            return self.lr
        steps = 1 + (iteration - self.lr_decay_start) // self.lr_decay_every
        return self.lr * self.lr_decay**steps

    def validate(self) -> None:
        for name in ("size", "batch_size", "iterations"):
            if getattr(self, name) < 1:
                raise TexnetError(f"--{name.replace('_', '-')} must be at least 1")
        if self.lr <= 0:
            raise TexnetError("--lr must be positive")


@dataclass(frozen=True)
class Preset:
    train: TrainConfig
    settings: dict[str, Any] = field(default_factory=dict)  # TextureConfig / StyleConfig fields; "generator": {...}
    summary: str = ""


PAPER = Preset(TrainConfig(), {}, "the paper's 2000 iterations of batch 16 at 256 px (a GPU's work)")

TEXTURE = {
    # the sliced-Wasserstein loss beat Gram on every exemplar of the sweep (docs/quality.md)
    "quick": Preset(TrainConfig(size=128, batch_size=2, iterations=400, lr=0.05, lr_decay=0.7, lr_decay_start=200,
                                lr_decay_every=40, preview_every=100), {"loss": "swd"},
                    "sliced-Wasserstein loss, 128 px, batch 2, 400 iterations"),
    # the measuring size, batch 1 (it samples as instance norm: generators.trained_per_sample), each layer's error
    # also over what real crops score (weighting "floor"); docs/quality.md has its numbers
    "standard": Preset(TrainConfig(size=256, batch_size=1, iterations=1300, lr=0.05, lr_decay=0.7, lr_decay_start=650,
                                   lr_decay_every=130, preview_every=100), {"loss": "swd", "weighting": "floor"},
                       "sliced-Wasserstein loss with floor weighting, 256 px, batch 1, 1300 iterations"),
    "paper": PAPER,
}

STYLE = {
    # content weight 2 with the painting at 256 px: its colours and strokes, the photo recognisable (style sweep)
    "quick": Preset(TrainConfig(size=128, batch_size=2, iterations=600, lr=0.05, lr_decay=0.7, lr_decay_start=300,
                                lr_decay_every=60, preview_every=100), {"content_weight": 2.0, "style_size": 256},
                    "128 px crops, batch 2, 600 iterations, content weight 2, painting at 256 px"),
    # the quick recipe at the measuring scale, content weight 1.5 (docs/stylization.md)
    "standard": Preset(TrainConfig(size=256, batch_size=1, iterations=1500, lr=0.05, lr_decay=0.7, lr_decay_start=750,
                                   lr_decay_every=150, preview_every=100), {"content_weight": 1.5, "style_size": 256},
                       "256 px crops, batch 1, 1500 iterations, content weight 1.5, painting at 256 px"),
    "paper": PAPER,
}

def apply(config: Any, settings: dict[str, Any], explicit: dict[str, Any]) -> Any:
    """A TextureConfig/StyleConfig with the preset's settings, then the explicitly given (not None) values.

    Keys under "generator" (in either dict) go to the nested GeneratorConfig.
    """
    values = {**settings, **{k: v for k, v in explicit.items() if v is not None and k != "generator"}}
    gen = {**settings.get("generator", {}), **{k: v for k, v in explicit.get("generator", {}).items() if v is not None}}
    values.pop("generator", None)
    out = replace(config, **values)
    return replace(out, generator=replace(out.generator, **gen)) if gen else out
