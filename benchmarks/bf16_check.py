"""How far texnet's bf16 path (the finest join's convolutions in bfloat16) moves outputs from float32.

    python benchmarks/bf16_check.py                     # the zoo's and the bench's models
    python benchmarks/bf16_check.py MODEL.texnet --sizes 256 2048

For each model: how far every layer in bf16 would move a sample (why texnet does not do that),
whether the load-time check (128 px samples of 4 seeds within 1/255) lets bf16 run, and the
largest per-pixel difference from the float32 path, in 1/255 steps, at each size over a few
seeds. Style models stylize a random photo (the check's input too) at sizes up to 1024 px, the
largest one-pass photo. The budget is 2/255 (issue 9). Writes benchmarks/results/bf16_check.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "bf16_check.json"


def default_models() -> list[Path]:
    found = sorted((ROOT / "src" / "texnet" / "zoo").glob("*.texnet"))
    found += sorted((ROOT / "benchmarks" / "results" / "models").glob("*.texnet"))
    return found


def check(path: Path, sizes: list[int], seeds: int) -> dict:
    from texnet.modelfile import load_model

    fp32, _ = load_model(path, inference=True, bf16=False)
    fast, _ = load_model(path, inference=True, bf16=True)
    row: dict = {"model": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                 "bf16": fast.runs_bf16()}
    # why only the finest join: every layer in bf16, at the first size and seed 0
    style = fp32.cfg.content_channels > 0

    def sample(g, size: int, seed: int) -> torch.Tensor:
        photo = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed)) if style else None
        return g.sample(size, size, seed=seed, content=photo)

    size = sizes[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        every_layer = sample(fp32, size, 0).float()
    reference = sample(fp32, size, 0)
    row["all_layers_bf16_max_diff_255"] = round(255 * float((every_layer - reference).abs().max()), 3)
    if not row["bf16"]:
        return {**row, "why": "refused by the 128 px check"}
    row["max_diff_255"] = {}
    for size in [s for s in sizes if not style or s <= 1024]:
        worst = 0.0
        for seed in range(seeds):
            worst = max(worst, 255 * float((sample(fp32, size, seed) - sample(fast, size, seed)).abs().max()))
        row["max_diff_255"][str(size)] = round(worst, 3)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--sizes", nargs="*", type=int, default=[128, 512, 2048])
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    rows = []
    from texnet.modelfile import read_metadata

    for path in args.models or default_models():
        row = {"kind": read_metadata(path).get("kind"), **check(path.resolve(), args.sizes, args.seeds)}
        rows.append(row)
        print(row["model"], row.get("max_diff_255", row.get("why")),
              f"(every layer in bf16: {row['all_layers_bf16_max_diff_255']}/255)", flush=True)
    worst = max((v for r in rows for v in r.get("max_diff_255", {}).values()), default=0.0)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "sizes": args.sizes, "seeds": args.seeds,
              "largest_diff_255": worst, "models": rows}
    if not args.models:
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"largest difference over {len(rows)} models: {worst:.2f}/255 (budget 2/255)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
