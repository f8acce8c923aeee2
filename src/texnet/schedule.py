"""How training spends its time: a fixed number of iterations, or a wall-clock budget.

A budget (`--minutes`) trains coarse to fine: each stage has a training size, a batch and a
share of the budget, and a stage ends when its share of the time is spent, however fast the
machine is. The learning rate follows the fraction of the budget spent, so its decay ends at
the deadline on a slow CPU as on a GPU. Nothing here measures speed; the loop (texnet.train)
passes in the elapsed time and its estimate of the next iteration's cost.

This module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

if TYPE_CHECKING:
    from texnet.presets import TrainConfig


@dataclass(frozen=True)
class Stage:
    """One step of a progressive schedule: samples of `size` px, `batch_size` per iteration, for `share` of the
    budget."""

    size: int
    batch_size: int
    share: float


@dataclass(frozen=True)
class Step:
    """What one iteration does."""

    size: int
    batch_size: int
    lr: float
    stage: int


class Schedule(Protocol):
    def step(self, iteration: int, elapsed: float, next_seconds: float) -> Step | None:
        """The next iteration's settings, or None to stop. `elapsed`: wall seconds spent so far (setup
        included); `next_seconds`: the loop's estimate of what the next iteration will take."""

    def fraction(self, iteration: int, elapsed: float) -> float:
        """How much of the run is done, 0..1 (progress bars, previews)."""


class IterationSchedule:
    """The paper's schedule: a fixed number of Adam steps at one size, lr decayed in steps (TrainConfig.lr_at)."""

    def __init__(self, train: "TrainConfig"):
        self.train = train

    def step(self, iteration: int, elapsed: float, next_seconds: float) -> Step | None:
        if iteration >= self.train.iterations:
            return None
        return Step(self.train.size, self.train.batch_size, self.train.lr_at(iteration), 0)

    def fraction(self, iteration: int, elapsed: float) -> float:
        return min(1.0, iteration / self.train.iterations)


class BudgetSchedule:
    """Stages by time share, lr held for `hold` of the budget, then decayed exponentially to `final` x lr at the
    deadline. The run stops when the next iteration would end past the deadline less `reserve` seconds (the
    final save)."""

    def __init__(self, seconds: float, stages: Sequence[Stage], lr: float, hold: float = 0.5, final: float = 0.1,
                 reserve: float = 1.0):
        if seconds <= 0:
            raise ValueError("a budget needs some time")
        total = sum(s.share for s in stages)
        self.seconds, self.lr, self.hold, self.final, self.reserve = seconds, lr, hold, final, reserve
        self.stages = [Stage(s.size, s.batch_size, s.share / total) for s in stages]
        ends, t = [], 0.0
        for s in self.stages:
            t += s.share
            ends.append(t)
        self.ends = ends

    def stage_at(self, fraction: float) -> int:
        return next((i for i, end in enumerate(self.ends) if fraction < end), len(self.stages) - 1)

    def lr_at(self, fraction: float) -> float:
        if fraction <= self.hold:
            return self.lr
        return self.lr * self.final ** min(1.0, (fraction - self.hold) / (1 - self.hold))

    def step(self, iteration: int, elapsed: float, next_seconds: float) -> Step | None:
        if iteration > 0 and elapsed + next_seconds > self.seconds - self.reserve:
            return None
        fraction = elapsed / self.seconds
        i = self.stage_at(fraction)
        stage = self.stages[i]
        return Step(stage.size, stage.batch_size, self.lr_at(fraction), i)

    def fraction(self, iteration: int, elapsed: float) -> float:
        return min(1.0, elapsed / self.seconds)


def capped_stages(stages: Sequence[Stage], largest: int) -> list[Stage]:
    """The stages with no size above `largest` (a small exemplar): larger stages train at `largest`."""
    return [Stage(min(s.size, largest), s.batch_size, s.share) for s in stages]


def clock(seconds: float) -> str:
    """4:10, 1:02:03."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
