"""Portable noise: the same uniform noise from a seed in PyTorch, the torch-free runtime and the browser.

`texnet sample --seed 7`, the ONNX runtime and the web page must give the same texture,
so sampling does not use torch's RNG. Every noise value is a hash of its coordinates
(seed, scale, channel, row, column), computed with 32-bit integer arithmetic that
NumPy and JavaScript (`Math.imul`, `>>> 0`) do identically:

    mix(h)    = lowbias32: h ^= h >> 16; h *= 0x7feb352d; h ^= h >> 15; h *= 0x846ca68b; h ^= h >> 16
    key       = mix(mix(seed ^ 0x9e3779b9) + (scale * 16 + channel) * 0x85ebca6b)
    row(y)    = mix(key + y * 0x9e3779b9)
    value     = mix(row(y) ^ (x * 0x85ebca6b))
    noise     = (value >> 8) / 2^24            (uniform in [0, 1), exact in float32)

All products and sums wrap modulo 2^32. The value at (row, column) does not depend on the
image size, and sample b of a batch uses seed + b. Only NumPy is needed.
"""

from __future__ import annotations

import math

import numpy as np

_M1 = np.uint32(0x7FEB352D)
_M2 = np.uint32(0x846CA68B)
_GOLDEN = np.uint32(0x9E3779B9)
_C2 = np.uint32(0x85EBCA6B)


def _mix(h: np.ndarray) -> np.ndarray:
    """lowbias32 (Chris Wellons' integer hash), in place on a uint32 array; returns it."""
    h ^= h >> np.uint32(16)
    h *= _M1
    h ^= h >> np.uint32(15)
    h *= _M2
    h ^= h >> np.uint32(16)
    return h


def _u32(value: int) -> np.ndarray:
    return np.array([value & 0xFFFFFFFF], dtype=np.uint32)


# Values hashed per NumPy call: all channels of a band of rows, so that a small scale takes a few calls (NumPy's
# per-call cost is most of a small sample's noise) and a large one works in cache (128 KB of uint32 per band).
_BAND = 32768


def uniform(seed: int, scale: int, channels: int, height: int, width: int,
            out: np.ndarray | None = None) -> np.ndarray:
    """(channels, height, width) float32 noise in [0, 1) for one scale of one sample (into `out` if given)."""
    return uniform_rows(seed, scale, channels, np.arange(height), width, out)


def uniform_rows(seed: int, scale: int, channels: int, rows: np.ndarray, width: int,
                 out: np.ndarray | None = None) -> np.ndarray:
    """The noise of the given rows (any row numbers) of one scale: (channels, len(rows), width), the same values
    those rows have in the whole image, so a band of a huge image needs only its own rows."""
    if out is None:
        out = np.empty((channels, len(rows), width), dtype=np.float32)
    ys = np.asarray(rows).astype(np.uint32) * _GOLDEN
    xs = np.arange(width, dtype=np.uint32) * _C2
    with np.errstate(over="ignore"):
        base = _mix(_u32(seed) ^ _GOLDEN)
        keys = _mix(base + (np.uint32(scale * 16) + np.arange(channels, dtype=np.uint32)) * _C2)
        hashed = _mix(keys[:, None] + ys[None, :])  # row(y) of every channel
        step = max(1, _BAND // max(1, channels * width))
        for r in range(0, len(rows), step):
            values = _mix(hashed[:, r:r + step, None] ^ xs[None, None, :])
            values >>= np.uint32(8)
            np.multiply(values, np.float32(1.0 / (1 << 24)), out=out[:, r:r + step], casting="unsafe")
    return out


def scale_sizes(height: int, width: int, scales: int) -> list[tuple[int, int]]:
    """Spatial size of each scale, finest first: ceil(H / 2^s) x ceil(W / 2^s)."""
    return [(math.ceil(height / 2**s), math.ceil(width / 2**s)) for s in range(scales)]


def noise_pyramid(seed: int, batch: int, height: int, width: int, scales: int, channels: int = 3,
                  amplitude: float = 1.0) -> list[np.ndarray]:
    """The generator's inputs: one (batch, channels, h_s, w_s) array per scale, finest first."""
    pyramid = []
    for s, (h, w) in enumerate(scale_sizes(height, width, scales)):
        z = np.empty((batch, channels, h, w), dtype=np.float32)
        for b in range(batch):
            uniform(seed + b, s, channels, h, w, out=z[b])
        if amplitude != 1.0:
            z *= np.float32(amplitude)
        pyramid.append(z)
    return pyramid


__all__ = ["uniform", "uniform_rows", "noise_pyramid", "scale_sizes"]
