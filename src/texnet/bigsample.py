"""Textures too large to hold: sampled band by band into a tiled, pyramidal TIFF.

texnet's noise is a hash of (seed, scale, channel, row, column) and every layer of a texture
generator is local, so a band of output rows needs only the noise rows around it
(texnet.inference.strips.HashedNoise): bands are independent, and can be made one after another
here or on many workers (texnet.raycluster). Each band is cut into strips exactly as
InferenceGenerator.sample cuts a large image, and instance-norm generators take their statistics
from the same 1024 px stand-in, so the result equals `texnet sample`'s pixel for pixel wherever
that fits in memory. Only a band (and the TIFF writer's tile row) is ever held; the reduced
levels of the pyramid go through memory-mapped files next to the output.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

TILE = 256  # TIFF tile side
BIG_SUFFIXES = (".tif", ".tiff")


@dataclass
class Plan:
    """How one texture is cut: everything a worker needs to make any band of it."""

    width: int
    height: int
    seed: int
    noise_scale: float
    rows_per_strip: int
    bf16: bool
    stats: Any  # instance-norm statistics from the stand-in (None: batch norm, or small enough for one pass)
    whole: bool  # small enough for InferenceGenerator.sample's one pass: a single band
    threads: int  # every band runs on this many threads: oneDNN's rounding depends on it, the file must not

    def bands(self) -> list[tuple[int, int]]:
        """Row ranges of whole strips, about TILE rows each (one range for a one-pass texture)."""
        if self.whole:
            return [(0, self.height)]
        step = self.rows_per_strip * max(1, TILE // self.rows_per_strip)
        return [(a, min(a + step, self.height)) for a in range(0, self.height, step)]


def plan(generator: Any, width: int, height: int, seed: int, noise_scale: float = 1.0,
         max_pixels_at_once: int = 512 * 512, threads: int | None = None) -> Plan:
    """The cut InferenceGenerator.sample would make of a width x height sample of `seed`; bands on `threads`
    threads (default: this process's)."""
    import torch

    from texnet.inference.generator import STATISTICS_SIDE, STRIP_ROWS

    rows = max(16, min(STRIP_ROWS, max_pixels_at_once // (2 * width)))  # as InferenceGenerator.sample
    instance = generator.cfg.norm != "batch"
    whole = height * width <= max_pixels_at_once or (instance and max(height, width) <= STATISTICS_SIDE)
    stats = None
    if instance and not whole:
        side = max(2 ** (generator.cfg.scales - 1), STATISTICS_SIDE)
        ref = generator.seeded_noise(seed, 1, min(side, width), min(side, height), "cpu", noise_scale)
        stats = generator.record_statistics(ref, None)
    return Plan(width, height, seed, noise_scale, rows, generator.runs_bf16(), stats, whole,
                threads or torch.get_num_threads())


def band(generator: Any, p: Plan, a: int, b: int) -> np.ndarray:
    """Rows a..b-1 of the texture as 8-bit RGB (b - a, width, 3), as texnet.images.save_image would store them."""
    import torch

    from texnet.inference import use_statistics
    from texnet.inference.strips import HashedNoise, forward_rows
    from texnet.noise import scale_sizes

    threads = torch.get_num_threads()
    torch.set_num_threads(p.threads)
    try:
        return _band(generator, p, a, b)
    finally:
        torch.set_num_threads(threads)


def _band(generator: Any, p: Plan, a: int, b: int) -> np.ndarray:
    import torch

    from texnet.inference import use_statistics
    from texnet.inference.strips import HashedNoise, forward_rows
    from texnet.noise import scale_sizes

    with torch.inference_mode():
        if p.whole:
            image = generator.sample(p.width, p.height, 1, seed=p.seed, noise_scale=p.noise_scale)[0]
        else:
            noise = [HashedNoise(p.seed, s, generator.cfg.noise_channels, h, w, p.noise_scale)
                     for s, (h, w) in enumerate(scale_sizes(p.height, p.width, generator.cfg.scales))]
            with use_statistics(generator, p.stats):
                image = forward_rows(generator, noise, a, b, p.rows_per_strip)[0].clamp(0, 1)
    return (image.float().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def _half(image: np.ndarray) -> np.ndarray:
    """2x2 means, the last row or column repeated where a side is odd."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge").astype(np.uint16)
    return ((padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2] + 2) // 4).astype(np.uint8)


def levels(width: int, height: int) -> list[tuple[int, int]]:
    """(width, height) of each pyramid level, full size first, halving until one tile holds it."""
    out = [(width, height)]
    while max(out[-1]) > TILE:
        w, h = out[-1]
        out.append((math.ceil(w / 2), math.ceil(h / 2)))
    return out


def _blocks(bands: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Bands of any heights, regrouped into blocks of TILE rows (the last one may be shorter)."""
    pending: list[np.ndarray] = []
    held = 0
    for band_ in bands:
        pending.append(band_)
        held += band_.shape[0]
        while held >= TILE:
            rows = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield rows[:TILE]
            rest = rows[TILE:]
            pending, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


def _tiles(rows: Iterable[np.ndarray], width: int) -> Iterator[np.ndarray]:
    """Tiles in row-major order from blocks of TILE rows (the last one may be shorter), edges zero-padded."""
    for block in rows:
        h = block.shape[0]
        for x in range(0, width, TILE):
            tile = np.zeros((TILE, TILE, 3), np.uint8)
            part = block[:, x:x + TILE]
            tile[:h, :part.shape[1]] = part
            yield tile


def write_tiff(path: str | Path, width: int, height: int, bands: Iterable[np.ndarray],
               progress: Callable[[int], None] | None = None) -> Path:
    """Write a tiled, pyramidal (sub-IFD) BigTIFF from bands of rows (any heights), in order, atomically; the
    reduced levels are built as the rows pass and kept in memory-mapped files until they are written."""
    import tifffile

    from texnet.files import atomic_path

    path = Path(path)
    sizes = levels(width, height)
    with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as scratch:
        reduced = [np.lib.format.open_memmap(os.path.join(scratch, f"level{i}.npy"), mode="w+", dtype=np.uint8,
                                             shape=(h, w, 3)) for i, (w, h) in enumerate(sizes[1:], 1)]

        def full_level() -> Iterator[np.ndarray]:
            row = 0
            for block in _blocks(bands):
                small, at = block, row
                for level in reduced:
                    small, at = _half(small), at // 2
                    level[at:at + small.shape[0]] = small
                row += block.shape[0]
                if progress:
                    progress(block.shape[0])
                yield block

        options = dict(tile=(TILE, TILE), photometric="rgb", compression="zlib", dtype=np.uint8)
        with atomic_path(path) as tmp:
            with tifffile.TiffWriter(tmp, bigtiff=True) as tif:
                tif.write(_tiles(full_level(), width), shape=(height, width, 3), subifds=len(reduced), **options)
                for level in reduced:
                    level.flush()
                    h, w = level.shape[:2]
                    tif.write(_tiles((level[y:y + TILE] for y in range(0, h, TILE)), w), shape=(h, w, 3),
                              subfiletype=1, **options)
        del reduced
    return path


def sample_to_tiff(generator: Any, width: int, height: int, seed: int, path: str | Path, noise_scale: float = 1.0,
                   make_bands: Callable[[Plan], Iterable[np.ndarray]] | None = None, threads: int | None = None,
                   progress: bool = True) -> Path:
    """A width x height texture of `seed` into a pyramidal TIFF; bands made here, one after another, unless
    `make_bands` (texnet.raycluster's) makes them elsewhere and hands them back in order. The same `threads`
    give the same file either way."""
    from texnet.progress import bar

    p = plan(generator, width, height, seed, noise_scale, threads=threads)
    bands = make_bands(p) if make_bands is not None else (band(generator, p, a, b) for a, b in p.bands())
    with bar(total=height, unit="row", disable=not progress, desc=Path(path).name) as rows:
        return write_tiff(path, width, height, bands, progress=rows.update)


def read_level(path: str | Path, level: int = 0) -> np.ndarray:
    """One level of a pyramidal TIFF written here (0: full size), as an array (for tests and small files)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return page.asarray() if level == 0 else page.pages[level - 1].asarray()
