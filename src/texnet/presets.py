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
    preview_every: int = 100  # 0 disables previews (with a budget: 10 previews, evenly in time)
    checkpoint_every: int = 50
    seed: int = 0
    device: str = "auto"
    # A wall-clock budget instead of `iterations` (texnet.schedule): the run stops on time, after stages of
    # (size, batch size, share of the budget), coarse to fine; `size` and `batch_size` are then unused.
    minutes: float | None = None
    stages: tuple[tuple[int, int, float], ...] = ()
    checkpoint_seconds: float = 30.0  # with a budget: the model and checkpoint are saved this often
    # Minutes after which this run stops, saving the model and checkpoint, and returns (not part of the result:
    # --resume continues it): a budget of hours trained a slice at a time, as the zoo is.
    pause_after: float | None = None

    def with_overrides(self, **overrides: Any) -> "TrainConfig":
        """Explicit options win over the preset; None means 'not given'.

        `iterations` turns a budget preset into a fixed number of iterations (at `size`, `batch_size`);
        `minutes` gives any preset a budget (with its stages, or PROGRESSIVE's); under a budget `size` is the
        last stage's side (earlier stages shrink to it if larger) and `batch_size` is refused (the stages set it)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "iterations" in given:
            if "minutes" in given:
                raise TexnetError("give --minutes or --iterations, not both")
            base = replace(self, minutes=None)
            if self.budget:  # the fixed-length run trains at the budget's final size unless told otherwise
                size, batch, _ = self.stages[-1]
                base = replace(base, size=size, batch_size=batch)
            return replace(base, **given)
        out = replace(self, **{k: v for k, v in given.items() if k not in ("size", "batch_size")})
        if out.budget:
            if not out.stages:
                out = replace(out, stages=PROGRESSIVE)
            if "batch_size" in given:
                raise TexnetError("--batch-size needs --iterations: a time budget sets the batch of each stage")
            if "size" in given:
                side = given["size"]
                *early, (_, batch, share) = out.stages
                out = replace(out, stages=tuple((min(sz, side), b, sh) for sz, b, sh in early) + ((side, batch, share),))
            return out
        return replace(out, **{k: given[k] for k in ("size", "batch_size") if k in given})

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
        if self.minutes is not None and not self.minutes > 0:
            raise TexnetError("--minutes must be more than 0")
        if self.pause_after is not None and not self.pause_after > 0:
            raise TexnetError("--pause-after must be more than 0")
        if self.minutes is not None and not self.stages:
            raise TexnetError("a time budget needs stages (size, batch size, share)")

    @property
    def budget(self) -> bool:
        return self.minutes is not None

    def largest_size(self) -> int:
        """The largest training sample this run makes."""
        return max(s[0] for s in self.stages) if self.budget else self.size

    def schedule(self, largest: int | None = None):
        """The run's schedule (texnet.schedule); `largest` caps the stages' sizes (a small exemplar)."""
        from texnet.schedule import BudgetSchedule, IterationSchedule, Stage, capped_stages

        if not self.budget:
            return IterationSchedule(self)
        stages = [Stage(*s) for s in self.stages]
        if largest is not None:
            stages = capped_stages(stages, largest)
        return BudgetSchedule(60 * self.minutes, stages, self.lr, reserve=max(1.0, 0.005 * 60 * self.minutes))


@dataclass(frozen=True)
class Preset:
    train: TrainConfig
    settings: dict[str, Any] = field(default_factory=dict)  # TextureConfig / StyleConfig fields; "generator": {...}
    summary: str = ""


PAPER = Preset(TrainConfig(), {}, "the paper's 2000 iterations of batch 16 at 256 px (a GPU's work)")

# A budget's stages, coarse to fine: (training size, batch, share of the budget).
PROGRESSIVE = ((64, 4, 0.2), (128, 2, 0.3), (256, 1, 0.5))
# The sliced Wasserstein loss compares at most 16,384 random positions per layer and call: cheaper iterations
# at 256 px; better at the short budgets and level at 10 minutes (docs/quality.md, "Cheaper iterations").
BUDGET_TEXTURE = {"loss": "swd", "weighting": "floor", "loss_options": {"positions": 16384},
                  "generator": {"norm": "instance"}}


def _budget(minutes: float) -> TrainConfig:
    return TrainConfig(minutes=minutes, stages=PROGRESSIVE, lr=0.05, size=256, batch_size=1)


TEXTURE = {
    "quick": Preset(_budget(3), BUDGET_TEXTURE, "3 minutes, coarse to fine (64, 128, 256 px), sliced-Wasserstein loss"),
    "standard": Preset(_budget(10), BUDGET_TEXTURE, "10 minutes, coarse to fine"),
    "best": Preset(_budget(30), BUDGET_TEXTURE, "30 minutes, coarse to fine"),
    "paper": PAPER,
}

STYLE_SETTINGS = {"content_weight": 1.0, "tone_weight": 4.0, "style_size": 256}

STYLE = {
    # content weight 1 with the tone term (weight 4) and the painting at 256 px: the painting's colours and strokes,
    # the photo's light and dark kept (style sweep, docs/stylization.md)
    "quick": Preset(TrainConfig(size=128, batch_size=2, iterations=600, lr=0.05, lr_decay=0.7, lr_decay_start=300,
                                lr_decay_every=60, preview_every=100), STYLE_SETTINGS,
                    "128 px crops, batch 2, 600 iterations, content weight 1, tone weight 4, painting at 256 px"),
    # the quick recipe at the measuring scale
    "standard": Preset(TrainConfig(size=256, batch_size=1, iterations=1500, lr=0.05, lr_decay=0.7, lr_decay_start=750,
                                   lr_decay_every=150, preview_every=100), STYLE_SETTINGS,
                       "256 px crops, batch 1, 1500 iterations, content weight 1, tone weight 4, painting at 256 px"),
    "paper": PAPER,
}


# Generator settings an architecture brings, below the preset's and the user's (GeneratorConfig's are the paper's).
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "multiscale": {},
    "residual": {"scales": 3, "channels": 32, "blocks": 5},  # 32-64-128 channels: about 1.8M parameters
}


def apply(config: Any, settings: dict[str, Any], explicit: dict[str, Any]) -> Any:
    """A TextureConfig/StyleConfig with the preset's settings, then the explicitly given (not None) values.

    Keys under "generator" (in either dict) go to the nested GeneratorConfig; choosing an `arch` there
    brings that architecture's defaults (ARCH_DEFAULTS) first. Choosing another `loss` drops the preset's
    `loss_options`.
    """
    given = {k: v for k, v in explicit.items() if v is not None and k != "generator"}
    values = {**settings, **given}
    if "loss" in given and given["loss"] != settings.get("loss") and "loss_options" not in given:
        values.pop("loss_options", None)  # the preset's options are its own loss's (a Gram loss has none)
    gen = {**settings.get("generator", {}), **{k: v for k, v in explicit.get("generator", {}).items() if v is not None}}
    gen = {**ARCH_DEFAULTS.get(gen.get("arch", ""), {}), **gen}
    values.pop("generator", None)
    out = replace(config, **values)
    return replace(out, generator=replace(out.generator, **gen)) if gen else out
