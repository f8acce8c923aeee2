"""What texnet.limits.reuse_freed_memory (glibc keeps freed large blocks for reuse) does to inference times.

    python benchmarks/allocator.py                 # the bench's quick gravel and quick ihc models, 1024 px
    python benchmarks/allocator.py --size 512 --rounds 4

The setting cannot be undone inside a process, so each round starts one fresh process per setting,
alternating which goes first; each process times every path a few times (its median is kept). Paths:
a texture in one pass and in strips of 128 rows (the inference form), a stylization (texnet.layerwise),
and both through onnxruntime (its own arena: the control, timed after them); and each process's peak
resident memory after the PyTorch paths.
Writes benchmarks/results/allocator.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "allocator.json"
MODELS = ROOT / "benchmarks" / "results" / "models"


def child(reuse: bool, size: int, repeats: int) -> dict[str, float]:
    """Medians in ms of each path, in this (fresh) process."""
    from texnet.limits import reuse_freed_memory

    applied = reuse_freed_memory() if reuse else False
    import torch

    from texnet.modelfile import load_model
    from texnet.runtime import OnnxModel
    from texnet.stylize import StylizeOptions, TorchBackend, stylize_array

    texture, _ = load_model(MODELS / "quick_gravel.texnet", "cpu", inference=True)
    style, _ = load_model(MODELS / "style_quick_ihc.texnet", "cpu", inference=True)
    photo = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))[0].numpy()
    noise = [z.contiguous(memory_format=torch.channels_last) for z in texture.seeded_noise(0, 1, size, size)]
    torch_paths = {"texture one pass": lambda: texture.infer(noise),
                   "texture strips": lambda: texture.forward_strips(noise, 128),
                   "style": lambda: stylize_array(TorchBackend(style), photo, StylizeOptions())}
    onnx_paths = {}
    for name, onnx in (("texture onnxruntime", "quick_gravel.onnx"), ("style onnxruntime", "style_quick_ihc.onnx")):
        if (MODELS / onnx).exists():
            model = OnnxModel(MODELS / onnx)
            onnx_paths[name] = (lambda m=model: m.sample(size, size, seed=0)) if name.startswith("texture") else \
                (lambda m=model: stylize_array(m, photo, StylizeOptions()))
    result: dict = {"applied": applied}
    for group, paths in (("pytorch", torch_paths), ("onnxruntime", onnx_paths)):  # PyTorch's peak memory first
        times: dict[str, list[float]] = {name: [] for name in paths}
        for fn in paths.values():
            fn()
        for _ in range(repeats):
            for name, fn in paths.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        result.update({name: 1000 * float(np.median(t)) for name, t in times.items()})
        with open("/proc/self/status") as f:  # the process's peak resident memory so far
            result[f"peak_rss_mb_{group}"] = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
    return result


def main() -> None:
    from texnet.bench import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=("default", "reuse"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child == "reuse", args.size, args.repeats)))
        return
    if not (MODELS / "quick_gravel.texnet").exists() or not (MODELS / "style_quick_ihc.texnet").exists():
        sys.exit(f"needs the bench's models in {MODELS.relative_to(ROOT)}: run `texnet bench --sections inference`")
    runs: dict[str, list[dict]] = {"default": [], "reuse": []}
    for r in range(args.rounds):
        for mode in (("default", "reuse") if r % 2 == 0 else ("reuse", "default")):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--size", str(args.size),
                                  "--repeats", str(args.repeats)], check=True, capture_output=True, text=True)
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(mode, {k: round(v) if isinstance(v, float) else v for k, v in runs[mode][-1].items()}, flush=True)
    names = [k for k in runs["default"][0] if k != "applied" and not k.startswith("peak")]
    peak = {mode: float(np.median([run["peak_rss_mb_pytorch"] for run in runs[mode]])) for mode in runs}
    print(f"peak resident memory after the PyTorch paths: default {peak['default']:.0f} MB, "
          f"reuse {peak['reuse']:.0f} MB")
    summary = {name: {mode: float(np.median([run[name] for run in runs[mode]])) for mode in runs} for name in names}
    for name, s in summary.items():
        print(f"{name}: default {s['default']:.0f} ms, reuse {s['reuse']:.0f} ms ({s['reuse'] / s['default']:.2f}x)")
    OUT.write_text(json.dumps({"size": args.size, "rounds": args.rounds, "repeats": args.repeats, "machine": machine(),
                               "applied": runs["reuse"][0]["applied"], "median_ms": summary, "peak_rss_mb_pytorch": peak,
                               "runs": runs},
                              indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
