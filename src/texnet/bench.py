"""`texnet bench`: the paper's claims, measured side by side on the machine at hand.

For each exemplar it trains (or reuses) a texture generator, then measures
  * generator: time per sample at 256 and 1024 px (median after warm-up), batch-16 throughput;
  * optimisation (Gatys et al., L-BFGS): loss at 100 and 500 iterations, time to reach the
    generator's loss, and the speed ratio;
  * peak memory of both, in fresh subprocesses (RSS increase on CPU, max allocated on CUDA);
  * quality: texture loss, diversity between seeds, a 2x2 tiling seam score;
and for stylization the time per 512 and 1024 px photo and the optimisation's time to the
generator's loss. Writes bench.json, bench.md and bench.png to the output folder.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from texnet import __version__
from texnet.files import atomic_path
from texnet.train import TrainConfig, resolve_device

DEFAULT_EXEMPLARS = ("gravel", "ihc")


@dataclass
class BenchConfig:
    exemplars: tuple[str, ...] = DEFAULT_EXEMPLARS
    style: str = "ihc"  # style image for the stylization rows
    style_content: str = "astronaut"  # photo stylized in the timing rows
    texture_train: TrainConfig = field(default_factory=lambda: TrainConfig(
        size=128, batch_size=2, iterations=1200, lr=0.05, lr_decay_start=600, lr_decay_every=120,
        preview_every=0, checkpoint_every=200))
    style_train: TrainConfig = field(default_factory=lambda: TrainConfig(
        size=128, batch_size=2, iterations=600, lr=0.05, lr_decay_start=300, lr_decay_every=60,
        preview_every=0, checkpoint_every=200))
    sizes: tuple[int, int] = (256, 1024)  # generator timing sizes
    quality_size: int = 256  # size at which generator and optimisation are compared
    style_sizes: tuple[int, int] = (512, 1024)
    opt_iterations: int = 500
    style_opt_iterations: int = 300
    style_opt_size: int = 512
    repeats: int = 5
    batch: int = 16
    seeds: int = 8
    device: str = "cpu"

    @classmethod
    def quick(cls, device: str = "cpu") -> "BenchConfig":
        """A smoke run in about a minute: tiny training, sizes and iteration counts."""
        tiny = TrainConfig(size=48, batch_size=1, iterations=8, preview_every=0, checkpoint_every=0)
        return cls(exemplars=("gravel",), texture_train=tiny, style_train=tiny, sizes=(64, 128), quality_size=64,
                   style_sizes=(64, 96), opt_iterations=12, style_opt_iterations=6, style_opt_size=64, repeats=2,
                   batch=2, seeds=2, device=device)


def _median_seconds(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):  # warm-up: allocator, kernels, caches
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def seam_score(image: torch.Tensor, grid: int = 32) -> float:
    """Jump across the seams of a 2x2 tiling over the jump across interior lines every `grid` px (1 = seamless).

    Comparing with lines on the same grid, not with all neighbours, matters: the generator's
    nearest upsampling makes every line on its coarsest grid (2^(K-1) = 16 or 32 px) a bit
    sharper than average, and the wrap-around line is one of them. With grid=1 every
    interior line is the reference.
    """
    h, w = image.shape[-2:]
    rows = [r for r in range(grid, h, grid)] or list(range(1, h))
    cols = [c for c in range(grid, w, grid)] or list(range(1, w))
    across = (image[..., :, 0] - image[..., :, w - 1]).abs().mean() + (image[..., 0, :] - image[..., h - 1, :]).abs().mean()
    inside = ((image[..., :, cols] - image[..., :, [c - 1 for c in cols]]).abs().mean()
              + (image[..., rows, :] - image[..., [r - 1 for r in rows], :]).abs().mean())
    return float(across / inside)


def diversity(images: torch.Tensor) -> float:
    """Mean absolute pixel difference between all pairs of images (0 = identical samples)."""
    n = images.shape[0]
    pairs = [(images[i] - images[j]).abs().mean() for i in range(n) for j in range(i + 1, n)]
    return float(sum(pairs) / len(pairs))


# ---------------------------------------------------------------------------- memory, in fresh processes

_MEMORY_SCRIPT = r"""
import json, sys, torch
import texnet.cli  # imports settle before the baseline
kind, device, model, size, arg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(int(sys.argv[6]))
def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024
# Peak RSS of this process only: getrusage's ru_maxrss would include the parent's peak at fork time.
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
except OSError:
    pass
base = status_mb("VmRSS:")
dev = torch.device(device)
if dev.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
if kind == "generator":
    from texnet.texture import load_texture_model
    g, _ = load_texture_model(model, dev)
    g.sample(size, size, seed=0)
else:
    from texnet.optimize import OptimizeConfig, optimize_texture
    optimize_texture(arg, size, size, OptimizeConfig(iterations=int(model), device=device), progress=False, log=lambda *a: None)
out = {"rss_increase_mb": status_mb("VmHWM:") - base}
if dev.type == "cuda":
    out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def measure_memory(kind: str, device: str, model: str, size: int, arg: str = "") -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, kind, device, model, str(size), arg,
                           str(torch.get_num_threads())], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- the runs


def bench_texture(name: str, cfg: BenchConfig, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from texnet.descriptor import load_descriptor
    from texnet.optimize import OptimizeConfig, optimize_pixels
    from texnet.texture import TextureConfig, TextureObjective, build_texture_loss, load_exemplar, load_texture_model, train_texture

    device = resolve_device(cfg.device)
    model_path = out / "models" / f"{Path(name).stem}.texnet"
    train = TrainConfig(**{**asdict(cfg.texture_train), "device": str(device)})
    exemplar, info = load_exemplar(name)
    _ensure_model(model_path, info["sha256"], train, name, log,
                  lambda: train_texture(name, model_path, train, TextureConfig(), progress=False, log=lambda *a: None))
    generator, meta = load_texture_model(model_path, device)
    row: dict[str, Any] = {"exemplar": name, "parameters": generator.num_parameters(),
                           "train_seconds": meta["training"]["seconds"], "train_iterations": train.iterations}

    for size in cfg.sizes:
        row[f"gen_ms_{size}"] = 1000 * _median_seconds(lambda: generator.sample(size, size, seed=0), cfg.repeats, device)
    s = cfg.sizes[0]
    batch_s = _median_seconds(lambda: generator.sample(s, s, batch=cfg.batch, seed=0), max(2, cfg.repeats // 2), device)
    row["gen_throughput_per_s"] = cfg.batch / batch_s

    q = cfg.quality_size
    tcfg = TextureConfig()
    descriptor, _ = load_descriptor("auto", tcfg.layers, tcfg.pooling, device)
    objective = TextureObjective(descriptor, build_texture_loss(descriptor, exemplar.to(device), tcfg))
    samples = torch.cat([generator.sample(q, q, seed=i) for i in range(cfg.seeds)])
    with torch.no_grad():
        gen_losses = [float(objective.losses(samples[i:i + 1], None)["texture"]) for i in range(cfg.seeds)]
    row["gen_loss"] = statistics.mean(gen_losses)
    row["gen_diversity"] = diversity(samples.cpu())
    row["gen_seam"] = statistics.mean(seam_score(x) for x in samples.cpu())
    crops = _exemplar_crops(exemplar[0], q, cfg.seeds)
    row["exemplar_crop_diversity"] = diversity(crops) if crops is not None else None

    log(f"[{name}] optimisation baseline: L-BFGS, {cfg.opt_iterations} iterations at {q}px")
    init = torch.rand(1, 3, q, q, generator=torch.Generator().manual_seed(0)).to(device)
    opt_image, trace = optimize_pixels(lambda x: objective.losses(x, None), init,
                                       OptimizeConfig(iterations=cfg.opt_iterations, device=str(device)), progress=False)
    row["opt_loss_100"] = trace.losses[min(99, len(trace.losses) - 1)]
    row["opt_loss_500"] = trace.losses[min(499, len(trace.losses) - 1)]
    row["opt_iterations"] = len(trace.losses)
    row["opt_seconds_total"] = trace.seconds[-1]
    reach = trace.time_to(row["gen_loss"])
    row["opt_seconds_to_gen_loss"] = reach
    row["speedup"] = (reach / (row[f"gen_ms_{q}"] / 1000)) if reach is not None and f"gen_ms_{q}" in row else None
    row["opt_seam"] = seam_score(opt_image[0].cpu())
    row["opt_trace"] = {"loss": trace.losses, "seconds": trace.seconds}

    log(f"[{name}] peak memory in fresh processes")
    row["gen_memory"] = measure_memory("generator", str(device), str(model_path), q)
    row["opt_memory"] = measure_memory("optimize", str(device), str(min(20, cfg.opt_iterations)), q, name)
    from texnet.images import save_image, tile

    save_image(torch.cat([tile(samples[0].cpu()), tile(opt_image[0].cpu())], dim=2), out / f"{Path(name).stem}_gen_vs_opt_tiled.png")
    return row


def _exemplar_crops(image: torch.Tensor, size: int, n: int) -> torch.Tensor | None:
    h, w = image.shape[1:]
    if h < size or w < size:
        return None
    g = torch.Generator().manual_seed(0)
    tops = torch.randint(h - size + 1, (n,), generator=g)
    lefts = torch.randint(w - size + 1, (n,), generator=g)
    return torch.stack([image[:, t:t + size, l:l + size] for t, l in zip(tops.tolist(), lefts.tolist())])


def _ensure_model(model_path: Path, sha: str, train: TrainConfig, label: str, log: Callable[[str], None],
                  train_fn: Callable[[], Any]) -> None:
    """Train the generator a row needs, unless a model with the same exemplar and settings is already there."""
    if model_path.exists() and _matches(model_path, sha, train):
        log(f"[{label}] reusing {model_path}")
        return
    log(f"[{label}] training a generator ({train.iterations} iterations of {train.batch_size}x{train.size}px)")
    train_fn()


def _matches(model_path: Path, sha: str, train: TrainConfig) -> bool:
    from texnet.modelfile import read_metadata

    try:
        meta = read_metadata(model_path)
    except Exception:  # noqa: BLE001 - a broken cached model is simply retrained
        return False
    t = meta.get("training", {})
    src = meta.get("exemplar", meta.get("style", {}))
    return src.get("sha256") == sha and all(t.get(k) == v for k, v in asdict(train).items()
                                            if k not in ("device", "preview_every", "checkpoint_every"))


def bench_style(cfg: BenchConfig, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from texnet.descriptor import load_descriptor
    from texnet.images import load_image, resize
    from texnet.losses import TextureLoss
    from texnet.optimize import OptimizeConfig, optimize_pixels
    from texnet.style import StyleConfig, StyleObjective, load_style_model, train_style
    from texnet.stylize import StylizeOptions, stylize_tensor
    from texnet.texture import load_exemplar

    device = resolve_device(cfg.device)
    model_path = out / "models" / f"style_{Path(cfg.style).stem}.texnet"
    train = TrainConfig(**{**asdict(cfg.style_train), "device": str(device)})
    style_image, info = load_exemplar(cfg.style)
    _ensure_model(model_path, info["sha256"], train, "style", log,
                  lambda: train_style(cfg.style, model_path, None, train, StyleConfig(), progress=False,
                                      log=lambda *a: None))
    generator, meta = load_style_model(model_path, device)
    row: dict[str, Any] = {"style": cfg.style, "parameters": generator.num_parameters(),
                           "train_seconds": meta["training"]["seconds"]}
    photo = load_image(cfg.style_content)
    opts = StylizeOptions()
    for size in cfg.style_sizes:
        content = resize(photo, (size, size))
        row[f"stylize_ms_{size}"] = 1000 * _median_seconds(lambda: stylize_tensor(generator, content, opts),
                                                             max(2, cfg.repeats // 2), device)
    size = cfg.style_opt_size
    scfg = StyleConfig()
    layers = tuple(dict.fromkeys(scfg.style_layers + scfg.content_layers))
    descriptor, _ = load_descriptor("auto", layers, scfg.pooling, device)
    with torch.no_grad():
        style_loss = TextureLoss.from_features(descriptor(style_image.to(device)), scfg.style_layers).to(device)
    objective = StyleObjective(descriptor, style_loss, None, scfg, device)
    content = resize(photo, (size, size))[None].to(device)
    with torch.no_grad():
        stylized = stylize_tensor(generator, content[0].cpu(), opts)[None].to(device)
        row["gen_loss"] = float(objective.losses(stylized, content)["total"])
    log(f"[style] optimisation baseline: L-BFGS from the photo, up to {cfg.style_opt_iterations} iterations at {size}px")
    _, trace = optimize_pixels(lambda x: objective.losses(x, content), content.clone(),
                               OptimizeConfig(iterations=cfg.style_opt_iterations, device=str(device)),
                               progress=False, stop_below=row["gen_loss"])
    row["opt_iterations"] = len(trace.losses)
    row["opt_final_loss"] = trace.losses[-1]
    row["opt_seconds_to_gen_loss"] = trace.time_to(row["gen_loss"])
    row["opt_seconds_total"] = trace.seconds[-1]
    gen_s = row.get(f"stylize_ms_{size}", None)
    reach = row["opt_seconds_to_gen_loss"]
    row["speedup"] = reach / (gen_s / 1000) if reach is not None and gen_s else None
    return row


def machine() -> dict[str, Any]:
    info = {"python": platform.python_version(), "torch": torch.__version__, "texnet": __version__,
            "platform": platform.platform(), "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "not reached"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"Measured {result['date']} on {m.get('gpu') or m.get('cpu')} ({result['device']}, "
             f"{m['cpu_threads']} threads), torch {m['torch']}, texnet {m['texnet']}, descriptor {result['descriptor']}.",
             "", f"| exemplar | gen ms/sample {result['config']['sizes'][0]}px | gen ms {result['config']['sizes'][1]}px | "
             f"gen samples/s (batch {result['config']['batch']}) | gen loss | "
             "opt loss @100 | opt loss @500 | opt s to gen loss | speed-up | gen MB | opt MB | "
             "diversity (gen / exemplar crops) | seam 2x2 (gen / opt) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["textures"]:
        s0, s1 = result["config"]["sizes"]
        mem = "cuda_max_allocated_mb" if result["device"].startswith("cuda") else "rss_increase_mb"
        lines.append("| " + " | ".join([
            r["exemplar"], _fmt(r[f"gen_ms_{s0}"]), _fmt(r[f"gen_ms_{s1}"]), _fmt(r["gen_throughput_per_s"]),
            _fmt(r["gen_loss"]), _fmt(r["opt_loss_100"]), _fmt(r["opt_loss_500"]),
            _fmt(r["opt_seconds_to_gen_loss"]), (_fmt(r["speedup"]) + "x") if r["speedup"] else "n/a",
            _fmt(r["gen_memory"].get(mem)), _fmt(r["opt_memory"].get(mem)),
            f"{_fmt(r['gen_diversity'])} / {_fmt(r['exemplar_crop_diversity'])}",
            f"{_fmt(r['gen_seam'])} / {_fmt(r['opt_seam'])}"]) + " |")
    if result.get("style"):
        r = result["style"]
        a, b = result["config"]["style_sizes"]
        lines += ["", f"| style | stylize ms {a}px | stylize ms {b}px | gen loss ({result['config']['style_opt_size']}px) | "
                  "opt s to gen loss | speed-up | opt iterations |",
                  "|---|---|---|---|---|---|---|",
                  "| " + " | ".join([r["style"], _fmt(r[f"stylize_ms_{a}"]), _fmt(r[f"stylize_ms_{b}"]), _fmt(r["gen_loss"]),
                                    _fmt(r["opt_seconds_to_gen_loss"]),
                                    (_fmt(r["speedup"]) + "x") if r["speedup"] else "n/a", str(r["opt_iterations"])]) + " |"]
    lines += ["", "Columns: gen = texnet generator (one forward pass), opt = optimisation baseline (Gatys et al., L-BFGS) "
              f"at {result['config']['quality_size']}px; losses are texnet's texture loss (lower is better); "
              "speed-up = optimisation time to reach the generator's loss / generator time per sample; "
              "MB = peak process RSS increase (CPU) or max CUDA memory allocated, in a fresh process; "
              "diversity = mean absolute pixel difference between samples of different seeds (exemplar crops for "
              "reference); seam = jump across a 2x2 tiling's seams / jump across interior lines every 32 px (1 = seamless)."]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    """Optimisation loss against time, with the generator's single forward pass as a point."""
    from texnet import plots

    rows = result["textures"]
    q = result["config"]["quality_size"]
    fig, axes = plots.subplots(len(rows), width=6)
    for ax, r in zip(axes, rows):
        ax.plot(r["opt_trace"]["seconds"], r["opt_trace"]["loss"], label="optimisation (L-BFGS)")
        ax.scatter([r[f"gen_ms_{q}"] / 1000], [r["gen_loss"]], color="red", zorder=3, label="texnet generator")
        ax.axhline(r["gen_loss"], color="red", linestyle=":", linewidth=1)
        plots.log_axes(ax, "seconds", "texture loss", f"{r['exemplar']}, {q}x{q}", logx=True)
    plots.save(fig, path)


def run(cfg: BenchConfig, out: str | Path, extra: list[str] | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    from texnet import weights

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if extra:
        cfg.exemplars = tuple(cfg.exemplars) + tuple(extra)
    device = resolve_device(cfg.device)
    torch.manual_seed(0)
    started = time.perf_counter()
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "device": str(device), "machine": machine(),
                              "descriptor": weights.resolve("auto")[0].name,
                              "config": json.loads(json.dumps(asdict(cfg), default=str)), "textures": []}
    for name in cfg.exemplars:
        result["textures"].append(bench_texture(name, cfg, out, log))
    result["style"] = bench_style(cfg, out, log)
    result["seconds"] = time.perf_counter() - started
    with atomic_path(out / "bench.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    table = markdown(result)
    with atomic_path(out / "bench.md") as tmp:
        tmp.write_text(table)
    plot(result, out / "bench.png")
    log(table)
    log(f"wrote {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.png'} in {result['seconds']:.0f} s")
    return result
