"""The one training loop that texture and style generators share.

An *objective* says what a batch is and what the loss is (texture: noise -> Gram
loss; style: noise + content crops -> Gram + content loss). `fit` does the rest:
Adam with the paper's step schedule, a progress bar, previews, checkpoints that
`resume` continues from, Ctrl-C handling, the loss plot and the final model file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch

from texnet.device import resolve_device
from texnet.errors import TexnetError
from texnet.generators import MultiScaleGenerator, batch_norm_to_instance, trained_per_sample
from texnet.images import save_image
from texnet.modelfile import load_checkpoint, save_checkpoint, save_model
from texnet.presets import TrainConfig

Log = Callable[[str], None]


class Objective(Protocol):
    """What a task contributes to the shared loop."""

    def inputs(self, generator: MultiScaleGenerator, batch_size: int, size: int,
               rng: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Noise (finest first) and optional content images for one training batch."""

    def losses(self, images: torch.Tensor, content: torch.Tensor | None,
               rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Scalar loss terms; the key 'total' is what is minimised. Random choices inside the loss
        (sliced Wasserstein directions) come from `rng`, so a resumed run repeats them exactly."""

    def preview(self, generator: MultiScaleGenerator) -> torch.Tensor:
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


def _state_tensors(generator: MultiScaleGenerator, optimizer: torch.optim.Optimizer,
                   rng: torch.Generator) -> dict[str, torch.Tensor]:
    tensors = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    for index, param in enumerate(generator.parameters()):
        for key, value in optimizer.state.get(param, {}).items():
            tensors[f"adam.{index}.{key}"] = torch.as_tensor(value).reshape(-1) if key == "step" else value
    tensors["rng"] = rng.get_state()
    return tensors


def _restore(tensors: dict[str, torch.Tensor], generator: MultiScaleGenerator,
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


def fit(generator: MultiScaleGenerator, objective: Objective, cfg: TrainConfig, output: Path,
        meta: dict[str, Any], resume: bool = False, progress: bool = True, log: Log = print) -> tuple[Path, History]:
    """Train `generator` on `objective` and write the model file (plus checkpoint, previews, loss plot)."""
    cfg.validate()
    device = resolve_device(cfg.device)
    outputs = Outputs(Path(output))
    generator.to(device).train()
    optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.lr)
    torch.manual_seed(cfg.seed)
    rng = torch.Generator().manual_seed(cfg.seed)
    run_id = fingerprint({"meta": meta, "train": {k: v for k, v in asdict(cfg).items()
                                                   if k not in ("iterations", "preview_every", "checkpoint_every", "device")}})
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
        log(f"resuming from iteration {start} of {cfg.iterations}")

    def checkpoint(iteration: int) -> None:
        save_checkpoint(outputs.checkpoint, _state_tensors(generator, optimizer, rng),
                        {"run_id": run_id, "iteration": iteration, "history": asdict(history)})

    def preview(iteration: int) -> None:
        # what the saved model will compute: a batch-1 batch norm runs as instance norm (see load_model)
        shown = batch_norm_to_instance(copy.deepcopy(generator)) if trained_per_sample(generator.cfg, cfg.batch_size) \
            else generator
        shown.eval()
        image = objective.preview(shown)
        generator.train()
        save_image(image, outputs.previews / f"iter_{iteration:06d}.png")

    from tqdm import tqdm

    bar = tqdm(total=cfg.iterations, initial=start, disable=not progress, unit="it", dynamic_ncols=True)
    def snapshot() -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, Any], int]:
        """Everything one iteration changes: an interrupted iteration is undone from this and redone identically."""
        return (rng.get_state(), copy.deepcopy(generator.state_dict()), copy.deepcopy(optimizer.state_dict()),
                len(history.iterations))

    saved = snapshot()
    began = time.perf_counter() - history.seconds
    try:
        for iteration in range(start, cfg.iterations):
            saved = snapshot()
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr_at(iteration)
            noise, content = objective.inputs(generator, cfg.batch_size, cfg.size, rng)
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
            history.seconds = time.perf_counter() - began
            bar.set_postfix(loss=f"{values['total']:.4g}", lr=f"{cfg.lr_at(iteration):.3g}")
            bar.update(1)
            done = iteration + 1
            if cfg.preview_every and (done % cfg.preview_every == 0 or done == cfg.iterations):
                preview(done)
            if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done < cfg.iterations:
                checkpoint(done)
    except KeyboardInterrupt:
        bar.close()
        rng_state, weights, adam, logged = saved  # undo the unfinished iteration, wherever it was cut
        rng.set_state(rng_state)
        generator.load_state_dict(weights)
        optimizer.load_state_dict(adam)
        history.truncate(logged)
        done = history.iterations[-1] if history.iterations else start
        checkpoint(done)
        raise TexnetError(f"interrupted at iteration {done}; checkpoint saved to {outputs.checkpoint}, "
                          "continue with --resume") from None
    bar.close()

    generator.eval()
    final = history.final()
    meta = {**meta, "training": {**meta.get("training", {}), **asdict(cfg), "device": str(device),
                                 "seconds": round(history.seconds, 1), "final_loss": final}}
    save_model(outputs.model, generator, meta)
    plot_history(history, outputs.loss_plot, f"{meta.get('kind', 'texnet')} training: {outputs.model.name}")
    outputs.checkpoint.unlink(missing_ok=True)
    log(f"wrote {outputs.model} ({generator.num_parameters():,} parameters) in {history.seconds:.0f} s; "
        f"final loss {final.get('total', float('nan')):.4g}; loss plot {outputs.loss_plot}")
    return outputs.model, history
