"""How many rows a strip of the inference form (folded batch norm) should have on this CPU.

    python benchmarks/strip_rows.py                         # the bench's quick gravel model
    python benchmarks/strip_rows.py MODEL.texnet --sizes 512 1024 --rows 0 64 128 --rounds 7

For each size, one pass (rows 0) and strips of each row count are timed in turn within every round
(medians, and the fastest round: this machine's neighbours slow whole rounds down), on one seed's noise,
so that the machine's drift does not enter their ratios.
texnet.generators.STRIP_ROWS comes from this. Writes benchmarks/results/strip_rows.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "strip_rows.json"
DEFAULT_MODEL = ROOT / "benchmarks" / "results" / "models" / "quick_gravel.texnet"


def main() -> None:
    from texnet.bench import machine
    from texnet.limits import reuse_freed_memory
    from texnet.modelfile import load_model

    reused = reuse_freed_memory()  # as the CLI runs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default=str(DEFAULT_MODEL))
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--rows", type=int, nargs="+", default=[0, 32, 64, 128, 256], help="0: one pass")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    g, _ = load_model(args.model, "cpu", inference=True)
    rows_out = []
    for size in args.sizes:
        noise = [z.contiguous(memory_format=torch.channels_last) for z in g.seeded_noise(0, 1, size, size)]
        options = [r for r in args.rows if r < size]

        def run(r: int) -> torch.Tensor:
            return g.forward_strips(noise, r) if r else g.infer(noise)

        for r in options:
            run(r)
        times: dict[int, list[float]] = {r: [] for r in options}
        for _ in range(args.rounds):
            for r in options:
                start = time.perf_counter()
                run(r)
                times[r].append(time.perf_counter() - start)
        ms = {r: 1000 * float(np.median(t)) for r, t in times.items()}
        best = {r: 1000 * min(t) for r, t in times.items()}
        print(f"{size} px: " + ", ".join(f"{'one pass' if r == 0 else f'{r} rows'} {ms[r]:.1f} ms (fastest {best[r]:.1f})"
                                        for r in options), flush=True)
        rows_out.append({"size": size, "median_ms": {str(r): v for r, v in ms.items()},
                         "fastest_ms": {str(r): v for r, v in best.items()}})
    OUT.write_text(json.dumps({"model": Path(args.model).name, "machine": {**machine(), "reuse_freed_memory": reused}, "rounds": args.rounds,
                               "rows": rows_out}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
