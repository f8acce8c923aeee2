"""Texture samples with every convolution in oneDNN's fused call, against F.conv2d below
texnet.generators.FUSED_MIN_PIXELS (the small scales, where the fused call's set-up outweighs its speed).

    python benchmarks/small_scales.py

A batch-norm texture generator as the quick preset trains (5 scales; Xavier weights, seed 0: the times do not
depend on the values), folded for inference, at 64, 128 and 256 px a side, through MultiScaleGenerator.infer (the
noise made once, outside the timing). Both arms alternate within every round
(medians of 41). Writes benchmarks/results/small_scales.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import alternating_ms, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "small_scales.json"
SIZES, ROUNDS = (64, 128, 256), 41


def main() -> None:
    from texnet import generators
    from texnet.limits import reuse_freed_memory

    reuse_freed_memory()
    model = generators.MultiScaleGenerator(generators.GeneratorConfig(), seed=0).eval().fold_batchnorm()
    threshold = generators.FUSED_MIN_PIXELS
    arms = {"all_fused": 0, "plain_below": threshold}

    def run(noise: list[torch.Tensor], pixels: int) -> torch.Tensor:
        generators.FUSED_MIN_PIXELS = pixels
        try:
            return model.infer(noise)
        finally:
            generators.FUSED_MIN_PIXELS = threshold

    rows = []
    with torch.inference_mode():
        for size in SIZES:
            noise = model.seeded_noise(0, 1, size, size)
            outs = {arm: run(noise, pixels) for arm, pixels in arms.items()}
            same = 255 * float((outs["all_fused"] - outs["plain_below"]).abs().max())
            ms = alternating_ms({arm: lambda i, p=pixels: run(noise, p) for arm, pixels in arms.items()}, ROUNDS)
            row = {"size": size, "fused_min_pixels": threshold, "max_difference_255": same,
                   **{f"{arm}_ms": t for arm, t in ms.items()}, "ratio": ms["plain_below"] / ms["all_fused"]}
            print(f"{size} px: all fused {row['all_fused_ms']:.2f} ms, plain below {threshold} px "
                  f"{row['plain_below_ms']:.2f} ms ({row['ratio']:.3f}x; max difference {same:.4f}/255)", flush=True)
            rows.append(row)
    write_rows(OUT, rows)


if __name__ == "__main__":
    main()
