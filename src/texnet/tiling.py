"""Tiled stylization of large photos, independent of the backend (PyTorch or the ONNX runtime).

Tiles are aligned to the generator's coarsest grid, cut their noise from one full-size
noise field, and overlap; overlaps are cross-faded linearly, so no seam shows. The
caller supplies `run(noise_tiles, content_tile)`, which returns the stylized tile: the
same driver serves `texnet.stylizer` (PyTorch) and `texnet.runtime` (onnxruntime).
Only NumPy is needed here.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

RunTile = Callable[[list[np.ndarray], np.ndarray], np.ndarray]


def spans(length: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    """Tile [start, end) spans covering 0..length, starts on multiples of `align`."""
    if length <= tile:
        return [(0, length)]
    step = max(align, (tile - overlap) // align * align)
    out, start = [], 0
    while True:
        end = min(length, start + tile)
        out.append((start, end))
        if end == length:
            return out
        start += step


def ramp(length: int, overlap_before: int, overlap_after: int) -> np.ndarray:
    """1 inside, rising/falling linearly across the overlaps: neighbouring tiles cross-fade."""
    w = np.ones(length, dtype=np.float32)
    if overlap_before:
        w[:overlap_before] = np.linspace(0, 1, overlap_before + 2, dtype=np.float32)[1:-1]
    if overlap_after:
        w[length - overlap_after:] = np.linspace(1, 0, overlap_after + 2, dtype=np.float32)[1:-1]
    return w


def stylize_tiled(run: RunTile, content: np.ndarray, noise: Sequence[np.ndarray], scales: int, tile: int,
                  overlap: int) -> np.ndarray:
    """content (1, 3, H, W) and full-size noise (finest first) -> stylized (3, H, W), tile by tile."""
    _, _, h, w = content.shape
    align = 2 ** (scales - 1)  # tile origins on the coarsest grid, so noise slices line up at every scale
    acc = np.zeros((3, h, w), dtype=np.float32)
    weight = np.zeros((1, h, w), dtype=np.float32)
    rows, cols = spans(h, tile, overlap, align), spans(w, tile, overlap, align)
    for i, (y0, y1) in enumerate(rows):
        for j, (x0, x1) in enumerate(cols):
            tile_noise = [z[..., y0 // 2**s: math.ceil(y1 / 2**s), x0 // 2**s: math.ceil(x1 / 2**s)]
                          for s, z in enumerate(noise)]
            out = run(tile_noise, content[..., y0:y1, x0:x1])
            wy = ramp(y1 - y0, rows[i - 1][1] - y0 if i else 0, y1 - rows[i + 1][0] if i + 1 < len(rows) else 0)
            wx = ramp(x1 - x0, cols[j - 1][1] - x0 if j else 0, x1 - cols[j + 1][0] if j + 1 < len(cols) else 0)
            mask = wy[:, None] * wx[None, :]
            acc[:, y0:y1, x0:x1] += out * mask
            weight[:, y0:y1, x0:x1] += mask
    return acc / np.maximum(weight, 1e-8)


__all__ = ["spans", "ramp", "stylize_tiled"]
