"""oneDNN's float32 convolutions on channels-first against channels_last tensors, at a generator's shapes.

    python benchmarks/conv_layouts.py

The shapes are a 1024 px style generator's finest join (48 channels) as texnet.layerwise runs it: strips
of 64 rows, 3x3 (padded input) and 1x1 convolutions. Each layout is timed in turn within every round
(medians of 15). Writes benchmarks/results/conv_layouts.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import alternating_ms, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "conv_layouts.json"


def main() -> None:

    rows = []
    for channels, kernel, height, width in ((48, 3, 64, 1024), (48, 1, 64, 1024), (40, 3, 128, 512)):
        halo = kernel // 2
        x = torch.randn(1, channels, height + 2 * halo, width + 2 * halo)
        w, b = torch.randn(channels, channels, kernel, kernel), torch.randn(channels)
        inputs = {"channels_first": (x, w),
                  "channels_last": (x.contiguous(memory_format=torch.channels_last),
                                    w.contiguous(memory_format=torch.channels_last))}
        gflop = 2 * kernel * kernel * channels * channels * height * width / 1e9
        with torch.inference_mode():
            for xi, wi in inputs.values():
                F.conv2d(xi, wi, b)
            ms = alternating_ms({name: lambda i, xi=xi, wi=wi: F.conv2d(xi, wi, b)
                                 for name, (xi, wi) in inputs.items()}, 15)
        row = {"channels": channels, "kernel": kernel, "rows": height, "width": width, "gflop": gflop}
        for name, t in ms.items():
            row[f"{name}_ms"] = t
            row[f"{name}_gflops"] = gflop / (t / 1000)
        print(f"{channels} ch {kernel}x{kernel} on {height}x{width}: channels-first {row['channels_first_ms']:.2f} ms "
              f"({row['channels_first_gflops']:.0f} GFLOP/s), channels_last {row['channels_last_ms']:.2f} ms "
              f"({row['channels_last_gflops']:.0f} GFLOP/s)", flush=True)
        rows.append(row)
    write_rows(OUT, rows)


if __name__ == "__main__":
    main()
