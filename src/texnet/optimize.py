"""The optimisation baseline of Gatys et al.: optimise the pixels of one image.

It uses the same descriptor and the same loss code as the generators (the objectives'
`losses`), so its numbers compare directly with theirs. It is slow and memory-hungry,
which is the point of the paper, but it gives the best quality when time does not matter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from texnet.descriptor import load_descriptor
from texnet.device import resolve_device
from texnet.errors import TexnetError
from texnet.images import fit_within, load_exemplar, load_image, resize
from texnet.style import StyleConfig, style_layers, style_objective
from texnet.texture import TextureConfig, texture_objective

LossFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


@dataclass
class OptimizeConfig:
    iterations: int = 500  # loss evaluations (L-BFGS) or steps (Adam)
    optimizer: str = "lbfgs"
    lr: float | None = None  # default: 1.0 for L-BFGS, 0.02 for Adam
    seed: int = 0
    device: str = "auto"


@dataclass
class Trace:
    """Loss after each iteration and the seconds it took to get there (for benchmarks)."""

    losses: list[float]
    seconds: list[float]

    def time_to(self, target: float) -> float | None:
        for loss, t in zip(self.losses, self.seconds):
            if loss <= target:
                return t
        return None


def optimize_pixels(loss_fn: LossFn, init: torch.Tensor, cfg: OptimizeConfig, progress: bool = True,
                    stop_below: float | None = None) -> tuple[torch.Tensor, Trace]:
    """Minimise loss_fn over the pixels of `init` (1, 3, H, W); pixels are kept in [0, 1]."""
    if cfg.optimizer not in ("lbfgs", "adam"):
        raise TexnetError(f"unknown optimizer '{cfg.optimizer}': use lbfgs or adam")
    if cfg.iterations < 1:
        raise TexnetError("--iterations must be at least 1")
    from tqdm import tqdm

    x = init.clone().requires_grad_(True)
    trace = Trace([], [])
    bar = tqdm(total=cfg.iterations, disable=not progress, unit="it", dynamic_ncols=True)
    start = time.perf_counter()
    finite = {"x": x.detach().clone(), "diverged": False}  # the last iterate with a finite loss

    def evaluate() -> torch.Tensor:
        loss = loss_fn(x)["total"]
        x.grad = None
        loss.backward()
        value = float(loss.detach())
        if value != value or abs(value) == float("inf"):
            finite["diverged"] = True
            value = trace.losses[-1] if trace.losses else value
        else:
            finite["x"] = x.detach().clone()
        trace.losses.append(value)
        trace.seconds.append(time.perf_counter() - start)
        bar.update(1)
        bar.set_postfix(loss=f"{trace.losses[-1]:.4g}")
        return loss

    def done() -> bool:
        return len(trace.losses) >= cfg.iterations or (stop_below is not None and trace.losses
                                                      and trace.losses[-1] <= stop_below)

    def recover(lr: float) -> float:
        """After a non-finite loss (L-BFGS stepped far outside [0, 1]): back to the last finite iterate, with a
        fresh optimiser at half the step size."""
        with torch.no_grad():
            x.copy_(finite["x"])
        finite["diverged"] = False
        return lr / 2

    if cfg.optimizer == "lbfgs":
        lr = cfg.lr or 1.0

        def make() -> torch.optim.LBFGS:
            return torch.optim.LBFGS([x], lr=lr, max_iter=20, history_size=20, tolerance_grad=0,
                                     tolerance_change=0, line_search_fn=None)

        opt = make()
        while not done():
            remaining = cfg.iterations - len(trace.losses)
            opt.param_groups[0].update(max_iter=min(20, remaining), max_eval=remaining)
            before = len(trace.losses)
            opt.step(evaluate)
            if finite["diverged"] or not torch.isfinite(x).all():
                lr = recover(lr)
                opt = make()
            with torch.no_grad():
                x.clamp_(0, 1)
            if len(trace.losses) == before:
                break
    else:
        opt = torch.optim.Adam([x], lr=cfg.lr or 0.02)
        while not done():
            evaluate()
            opt.step()
            if finite["diverged"] or not torch.isfinite(x).all():
                recover(cfg.lr or 0.02)
            with torch.no_grad():
                x.clamp_(0, 1)
    bar.close()
    return x.detach().clamp(0, 1), trace


def optimize_texture(image: str, width: int, height: int, cfg: OptimizeConfig | None = None,
                     tcfg: TextureConfig | None = None, progress: bool = True,
                     log: Callable[[str], None] = print) -> tuple[torch.Tensor, Trace]:
    """A texture by optimisation: (3, H, W) in [0, 1] and its loss trace."""
    cfg, tcfg = cfg or OptimizeConfig(), tcfg or TextureConfig()
    device = resolve_device(cfg.device)
    exemplar, _ = load_exemplar(image, tcfg.exemplar_size)
    descriptor, info = load_descriptor(tcfg.descriptor, tcfg.descriptor_layers(), tcfg.pooling, device, tcfg.precision)
    log(f"descriptor: {info.source} ({info.precision}); optimising {width}x{height} px with {cfg.optimizer}, "
        f"{cfg.iterations} iterations, {tcfg.loss} loss")
    objective = texture_objective(descriptor, exemplar.to(device), tcfg, train_size=max(width, height))
    rng = torch.Generator().manual_seed(cfg.seed)  # sliced-Wasserstein directions
    x, trace = optimize_pixels(lambda img: objective.losses(img, None, rng),
                               texture_init(width, height, cfg.seed, device), cfg, progress)
    return x[0].cpu(), trace


def texture_init(width: int, height: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The start image of texture optimisation: uniform noise from `seed`."""
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed)).to(device)


def optimize_style(content: str, style: str, cfg: OptimizeConfig | None = None, scfg: StyleConfig | None = None,
                   size: tuple[int, int] | None = None, max_size: int | None = 512, init: str = "content",
                   progress: bool = True, log: Callable[[str], None] = print) -> tuple[torch.Tensor, Trace]:
    """Gatys et al.'s style transfer of `content` in the style of `style`."""
    cfg, scfg = cfg or OptimizeConfig(), scfg or StyleConfig()
    if init not in ("content", "noise"):
        raise TexnetError(f"unknown --init '{init}': use content or noise")
    device = resolve_device(cfg.device)
    photo = load_image(content, min_size=16)
    if size is not None:
        photo = resize(photo, size)
    elif max_size is not None and max(photo.shape[1:]) > max_size:
        photo = resize(photo, fit_within(tuple(photo.shape[1:]), max_size))
    style_image, _ = load_exemplar(style, scfg.style_size)
    descriptor, info = load_descriptor(scfg.descriptor, style_layers(scfg), scfg.pooling, device, scfg.precision)
    log(f"descriptor: {info.source} ({info.precision}); optimising {photo.shape[2]}x{photo.shape[1]} px with "
        f"{cfg.optimizer}, {cfg.iterations} iterations, {scfg.loss} style loss, content weight {scfg.content_weight}")
    objective = style_objective(descriptor, style_image.to(device), scfg, train_size=max(photo.shape[1:]))
    target = photo[None].to(device)
    targets = objective.content_targets(target)  # once: the photo does not change
    start = target if init == "content" else texture_init(target.shape[3], target.shape[2], cfg.seed, device)
    rng = torch.Generator().manual_seed(cfg.seed)
    x, trace = optimize_pixels(lambda img: objective.losses(img, target, rng, targets), start, cfg, progress)
    return x[0].cpu(), trace


__all__ = ["OptimizeConfig", "Trace", "optimize_pixels", "optimize_texture", "optimize_style", "texture_init"]
