"""Where an exported generator spends its time under onnxruntime: milliseconds per operator type.

    python benchmarks/onnx_profile.py                       # the zoo's brick at 256 px and starry-night at 1024 px
    python benchmarks/onnx_profile.py MODEL.onnx --size 512 --runs 5

Times the graph at each optimisation level given (alternating levels run by run, since this
machine's speed drifts), then runs it once under onnxruntime's profiler and sums the kernel
times of each operator type. With --json the rows are also
written to benchmarks/results/onnx_profile.json. It guides the speed work of issue 9:
convolutions are the floor; everything else is overhead a fused graph could remove.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from texnet.noise import noise_pyramid  # texnet's own noise and session settings: no torch
from texnet.runtime import session_options

ROOT = Path(__file__).resolve().parent


def feeds_for(session, size: int) -> dict[str, np.ndarray]:
    """Inputs for a size x size output: texnet's noise pyramid (texnet.noise) and, for styles, a random photo."""
    props = session.get_modelmeta().custom_metadata_map
    noise = noise_pyramid(0, 1, size, size, int(props["texnet_scales"]), int(props["texnet_noise_channels"]))
    out = {f"z{s}": z for s, z in enumerate(noise)}
    if props["texnet_kind"] == "style":
        out["content"] = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
        if int(props.get("texnet_stats_size", "0")):
            out["stats"] = np.zeros((1, int(props["texnet_stats_size"])), np.float32)
            out["use_stats"] = np.zeros((1,), np.float32)
    return out


LEVELS = ("basic", "extended", "all")


def time_levels(path: Path, size: int, runs: int, threads: int, levels: list[str]) -> dict[str, float]:
    """Median milliseconds a run for each level, timed in alternation (this machine's speed drifts)."""
    import onnxruntime as ort

    sessions = {lv: ort.InferenceSession(str(path), session_options(lv, threads), providers=["CPUExecutionProvider"])
                for lv in levels}
    feeds = feeds_for(next(iter(sessions.values())), size)
    times: dict[str, list[float]] = {lv: [] for lv in levels}
    for session in sessions.values():
        session.run(None, feeds)  # warm-up
    for _ in range(runs):
        for lv, session in sessions.items():
            started = time.perf_counter()
            session.run(None, feeds)
            times[lv].append((time.perf_counter() - started) * 1000)
    return {lv: statistics.median(t) for lv, t in times.items()}


def split(path: Path, size: int, threads: int, level: str) -> dict[str, float]:
    """Milliseconds per operator type in one run under onnxruntime's profiler.

    The profiler costs time per node, so graphs with more nodes look slower under it: compare
    levels with time_levels, not with these sums.
    """
    import onnxruntime as ort

    options = session_options(level, threads)
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, feeds_for(session, size))
    trace = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, float] = collections.defaultdict(float)
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / 1000.0
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="ONNX files (default: the zoo's brick and starry-night)")
    parser.add_argument("--size", type=int, nargs="*", default=None, help="output sides, one per model")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--level", choices=LEVELS, nargs="*", default=["all"],
                        help="onnxruntime graph optimisation levels to compare (all = texnet's runtime; it adds "
                             "the NCHWc layout and its Reorder nodes)")
    parser.add_argument("--json", action="store_true", help="also write benchmarks/results/onnx_profile.json")
    args = parser.parse_args(argv)
    zoo = ROOT.parent / "src" / "texnet" / "zoo"
    models = [Path(m) for m in args.models] or [zoo / "brick.onnx", zoo / "starry-night.onnx"]
    sizes = args.size or ([256, 1024] if not args.models else [256] * len(models))
    if len(sizes) != len(models):
        parser.error("give one --size per model")
    for model in models:
        if not model.is_file():
            parser.error(f"no such ONNX file: {model}")
    results = []
    for model, size in zip(models, sizes):
        medians = time_levels(model, size, args.runs, args.threads, args.level)
        for level in args.level:
            ops = split(model, size, args.threads, level)
            total = sum(ops.values())
            results.append({"model": str(model), "size": size, "level": level, "runs": args.runs,
                            "threads": args.threads, "median_ms": medians[level], "profiled_ms_by_op": ops})
            print(f"{model.name} at {size} px, level {level}: median {medians[level]:.1f} ms of {args.runs} runs "
                  f"(alternating levels); one profiled run: {total:.1f} ms in kernels")
            for op, ms in list(ops.items())[:12]:
                print(f"  {op:22s} {ms:8.2f} ms  {100 * ms / total:5.1f}%")
    if args.json:
        out = ROOT / "results" / "onnx_profile.json"
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
