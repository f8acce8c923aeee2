"""A norm's scale, shift and activation on a stored strip, as texnet.layerwise applies them: mul then in-place
add, or one addcmul, each followed by the in-place activation, in both memory layouts.

    python benchmarks/apply_passes.py

The strip is a 1024 px style generator's finest join (48 channels, 64 rows) written into the next convolution's
padded input buffer. Twelve strips are cycled through, so each is read from memory rather than cache, as the stored
strips of a full-size layer are. Variants alternate within every round (medians of 36). Writes
benchmarks/results/apply_passes.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import alternating_ms, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "apply_passes.json"
CHANNELS, ROWS, WIDTH, STRIPS, ROUNDS = 48, 64, 1024, 12, 36


def main() -> None:
    from texnet.limits import reuse_freed_memory

    reuse_freed_memory()
    scale, shift = torch.rand(1, CHANNELS, 1, 1) + 0.5, torch.randn(1, CHANNELS, 1, 1)

    def mul_add(x: torch.Tensor, out: torch.Tensor) -> None:
        torch.mul(x, scale, out=out).add_(shift)
        F.leaky_relu_(out, 0.01)

    def addcmul(x: torch.Tensor, out: torch.Tensor) -> None:
        torch.addcmul(shift, x, scale, out=out)
        F.leaky_relu_(out, 0.01)

    rows = []
    for layout in (torch.contiguous_format, torch.channels_last):
        strips = [torch.randn(1, CHANNELS, ROWS, WIDTH).contiguous(memory_format=layout) for _ in range(STRIPS)]
        buf = torch.empty(1, CHANNELS, ROWS + 2, WIDTH + 2).contiguous(memory_format=layout)
        out = buf[:, :, 1:ROWS + 1, 1:WIDTH + 1]
        variants = {"mul_add": mul_add, "addcmul": addcmul}
        mul_add(strips[0], out)
        reference = out.clone()
        addcmul(strips[0], out)
        same = float((out - reference).abs().max())
        with torch.inference_mode():
            ms = alternating_ms({name: lambda i, fn=fn: fn(strips[i % STRIPS], out) for name, fn in variants.items()},
                                ROUNDS)
        name = "channels_last" if layout == torch.channels_last else "channels_first"
        row = {"layout": name, "channels": CHANNELS, "rows": ROWS, "width": WIDTH, "max_difference": same,
               **{f"{v}_ms": t for v, t in ms.items()}}
        print(f"{name}: mul+add {row['mul_add_ms']:.2f} ms, addcmul {row['addcmul_ms']:.2f} ms "
              f"(max difference {same:.1e})", flush=True)
        rows.append(row)
    write_rows(OUT, rows)


if __name__ == "__main__":
    main()
