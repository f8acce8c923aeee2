"""Peak resident memory of one generator sample or one optimisation, in this (fresh) process.

    python -m texnet.bench.peak_memory generator|optimize DEVICE MODEL|ITERATIONS SIZE [EXEMPLAR] THREADS

Prints one JSON line. A process of its own, so that its peak is its own (texnet.bench.harness.measure_memory).
"""

from __future__ import annotations

import json
import sys


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024


def main(argv: list[str]) -> None:
    import torch

    import texnet.cli  # noqa: F401 - imports settle before the baseline

    kind, device, model, size, arg, threads = argv[0], argv[1], argv[2], int(argv[3]), argv[4], int(argv[5])
    torch.set_num_threads(threads)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS: getrusage's peak would include the parent's at fork
    except OSError:
        pass
    base = _status_mb("VmRSS:")
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if kind == "generator":
        from texnet.texture import load_texture_model

        g, _ = load_texture_model(model, dev, inference=True)
        g.sample(size, size, seed=0)
    else:
        from texnet.optimize import OptimizeConfig, optimize_texture
        from texnet.texture import TextureConfig

        optimize_texture(arg, size, size, OptimizeConfig(iterations=int(model), device=device),
                         TextureConfig(precision="fp32"), progress=False, log=lambda *a: None)
    out = {"rss_increase_mb": _status_mb("VmHWM:") - base}
    if dev.type == "cuda":
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
