"""Section `style`: stylization time per photo at two sizes, and the optimisation's time to the same loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from texnet.bench.cache import Log, style_model
from texnet.bench.config import BenchConfig
from texnet.bench.harness import median_ms
from texnet.bench.report import fmt
from texnet.device import resolve_device

TITLE = "Stylization speed"


def measure(cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar, load_image, resize
    from texnet.optimize import OptimizeConfig, optimize_pixels
    from texnet.style import StyleConfig, load_style_model, style_layers, style_objective
    from texnet.stylizer import StylizeOptions, stylize_tensor

    device = resolve_device(cfg.device)
    model_path = style_model(cfg.style, cfg.style_preset, cfg, out, log)
    generator, meta = load_style_model(model_path, device, inference=True)
    row: dict[str, Any] = {"style": cfg.style, "preset": cfg.style_preset, "parameters": generator.num_parameters(),
                           "train_seconds": meta["training"]["seconds"]}
    photo = load_image(cfg.style_content)
    opts = StylizeOptions()
    for size in cfg.style_sizes:
        content = resize(photo, (size, size))
        row[f"stylize_ms_{size}"] = median_ms({"g": lambda: stylize_tensor(generator, content, opts)},
                                              max(2, cfg.repeats // 2), device)["g"]
    size = cfg.style_opt_size
    scfg = StyleConfig(precision="fp32")
    style_image, _ = load_exemplar(cfg.style)
    descriptor, _ = load_descriptor("auto", style_layers(scfg), scfg.pooling, device, scfg.precision)
    objective = style_objective(descriptor, style_image.to(device), scfg)
    content = resize(photo, (size, size))[None].to(device)
    targets = objective.content_targets(content)
    with torch.no_grad():
        stylized = stylize_tensor(generator, content[0].cpu(), opts)[None].to(device)
        row["gen_loss"] = float(objective.losses(stylized, None, targets=targets)["total"])
    log(f"[style] optimisation baseline: L-BFGS from the photo, up to {cfg.style_opt_iterations} iterations at {size}px")
    _, trace = optimize_pixels(lambda x: objective.losses(x, None, targets=targets), content.clone(),
                               OptimizeConfig(iterations=cfg.style_opt_iterations, device=str(device)),
                               progress=False, stop_below=row["gen_loss"])
    row["opt_iterations"] = len(trace.losses)
    row["opt_final_loss"] = trace.losses[-1]
    row["opt_seconds_to_gen_loss"] = trace.time_to(row["gen_loss"])
    row["opt_seconds_total"] = trace.seconds[-1]
    gen_ms = row.get(f"stylize_ms_{size}")
    reach = row["opt_seconds_to_gen_loss"]
    row["speedup"] = reach / (gen_ms / 1000) if reach is not None and gen_ms else None
    return row


def markdown(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    r = section["data"]
    a, b = c["style_sizes"]
    return [f"| style | stylize ms {a}px | stylize ms {b}px | gen loss ({c['style_opt_size']}px) | "
            "opt s to gen loss | speed-up | opt iterations |", "|---|---|---|---|---|---|---|",
            "| " + " | ".join([r["style"], fmt(r[f"stylize_ms_{a}"]), fmt(r[f"stylize_ms_{b}"]), fmt(r["gen_loss"]),
                              fmt(r["opt_seconds_to_gen_loss"]),
                              (fmt(r["speedup"]) + "x") if r["speedup"] else "not reached",
                              str(r["opt_iterations"])]) + " |"]
