"""Will it fit? Memory estimates checked before allocating, so a too-large size is one clear error line.

The bytes per pixel come from benchmarks/memory_probe.py (peak resident memory of fresh
processes at several sizes; benchmarks/memory.json), rounded up. A request is refused when
its estimate exceeds 80% of the memory the device has: RAM for the CPU, the GPU's memory
for CUDA. This module does not import torch unless asked about a CUDA device.
"""

from __future__ import annotations

import os
from typing import Sequence

from texnet.errors import TexnetError

# Peak bytes per pixel of one training sample (generator + descriptor activations and their gradients),
# and per output pixel of one onnxruntime pass: benchmarks/memory.json's slopes (6075, 12064, 639 and 843
# bytes) plus 15%, rounded up.
TRAIN_BYTES_PER_PIXEL = {"texture": 7000, "style": 13900}
ONNX_BYTES_PER_PIXEL = {"texture": 800, "style": 1000}
# PyTorch sampling works in strips, so only the finished image (float RGB, plus the 8-bit copy that is saved)
# grows with the size.
SAMPLE_BYTES_PER_PIXEL = 16
# Stylization keeps whole-photo float arrays (content, noise, the blended output and its weights, the colour
# conversion): about 16 floats per pixel, counted from texnet.stylizer and texnet.tiling; the tiles themselves
# are bounded by the tile size.
STYLIZE_BYTES_PER_PIXEL = 64
HEADROOM = 0.8


def available_bytes(device: str = "cpu") -> int | None:
    """Memory of the device: physical RAM for the CPU, total memory of a CUDA device; None if unknown."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check(need: int, what: str, advice: str, device: str = "cpu") -> None:
    """Raise one TexnetError line when `need` bytes would not fit on `device`."""
    total = available_bytes(device)
    if total and need > HEADROOM * total:
        raise TexnetError(f"{what} needs about {need / 2**30:.1f} GB, more than the {HEADROOM * total / 2**30:.1f} GB "
                          f"texnet allows itself on this {'GPU' if str(device).startswith('cuda') else 'machine'} "
                          f"({HEADROOM:.0%} of {total / 2**30:.1f} GB); {advice}")


def largest_side(per_pixel: float, batch: int = 1, device: str = "cpu") -> int:
    """The largest square side whose estimate fits (for the advice in error messages)."""
    total = available_bytes(device) or 0
    return int((HEADROOM * total / per_pixel / max(batch, 1)) ** 0.5)


def check_training(kind: str, size: int, batch: int, device: str = "cpu") -> None:
    per_pixel = TRAIN_BYTES_PER_PIXEL[kind]
    check(per_pixel * size * size * batch, f"training at --size {size} with --batch-size {batch}",
          f"use --size {largest_side(per_pixel, batch, device)} or less, or a smaller --batch-size", device)


def check_sample(width: int, height: int, device: str = "cpu") -> None:
    check(SAMPLE_BYTES_PER_PIXEL * width * height, f"a {width}x{height} sample",
          f"ask for {largest_side(SAMPLE_BYTES_PER_PIXEL, 1, device)}x{largest_side(SAMPLE_BYTES_PER_PIXEL, 1, device)}"
          " or less", device)


def block_halo(kernels: Sequence[int]) -> int:
    """Rows of context one conv block (kernel sizes `kernels`, stride 1) needs on each side."""
    return sum(k // 2 for k in kernels)


def smallest_side(scales: int, kernels: Sequence[int] = (3, 3, 1)) -> int:
    """The smallest side a texture model's ONNX graph samples at: its graph pads each block circularly by the
    block's halo at once, which cannot wrap a scale more than once, so the coarsest noise scale (the side over
    2^(K-1), rounded up) needs that many pixels, and 2 as in training (generators.check_scales). PyTorch samples
    any size (texnet.layers.CircularPad wraps as often as needed)."""
    need = max(2, block_halo(kernels))
    return 2 ** (scales - 1) * (need - 1) + 1


def check_texture_size(width: int, height: int, scales: int, kernels: Sequence[int] = (3, 3, 1)) -> None:
    side = smallest_side(scales, kernels)
    if min(width, height) < side:
        raise TexnetError(f"{width}x{height} is too small for this model's ONNX graph ({scales} noise scales: the "
                          f"coarsest is 1/{2 ** (scales - 1)} of the size): ask for at least {side} px a side, "
                          f"or sample its .texnet file (any size)")


def fits_onnx(kind: str, width: int, height: int) -> bool:
    total = available_bytes()
    return not total or ONNX_BYTES_PER_PIXEL[kind] * width * height <= HEADROOM * total


def check_onnx(kind: str, width: int, height: int) -> None:
    per_pixel = ONNX_BYTES_PER_PIXEL[kind]
    side = largest_side(per_pixel)
    check(per_pixel * width * height, f"{width}x{height} in the ONNX runtime",
          f"stay under about {side}x{side} (the PyTorch path samples large textures in strips)")


def check_stylize(width: int, height: int) -> None:
    side = largest_side(STYLIZE_BYTES_PER_PIXEL)
    check(STYLIZE_BYTES_PER_PIXEL * width * height, f"stylizing a {width}x{height} photo",
          f"use --max-size {side} or less")


# glibc malloc's options (malloc.h): the size from which a block is mmap'ed (and unmapped when freed), and how much
# free memory at the heap's top is kept instead of being handed back to the system.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
REUSE_LIMIT = 1 << 30


def reuse_freed_memory() -> bool:
    """Let this process reuse the memory of freed large arrays instead of mapping fresh pages for each one.

    By default glibc maps every block over 32 MB afresh and unmaps it when freed, so each full-size activation
    of a generator pays a page fault per 4 KB on first touch (what that costs: docs/performance.md). This
    raises both thresholds to REUSE_LIMIT: blocks up to 1 GB come from the heap, and up to 1 GB of freed memory
    stays with the process for the next one. The price is memory held: the process keeps its peak, and that
    peak is higher because freed blocks do not always fit the next request. The CLI and the bench call it; a
    program using texnet as a library may. Returns False where it does not apply (not glibc). Process-wide,
    so the library never calls it on its own."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(REUSE_LIMIT))) and \
        bool(mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(REUSE_LIMIT)))
