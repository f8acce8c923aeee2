"""A join's first convolution: on its upsampled, concatenated, padded input (as before texnet.upconv), against
the upsampled half run on the coarse grid (texnet.upconv), input assembly included.

    python benchmarks/upconv.py

Shapes: a texture generator's finest join (32 upsampled + 8 fine channels, 40 out) on a 1024 px strip of 128 rows
and on a whole 256 px image, and a style generator's (40 + 8, 48 out) on a 1024 px strip of 64 rows. Both ways are
timed in turn within every round (medians of 15), after reuse_freed_memory as the CLI runs. Writes
benchmarks/results/upconv.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import alternating_ms, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "upconv.json"
ROUNDS = 15


def main() -> None:
    from texnet import generators
    from texnet.limits import reuse_freed_memory

    reuse_freed_memory()
    cases = [("texture strip", 32, 8, 40, 128 + 4, 1024, False), ("texture whole", 32, 8, 40, 256, 256, True),
             ("style strip", 40, 8, 48, 64 + 4, 1024, False)]
    rows = []
    for label, up_ch, fine_ch, out_ch, height, width, whole in cases:
        torch.manual_seed(0)
        conv = nn.Conv2d(up_ch + fine_ch, out_ch, 3, padding=0).to(memory_format=torch.channels_last)
        coarse = torch.randn(1, up_ch, height // 2, width // 2).contiguous(memory_format=torch.channels_last)
        fine = torch.randn(1, fine_ch, height, width).contiguous(memory_format=torch.channels_last)
        halo = 2  # a conv block of 3x3, 3x3, 1x1

        def direct() -> torch.Tensor:
            x = generators._join_input(coarse, fine, halo, torch.float32, pad_rows=whole)
            return torch.ops.mkldnn._convolution_pointwise(x, conv.weight, conv.bias, [0, 0], [1, 1], [1, 1], 1,
                                                           "none", [], "")

        def coarse_grid() -> torch.Tensor:
            return generators._upconv_first(conv, coarse, fine, halo, pad_rows=whole)

        with torch.inference_mode():
            difference = float((direct() - coarse_grid()).abs().max())
            ms = alternating_ms({"direct": lambda i: direct(), "upconv": lambda i: coarse_grid()}, ROUNDS)
        multiplies = {"direct": 9 * (up_ch + fine_ch), "upconv": 4 * up_ch + 9 * fine_ch}  # per output, per channel
        row = {"case": label, "up_channels": up_ch, "fine_channels": fine_ch, "out_channels": out_ch,
               "input_rows": height, "width": width, "max_difference": difference,
               "multiplies_ratio": multiplies["upconv"] / multiplies["direct"],
               **{f"{name}_ms": t for name, t in ms.items()}}
        row["speedup"] = row["direct_ms"] / row["upconv_ms"]
        print(f"{label}: direct {row['direct_ms']:.2f} ms, upconv {row['upconv_ms']:.2f} ms ({row['speedup']:.2f}x; "
              f"{row['multiplies_ratio']:.2f} of the multiplies; max difference {difference:.1e})", flush=True)
        rows.append(row)
    write_rows(OUT, rows)


if __name__ == "__main__":
    main()
