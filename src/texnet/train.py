"""The one training loop that texture and style generators share.

An *objective* says what a batch is and what the loss is (texture: noise -> Gram
loss; style: noise + content crops -> Gram + content loss). `fit` does the rest:
Adam on a schedule (the paper's iterations, or a wall-clock budget that trains coarse
to fine: texnet.schedule), a progress bar, previews, checkpoints that `resume`
continues from, Ctrl-C handling, the loss plot and the model file.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch

from texnet.device import resolve_device
from texnet.errors import Interrupted, TexnetError
from texnet.generators import Generator, batch_norm_to_instance, trained_per_sample
from texnet.images import save_image
from texnet.modelfile import load_checkpoint, save_checkpoint, save_model
from texnet.presets import TrainConfig
from texnet.schedule import clock

Log = Callable[[str], None]
now = time.perf_counter  # the training clock (a test swaps in a fake one)


class Objective(Protocol):
    """What a task contributes to the shared loop."""

    def inputs(self, generator: Generator, batch_size: int, size: int,
               rng: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Noise (finest first) and optional content images for one training batch."""

    def losses(self, images: torch.Tensor, content: torch.Tensor | None,
               rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Scalar loss terms; the key 'total' is what is minimised. Random choices inside the loss
        (sliced Wasserstein directions) come from `rng`, so a resumed run repeats them exactly."""

    def preview(self, generator: Generator) -> torch.Tensor:
        """One image (3, H, W) showing progress, made from fixed inputs."""


@dataclass
class Outputs:
    """The files a training run writes next to the model."""

    model: Path

    @property
    def checkpoint(self) -> Path:
        return self.model.with_name(self.model.name + ".ckpt")

    @property
    def previews(self) -> Path:
        return self.model.with_name(self.model.name + ".previews")

    @property
    def loss_plot(self) -> Path:
        return self.model.with_name(self.model.name + ".loss.png")


@dataclass
class History:
    iterations: list[int] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, iteration: int, values: dict[str, float]) -> None:
        self.iterations.append(iteration)
        for key, value in values.items():
            self.terms.setdefault(key, []).append(value)

    def truncate(self, count: int) -> None:
        """Forget entries after the first `count` (an iteration that did not finish)."""
        del self.iterations[count:]
        for values in self.terms.values():
            del values[count:]

    def final(self, window: int = 20) -> dict[str, float]:
        """Mean of the last `window` logged values of each term (single batches are noisy)."""
        return {k: sum(v[-window:]) / len(v[-window:]) for k, v in self.terms.items() if v}


def fingerprint(data: dict[str, Any]) -> str:
    """Identifies the inputs of a run so --resume refuses a checkpoint of a different run."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _state_tensors(generator: Generator, optimizer: torch.optim.Optimizer,
                   rng: torch.Generator) -> dict[str, torch.Tensor]:
    tensors = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    for index, param in enumerate(generator.parameters()):
        for key, value in optimizer.state.get(param, {}).items():
            tensors[f"adam.{index}.{key}"] = torch.as_tensor(value).reshape(-1) if key == "step" else value
    tensors["rng"] = rng.get_state()
    return tensors


def _restore(tensors: dict[str, torch.Tensor], generator: Generator,
             optimizer: torch.optim.Optimizer, rng: torch.Generator) -> None:
    generator.load_state_dict({k[len("generator."):]: v for k, v in tensors.items() if k.startswith("generator.")})
    device = next(generator.parameters()).device
    for index, param in enumerate(generator.parameters()):
        state = {}
        for key in ("step", "exp_avg", "exp_avg_sq"):
            name = f"adam.{index}.{key}"
            if name in tensors:
                value = tensors[name]
                state[key] = value.reshape(()).float() if key == "step" else value.to(device)
        if state:
            optimizer.state[param] = state
    rng.set_state(tensors["rng"])


def plot_history(history: History, path: Path, title: str) -> None:
    """Loss curve(s) on a log scale."""
    from texnet import plots

    fig, (ax,) = plots.subplots()
    for key, values in history.terms.items():
        if any(v > 0 for v in values):
            ax.plot(history.iterations, values, label=key, linewidth=1)
    plots.log_axes(ax, "iteration", "loss", title)
    plots.save(fig, path)


class _Clock:
    """Wall seconds of the run so far (setup included; earlier sessions of a resumed run too), and an estimate of
    the next iteration's cost: this stage's recent iterations (its first one, which warms kernels and memory up,
    only while it is the only one), else the last timed stage's scaled by pixels per batch, else nothing (0).
    Erring long: a budget would rather stop an iteration early than end late."""

    def __init__(self, started: float, before: float):
        self.started, self.before = started, before
        self.seconds: dict[int, list[float]] = {}
        self.pixels: dict[int, int] = {}

    def elapsed(self) -> float:
        return self.before + now() - self.started

    def record(self, stage: int, pixels: int, seconds: float) -> None:
        self.seconds.setdefault(stage, []).append(seconds)
        del self.seconds[stage][1:-5]  # the first (warm-up) one and the 5 most recent
        self.pixels[stage] = pixels

    def _mean(self, stage: int) -> float:
        times = self.seconds[stage][1:] or self.seconds[stage]
        return sum(times) / len(times)

    def estimate(self, stage: int, pixels: int) -> float:
        if stage in self.seconds:
            return self._mean(stage)
        if not self.seconds:
            return 0.0
        last = max(self.seconds)
        return self._mean(last) * pixels / self.pixels[last]


class _Pause(Exception):
    """TrainConfig.pause_after has passed: save as for Ctrl-C, then return."""


def fit(generator: Generator, objective: Objective, cfg: TrainConfig, output: Path,
        meta: dict[str, Any], resume: bool = False, progress: bool = True, log: Log = print,
        started: float | None = None, largest: int | None = None,
        on_iteration: Callable[[int], None] | None = None) -> tuple[Path, History]:
    """Train `generator` on `objective` and write the model file (plus checkpoint, previews, loss plot).

    With a budget (cfg.minutes) the clock runs from `started` (the caller's perf_counter at the command's
    start, so that set-up counts), stages train at sizes capped at `largest`, and the model file is valid at
    every save. Ctrl-C saves the model and a checkpoint and raises Interrupted; cfg.pause_after minutes after
    `started` it saves the same and returns. `on_iteration(done)` runs after
    each iteration's saves (texnet.raycluster's fault-injection hook uses it)."""
    cfg.validate()
    started = started if started is not None else now()
    device = resolve_device(cfg.device)
    outputs = Outputs(Path(output))
    schedule = cfg.schedule(largest)
    generator.to(device).train()
    optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.lr)
    torch.manual_seed(cfg.seed)
    rng = torch.Generator().manual_seed(cfg.seed)
    ignored = ("iterations", "preview_every", "checkpoint_every", "checkpoint_seconds", "device", "pause_after")
    # where the descriptor's weights lie is not an input: a run resumes in another checkout or on another machine
    descriptor = {k: v for k, v in meta.get("descriptor", {}).items() if k != "weights_file"}
    run_id = fingerprint({"meta": {**meta, "descriptor": descriptor},
                          "train": {k: v for k, v in asdict(cfg).items() if k not in ignored}})
    history, start = History(), 0

    if resume:
        if not outputs.checkpoint.exists():
            raise TexnetError(f"nothing to resume: no checkpoint {outputs.checkpoint}")
        tensors, state = load_checkpoint(outputs.checkpoint)
        if state.get("run_id") != run_id:
            raise TexnetError(f"checkpoint {outputs.checkpoint} belongs to a run with different inputs or settings; "
                              "use the same options as before, or start afresh without --resume")
        _restore(tensors, generator, optimizer, rng)
        start = int(state["iteration"])
        history = History(state["history"]["iterations"], state["history"]["terms"], state["history"]["seconds"])
        log(f"resuming from iteration {start}" + (f", {clock(history.seconds)} of {clock(60 * cfg.minutes)} spent"
                                                 if cfg.budget else f" of {cfg.iterations}"))
    timer = _Clock(started, history.seconds)
    stages: list[dict[str, int]] = []  # where each stage began: the model file records them

    def model_meta(done: int, complete: bool) -> dict[str, Any]:
        final = history.final()
        return {**meta, "training": {**meta.get("training", {}), **asdict(cfg), "device": str(device),
                                     "seconds": round(history.seconds, 1), "iterations_done": done,
                                     "stages_run": stages, "complete": complete, "final_loss": final}}

    def checkpoint(iteration: int) -> None:
        save_checkpoint(outputs.checkpoint, _state_tensors(generator, optimizer, rng),
                        {"run_id": run_id, "iteration": iteration, "history": asdict(history)})

    def save(done: int, complete: bool) -> None:
        was_training = generator.training
        save_model(outputs.model, generator.eval(), model_meta(done, complete))
        generator.train(was_training)

    def preview(iteration: int) -> None:
        # what the saved model will compute: a batch-1 batch norm runs as instance norm (see load_model)
        shown = batch_norm_to_instance(copy.deepcopy(generator)) if trained_per_sample(generator.cfg, cfg.batch_size) \
            else generator
        shown.eval()
        image = objective.preview(shown)
        generator.train()
        save_image(image, outputs.previews / f"iter_{iteration:06d}.png")

    from tqdm import tqdm

    if cfg.budget and not history.iterations and timer.elapsed() >= 60 * cfg.minutes:
        raise TexnetError(f"--minutes {cfg.minutes:g} is too short: setting up took {timer.elapsed():.1f} s here")
    total = round(60 * cfg.minutes) if cfg.budget else cfg.iterations
    bar = tqdm(total=total, initial=min(total, round(history.seconds) if cfg.budget else start),
               disable=not progress, unit="s" if cfg.budget else "it", dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {elapsed} of " + clock(total) + "{postfix}" if cfg.budget else None)

    def snapshot() -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, Any], int]:
        """Everything one iteration changes: an interrupted iteration is undone from this and redone identically."""
        return (rng.get_state(), copy.deepcopy(generator.state_dict()), copy.deepcopy(optimizer.state_dict()),
                len(history.iterations))

    saved = snapshot()
    done, stage, size = start, -1, None
    next_preview = (int(10 * schedule.fraction(start, history.seconds)) + 1) / 10
    last_save = now()
    try:
        for iteration in itertools.count(start):
            elapsed = timer.elapsed()
            plan = schedule.step(iteration, elapsed, 0.0)
            if plan is not None:
                pixels = plan.size * plan.size * plan.batch_size
                plan = schedule.step(iteration, elapsed, timer.estimate(plan.stage, pixels))
            if plan is None:
                break
            if plan.stage != stage:
                if cfg.budget and plan.stage > 0 and stage >= 0:
                    preview(done)  # the end of a stage, at its size
                stage = plan.stage
                if plan.size != size and hasattr(objective, "prepare"):
                    objective.prepare(plan.size)
                size = plan.size
                stages.append({"iteration": iteration, "size": plan.size, "batch_size": plan.batch_size})
            began = now()
            for group in optimizer.param_groups:
                group["lr"] = plan.lr
            noise, content = objective.inputs(generator, plan.batch_size, plan.size, rng)
            images = generator(noise, content)
            terms = objective.losses(images, content, rng)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            values = {k: float(v.detach()) for k, v in terms.items()}
            if not all(map(lambda v: v == v and abs(v) != float("inf"), values.values())):
                raise TexnetError(f"training diverged at iteration {iteration + 1} (loss is not finite); "
                                  "try a lower --lr")
            history.add(iteration + 1, values)
            saved = snapshot()  # this iteration is done: a Ctrl-C from here on keeps it
            timer.record(plan.stage, plan.size * plan.size * plan.batch_size, now() - began)
            history.seconds = timer.elapsed()
            done = iteration + 1
            if cfg.budget and done == 1 and history.seconds > 60 * cfg.minutes:
                raise TexnetError(f"--minutes {cfg.minutes:g} is too short for one training iteration: set-up and "
                                  f"the first one took {history.seconds:.1f} s here")
            bar.set_postfix(loss=f"{values['total']:.4g}", lr=f"{plan.lr:.3g}",
                            **({"size": plan.size, "it": done} if cfg.budget else {}))
            bar.update(min(total, round(history.seconds)) - bar.n if cfg.budget else 1)
            if cfg.budget:
                if cfg.preview_every and schedule.fraction(done, history.seconds) >= next_preview:
                    preview(done)
                    next_preview += 0.1
                if now() - last_save >= cfg.checkpoint_seconds:
                    checkpoint(done)
                    save(done, complete=False)
                    last_save = now()
            else:
                if cfg.preview_every and (done % cfg.preview_every == 0 or done == cfg.iterations):
                    preview(done)
                if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done < cfg.iterations:
                    checkpoint(done)
            if on_iteration is not None:
                on_iteration(done)
            if cfg.pause_after is not None and now() - started >= 60 * cfg.pause_after:
                raise _Pause
    except TexnetError:
        bar.close()  # the error line starts on a line of its own
        raise
    except (KeyboardInterrupt, _Pause) as stop:
        bar.close()
        rng_state, weights, adam, logged = saved  # undo the unfinished iteration, wherever it was cut
        rng.set_state(rng_state)
        generator.load_state_dict(weights)
        optimizer.load_state_dict(adam)
        history.truncate(logged)
        done = history.iterations[-1] if history.iterations else start
        history.seconds = timer.elapsed()
        checkpoint(done)
        if done:
            save(done, complete=False)
        where = (f"{clock(history.seconds)} of {clock(60 * cfg.minutes)}" if cfg.budget
                 else f"iteration {done} of {cfg.iterations}")
        saved_to = f"model saved to {outputs.model}" if done else "nothing trained yet"
        if isinstance(stop, _Pause):
            log(f"paused at {where} (--pause-after {cfg.pause_after:g}); {saved_to}; continue with --resume")
            return outputs.model, history
        raise Interrupted(f"stopped at {where}; {saved_to}; continue with --resume") from None
    bar.close()

    generator.eval()
    history.seconds = timer.elapsed()
    save(done, complete=True)
    plot_history(history, outputs.loss_plot, f"{meta.get('kind', 'texnet')} training: {outputs.model.name}")
    outputs.checkpoint.unlink(missing_ok=True)
    final = history.final()
    log(f"wrote {outputs.model} ({generator.num_parameters():,} parameters) after {done} iterations in "
        f"{clock(history.seconds)}; final loss {final.get('total', float('nan')):.4g}; loss plot {outputs.loss_plot}")
    return outputs.model, history
