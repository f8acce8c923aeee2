"""Seconds per training iteration, and where they go, at the sizes a budget trains at.

    python benchmarks/train_speed.py                          # 64, 128 and 256 px, the budget presets' loss
    python benchmarks/train_speed.py --sizes 256 --batch 1 --label before
    python benchmarks/train_speed.py --precision fp32 --label fp32    # the descriptor in fp32 where auto picks bf16
    python benchmarks/train_speed.py --arm pos16k --label pos16k      # a quality sweep arm's loss and generator

For each size: a whole iteration (noise, generator, descriptor, loss, backward, Adam step) timed
by texnet.bench.harness.median_ms, and its parts timed the same way; the iteration's GFLOP
(convolutions of the generator and the descriptor, forward and backward counted as 3 forward
passes' worth for the generator, 2 for the descriptor, whose weights need no gradient) over its
time, next to the descriptor's forward GFLOP/s. Appends a row per size to
benchmarks/results/train_speed.json, labelled, with the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "benchmarks" / "results" / "train_speed.json"


def measure(size: int, batch: int, repeats: int, exemplar: str, precision: str = "auto", arm: str = "base") -> dict:
    from texnet import presets
    from texnet.bench.harness import conv_gflop, median_ms
    from texnet.descriptor import load_descriptor
    from texnet.generators import GeneratorConfig, MultiScaleGenerator
    from texnet.images import load_exemplar
    from texnet.texture import TextureConfig, texture_objective

    from quality_sweep import arm_settings

    cfg = presets.apply(TextureConfig(), arm_settings(arm), {"precision": precision})
    image, _ = load_exemplar(exemplar)
    descriptor, info = load_descriptor(cfg.descriptor, cfg.descriptor_layers(), cfg.pooling, "cpu", cfg.precision)
    objective = texture_objective(descriptor, image, cfg, size)
    generator = MultiScaleGenerator(cfg.generator, seed=0).train()  # the arm's generator (the presets': 5 scales)
    optimizer = torch.optim.Adam(generator.parameters(), lr=0.05)
    rng = torch.Generator().manual_seed(0)

    def iteration() -> None:
        noise, _ = objective.inputs(generator, batch, size, rng)
        terms = objective.losses(generator(noise), None, rng)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()

    noise, _ = objective.inputs(generator, batch, size, rng)

    def generator_forward() -> None:
        with torch.no_grad():
            generator(noise)

    with torch.no_grad():
        images = generator(noise)

    def descriptor_forward() -> None:
        with torch.no_grad():
            descriptor(images)

    with torch.no_grad():
        features = descriptor(images)

    def loss_only() -> None:
        with torch.no_grad():
            objective.terms(images, features, rng)

    times = median_ms({"iteration": iteration, "generator forward": generator_forward,
                       "descriptor forward": descriptor_forward, "loss (no descriptor)": loss_only}, repeats)
    gen_gflop = conv_gflop(generator, noise)
    desc_gflop = conv_gflop(descriptor, images)
    total_gflop = 3 * gen_gflop + 2 * desc_gflop
    return {"size": size, "batch": batch, "descriptor_precision": info.precision, "ms": times,
            "gflop": {"generator_forward": gen_gflop, "descriptor_forward": desc_gflop, "iteration": total_gflop},
            "iteration_gflops": total_gflop / (times["iteration"] / 1000),
            "descriptor_forward_gflops": desc_gflop / (times["descriptor forward"] / 1000)}


def main(argv: list[str] | None = None) -> int:
    from texnet.bench.harness import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--batch", nargs="+", type=int, default=None, help="batch per size (default: the stages')")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--exemplar", default="gravel")
    parser.add_argument("--label", default="now", help="what this run measures (before/after a change)")
    parser.add_argument("--arm", default="base", help="a quality_sweep.py arm whose loss and generator to time")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="the descriptor's arithmetic (auto: as training picks it on this machine)")
    args = parser.parse_args(argv)
    from texnet.presets import PROGRESSIVE

    batches = args.batch or [next((b for s, b, _ in PROGRESSIVE if s == size), 1) for size in args.sizes]
    rows = []
    for size, batch in zip(args.sizes, batches):
        row = {"label": args.label, "arm": args.arm,
               **measure(size, batch, args.repeats, args.exemplar, args.precision, args.arm)}
        print(f"{size} px x{batch}: {row['ms']['iteration']:.0f} ms per iteration "
              f"({row['iteration_gflops']:.0f} GFLOP/s; descriptor forward {row['descriptor_forward_gflops']:.0f}); "
              + ", ".join(f"{k} {v:.0f} ms" for k, v in row["ms"].items() if k != "iteration"), flush=True)
        rows.append(row)
    results = json.loads(OUT.read_text()) if OUT.exists() else {"runs": []}
    results["runs"].append({"machine": machine(), "rows": rows})
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
