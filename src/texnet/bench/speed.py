"""Section `speed`: a generator's time and memory per sample against the optimisation's time to the same loss."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch

from texnet.bench.cache import Log, texture_model
from texnet.bench.config import BenchConfig
from texnet.bench.harness import measure_memory, median_ms
from texnet.bench.report import fmt, fmt_memory
from texnet.device import resolve_device
from texnet.quality import seam_score

TITLE = "Speed and memory"


def measure_one(name: str, cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    """One exemplar: the speed preset's generator (trained or reused) against L-BFGS on the Gram loss."""
    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar, save_image, tile
    from texnet.optimize import OptimizeConfig, optimize_pixels, texture_init
    from texnet.texture import TextureConfig, load_texture_model, texture_objective

    device = resolve_device(cfg.device)
    model_path = texture_model(name, cfg.speed_preset, cfg, out, log)
    generator, meta = load_texture_model(model_path, device, inference=True)
    row: dict[str, Any] = {"exemplar": name, "preset": cfg.speed_preset, "parameters": generator.num_parameters(),
                           "train_seconds": meta["training"]["seconds"]}
    for size in cfg.sizes:
        row[f"gen_ms_{size}"] = median_ms({"g": lambda: generator.sample(size, size, seed=0)}, cfg.repeats, device)["g"]
    s = cfg.sizes[0]
    batch_ms = median_ms({"g": lambda: generator.sample(s, s, batch=cfg.batch, seed=0)}, max(2, cfg.repeats // 2),
                         device)["g"]
    row["gen_throughput_per_s"] = cfg.batch / (batch_ms / 1000)

    tcfg = TextureConfig(precision="fp32")  # the baseline of Gatys et al.: Gram loss in full precision
    exemplar, _ = load_exemplar(name)
    descriptor, _ = load_descriptor("auto", tcfg.descriptor_layers(), tcfg.pooling, device, tcfg.precision)
    objective = texture_objective(descriptor, exemplar.to(device), tcfg)
    samples = torch.cat([generator.sample(s, s, seed=i) for i in range(4)])
    with torch.no_grad():
        row["gen_loss"] = statistics.mean(float(objective.losses(x[None].to(device), None)["texture"]) for x in samples)
    log(f"[{name}] optimisation baseline: L-BFGS, {cfg.opt_iterations} iterations at {s}px")
    opt_image, trace = optimize_pixels(lambda x: objective.losses(x, None), texture_init(s, s, 0, device),
                                       OptimizeConfig(iterations=cfg.opt_iterations, device=str(device)),
                                       progress=False)
    checkpoints = sorted({min(100, cfg.opt_iterations), cfg.opt_iterations})
    row["opt_loss_at"] = {str(n): trace.losses[min(n, len(trace.losses)) - 1] for n in checkpoints}
    row["opt_iterations"] = len(trace.losses)
    row["opt_seconds_total"] = trace.seconds[-1]
    reach = trace.time_to(row["gen_loss"])
    row["opt_seconds_to_gen_loss"] = reach
    row["speedup"] = reach / (row[f"gen_ms_{s}"] / 1000) if reach is not None else None
    row["gen_seam"] = statistics.mean(seam_score(x) for x in samples)
    row["opt_seam"] = seam_score(opt_image[0].cpu())
    row["opt_trace"] = {"loss": trace.losses, "seconds": trace.seconds}
    log(f"[{name}] peak memory in fresh processes")
    row["gen_memory"] = measure_memory("generator", str(device), str(model_path), s)
    row["opt_memory"] = measure_memory("optimize", str(device), str(min(20, cfg.opt_iterations)), s, name)
    save_image(torch.cat([tile(samples[0]), tile(opt_image[0].cpu())], dim=2),
               out / f"{Path(name).stem}_gen_vs_opt_tiled.png")
    return row


def measure(cfg: BenchConfig, out: Path, log: Log) -> list[dict[str, Any]]:
    rows = [measure_one(name, cfg, out, log) for name in cfg.exemplars]
    plot(rows, cfg.sizes[0], out / "bench.png")
    return rows


def plot(rows: list[dict[str, Any]], q: int, path: Path) -> None:
    """Optimisation loss against time, with the generator's single forward pass as a point."""
    from texnet import plots

    fig, axes = plots.subplots(len(rows), width=6)
    for ax, r in zip(axes, rows):
        ax.plot(r["opt_trace"]["seconds"], r["opt_trace"]["loss"], label="optimisation (L-BFGS)")
        ax.scatter([r[f"gen_ms_{q}"] / 1000], [r["gen_loss"]], color="red", zorder=3, label="texnet generator")
        ax.axhline(r["gen_loss"], color="red", linestyle=":", linewidth=1)
        plots.log_axes(ax, "seconds", "texture loss", f"{r['exemplar']}, {q}x{q}", logx=True)
    plots.save(fig, path)


def markdown(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    s0, s1 = c["sizes"]
    marks = sorted({min(100, c["opt_iterations"]), c["opt_iterations"]})
    mem = "cuda_max_allocated_mb" if section["device"].startswith("cuda") else "rss_increase_mb"
    lines = [f"| exemplar | gen ms/sample {s0}px | gen ms {s1}px | gen samples/s (batch {c['batch']}) | gen loss | "
             + " | ".join(f"opt loss @{n}" for n in marks)
             + " | opt s to gen loss | speed-up | gen MB | opt MB | seam 2x2 (gen / opt) |",
             "|---|---|---|---|---|" + "---|" * len(marks) + "---|---|---|---|---|"]
    for r in section["data"]:
        lines.append("| " + " | ".join(
            [r["exemplar"], fmt(r[f"gen_ms_{s0}"]), fmt(r[f"gen_ms_{s1}"]), fmt(r["gen_throughput_per_s"]),
             fmt(r["gen_loss"])] + [fmt(r["opt_loss_at"][str(n)]) for n in marks]
            + [fmt(r["opt_seconds_to_gen_loss"]), (fmt(r["speedup"]) + "x") if r["speedup"] else "not reached",
               fmt_memory(r["gen_memory"], mem), fmt_memory(r["opt_memory"], mem),
               f"{fmt(r['gen_seam'])} / {fmt(r['opt_seam'])}"]) + " |")
    lines += ["", f"gen = texnet generator, {c['speed_preset']} preset (one forward pass); opt = "
              f"optimisation baseline (Gatys et al., L-BFGS, Gram loss) at {s0}px; losses are texnet's Gram loss; "
              "speed-up = optimisation time to reach the generator's loss / generator time per sample; MB = peak "
              "process RSS increase (CPU) or max CUDA memory allocated, in a fresh process; seam = jump across a 2x2 "
              "tiling's seams / jump across interior lines every 32 px (1 = seamless)."]
    return lines
