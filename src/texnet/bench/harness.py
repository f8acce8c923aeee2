"""The one timing harness (used by every section and by benchmarks/), GFLOP counts, peak memory, the machine."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from texnet import __version__
from texnet.device import cpu_has_bf16


def median_ms(fns: dict[str, Callable[[], Any]], repeats: int, device: torch.device | str = "cpu",
              settle: float = 0.05) -> dict[str, float]:
    """Median milliseconds of each function, timed in turn within every round.

    This machine's speed drifts by tens of percent within minutes; timing every path once per round keeps
    that drift out of the ratios between them. Each round's order is shuffled (fixed seed), so no function
    always follows the same one. Each timed call comes right after an untimed call of the same function
    (warm, as when sampling many textures), and between functions the timer idles `settle` seconds: threads
    that busy-wait after a run (onnxruntime's) otherwise hold the cores into the next one's time."""
    device = torch.device(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for fn in fns.values():  # warm-up: allocator, kernels, caches
        fn()
        fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = random.Random(0)
    for _ in range(repeats):
        names = list(fns)
        order.shuffle(names)
        for name in names:
            fn = fns[name]
            if len(fns) > 1:
                time.sleep(settle)
                fn()
                sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}


def conv_gflop(module: torch.nn.Module, *inputs: Any) -> float:
    """Multiply-adds x 2 of every convolution in one forward pass on `inputs`, in GFLOP."""
    total = [0]

    def hook(conv: torch.nn.Conv2d, args: Any, output: torch.Tensor) -> None:
        k = conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups
        total[0] += 2 * output.numel() * k

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0] / 1e9


def measure_memory(kind: str, device: str, model: str, size: int, arg: str = "") -> dict[str, Any]:
    """Peak memory of one generator sample or one optimisation, in a fresh process (texnet.bench.peak_memory);
    {'error': ...} if it failed."""
    proc = subprocess.run([sys.executable, "-m", "texnet.bench.peak_memory", kind, device, model, str(size), arg,
                           str(torch.get_num_threads())], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    """What a result depends on: versions, threads, the CPU and its vector units (they change between sessions)."""
    info = {"python": platform.python_version(), "torch": torch.__version__, "texnet": __version__,
            "platform": platform.platform(), "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["cpu_bf16"] = cpu_has_bf16()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


DEV_IMAGES = "../shared/images"  # public-domain paintings, development photos and textures; never shipped


def dev_images(configured: str | None = None, need: tuple[str, ...] = ("styles", "photos")) -> Path | None:
    """The development images folder (with the sub-folders `need`), or None when this machine has none:
    `configured`, $TEXNET_DEV_IMAGES, ../shared/images from the working directory or from the repository."""
    candidates = [configured, os.environ.get("TEXNET_DEV_IMAGES"), DEV_IMAGES,
                  str(Path(__file__).resolve().parents[4] / "shared" / "images")]
    for c in candidates:
        if c and all((Path(c) / sub).is_dir() for sub in need):
            return Path(c)
    return None
