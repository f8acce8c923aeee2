"""Applying a style model: photos of any size, folders and videos, in one forward pass each.

Large photos are processed in overlapping tiles aligned to the generator's coarsest
grid, with noise cut from one full-size noise field, instance-norm statistics frozen
from the whole photo, and linear blending across the overlaps: memory stays bounded
and no seam shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from texnet.errors import TexnetError
from texnet.files import atomic_path
from texnet.generators import MultiScaleGenerator, frozen_statistics
from texnet.images import IMAGE_SUFFIXES, SAMPLE_FILES, fit_within, load_image, resize, sample_path, save_image

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif", ".mov", ".mkv", ".avi")


@dataclass
class StylizeOptions:
    size: tuple[int, int] | None = None  # (width, height) to resize inputs to
    max_size: int | None = None  # or: longer side at most this
    noise_scale: float = 1.0  # the style/content balance at test time (paper Fig. 5)
    preserve_color: bool = False  # keep the content's colours, transfer luminance only
    seed: int = 0
    tile: int = 1024  # photos with more than tile*tile pixels are processed in tiles
    overlap: int = 128
    stats_size: int = 1024  # tiled photos share normalisation statistics of the photo scaled to this side


# ---------------------------------------------------------------------------- colour


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack([y, (b - y) * 0.564, (r - y) * 0.713], dim=-3)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    y, cb, cr = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    r = y + 1.403 * cr
    b = y + 1.773 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], dim=-3)


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance from the stylized image, chroma from the content."""
    out = rgb_to_ycbcr(stylized)
    out[..., 1:, :, :] = rgb_to_ycbcr(content)[..., 1:, :, :]
    return ycbcr_to_rgb(out).clamp(0, 1)


# ---------------------------------------------------------------------------- one image


def _ramp(length: int, overlap_before: int, overlap_after: int) -> torch.Tensor:
    """1 inside, rising/falling linearly across the overlaps: neighbouring tiles cross-fade."""
    w = torch.ones(length)
    if overlap_before:
        w[:overlap_before] = torch.linspace(0, 1, overlap_before + 2)[1:-1]
    if overlap_after:
        w[length - overlap_after:] = torch.linspace(1, 0, overlap_after + 2)[1:-1]
    return w


def _spans(length: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    """Tile [start, end) spans covering 0..length, starts on multiples of `align`."""
    if length <= tile:
        return [(0, length)]
    step = max(align, (tile - overlap) // align * align)
    spans, start = [], 0
    while True:
        end = min(length, start + tile)
        spans.append((start, end))
        if end == length:
            return spans
        start += step


@torch.no_grad()
def stylize_tensor(generator: MultiScaleGenerator, content: torch.Tensor, opts: StylizeOptions,
                   noise: list[torch.Tensor] | None = None) -> torch.Tensor:
    """content (3, H, W) in [0, 1] -> stylized (3, H, W); `noise` lets video frames share theirs."""
    generator.eval()
    device = next(generator.parameters()).device
    _, h, w = content.shape
    if noise is None:
        noise = make_noise(generator, h, w, opts)
    x = content[None].to(device)
    if h * w <= opts.tile * opts.tile:
        out = generator([z.to(device) for z in noise], x)[0].cpu()
    else:
        out = _stylize_tiled(generator, x, noise, opts)
    out = out.clamp(0, 1)
    return preserve_color(out, content) if opts.preserve_color else out


def make_noise(generator: MultiScaleGenerator, h: int, w: int, opts: StylizeOptions) -> list[torch.Tensor]:
    return generator.make_noise(1, h, w, torch.Generator().manual_seed(opts.seed), "cpu", opts.noise_scale)


def _stylize_tiled(generator: MultiScaleGenerator, x: torch.Tensor, noise: list[torch.Tensor],
                   opts: StylizeOptions) -> torch.Tensor:
    device = x.device
    _, _, h, w = x.shape
    k = generator.cfg.scales
    align = 2 ** (k - 1)  # tile origins on the coarsest grid, so noise slices line up at every scale
    # Statistics of the whole photo at a size that fits, shared by all tiles.
    rw, rh = fit_within((h, w), opts.stats_size)
    ref = resize(x, (rw, rh))
    ref_noise = generator.make_noise(1, rh, rw, torch.Generator().manual_seed(opts.seed), device, opts.noise_scale)
    acc = torch.zeros(3, h, w)
    weight = torch.zeros(1, h, w)
    rows, cols = _spans(h, opts.tile, opts.overlap, align), _spans(w, opts.tile, opts.overlap, align)
    with frozen_statistics(generator, ref_noise, ref):
        for i, (y0, y1) in enumerate(rows):
            for j, (x0, x1) in enumerate(cols):
                tile_noise = [z[..., y0 // 2**s: math.ceil(y1 / 2**s), x0 // 2**s: math.ceil(x1 / 2**s)].to(device)
                              for s, z in enumerate(noise)]
                out = generator(tile_noise, x[..., y0:y1, x0:x1])[0].cpu()
                wy = _ramp(y1 - y0, rows[i - 1][1] - y0 if i else 0, y1 - rows[i + 1][0] if i + 1 < len(rows) else 0)
                wx = _ramp(x1 - x0, cols[j - 1][1] - x0 if j else 0, x1 - cols[j + 1][0] if j + 1 < len(cols) else 0)
                mask = wy[:, None] * wx[None, :]
                acc[:, y0:y1, x0:x1] += out * mask
                weight[:, y0:y1, x0:x1] += mask
    return acc / weight.clamp_min(1e-8)


def target_size(h: int, w: int, opts: StylizeOptions) -> tuple[int, int] | None:
    """(width, height) to resize an input to, or None to keep its size."""
    if opts.size is not None:
        return opts.size
    if opts.max_size is not None and max(h, w) > opts.max_size:
        return fit_within((h, w), opts.max_size)
    return None


def stylize_image(generator: MultiScaleGenerator, path: str | Path, out: str | Path, opts: StylizeOptions) -> Path:
    content = load_image(path)
    size = target_size(*content.shape[1:], opts)
    if size is not None:
        content = resize(content, size)
    return save_image(stylize_tensor(generator, content, opts), out)


# ---------------------------------------------------------------------------- video


def _frames(path: Path) -> tuple[Iterator[np.ndarray], float, int | None]:
    import imageio.v2 as iio

    try:
        reader = iio.get_reader(str(path))
        meta = reader.get_meta_data()
    except Exception as exc:  # noqa: BLE001 - imageio raises many types for bad files
        raise TexnetError(f"cannot read video {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if "fps" in meta and meta["fps"]:
        fps = float(meta["fps"])
    elif meta.get("duration"):
        fps = 1000.0 / float(meta["duration"])  # GIF: milliseconds per frame
    else:
        fps = 25.0
    try:
        count = reader.count_frames()
    except Exception:  # noqa: BLE001
        count = None

    def frames() -> Iterator[np.ndarray]:
        index = 0
        try:
            for frame in reader:
                yield frame
                index += 1
        except Exception as exc:  # noqa: BLE001
            raise TexnetError(f"cannot read frame {index + 1} of {path}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        finally:
            reader.close()

    return frames(), fps, count


def _frame_tensor(frame: np.ndarray) -> torch.Tensor:
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    arr = arr[..., :3].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)


def stylize_video(generator: MultiScaleGenerator, path: str | Path, out: str | Path, opts: StylizeOptions,
                  progress: bool = True) -> Path:
    """Frame by frame with the same noise for every frame (less flicker), at the source frame rate."""
    import imageio.v2 as iio
    from tqdm import tqdm

    path, out = Path(path), Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise TexnetError(f"cannot write video '{out}': use one of {', '.join(VIDEO_SUFFIXES)}")
    frames, fps, count = _frames(path)
    noise = None
    written = 0
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".gif":
            writer = iio.get_writer(str(tmp), format="GIF", mode="I", duration=round(1000.0 / fps), loop=0)
        else:
            codec = "libvpx-vp9" if out.suffix.lower() == ".webm" else "libx264"
            writer = iio.get_writer(str(tmp), format="FFMPEG", fps=fps, codec=codec, macro_block_size=1,
                                    quality=8, ffmpeg_log_level="error")
        try:
            for frame in tqdm(frames, total=count if count and count > 0 else None, unit="frame",
                              desc=path.name, disable=not progress):
                content = _frame_tensor(frame)
                size = target_size(*content.shape[1:], opts)
                if size is not None:
                    content = resize(content, size)
                if noise is None:
                    noise = make_noise(generator, content.shape[1], content.shape[2], opts)
                image = stylize_tensor(generator, content, opts, noise)
                arr = (image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
                if out.suffix.lower() != ".gif" and (arr.shape[0] % 2 or arr.shape[1] % 2):
                    # H.264/VP9 in yuv420 need even sides: repeat the last row/column
                    arr = np.pad(arr, ((0, arr.shape[0] % 2), (0, arr.shape[1] % 2), (0, 0)), mode="edge")
                writer.append_data(arr)
                written += 1
        finally:
            writer.close()
        if written == 0:
            raise TexnetError(f"video {path} has no frames")
    return out


# ---------------------------------------------------------------------------- many inputs


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not (path.suffix.lower() == ".gif" and _single_frame_gif(path))


def _single_frame_gif(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1) == 1
    except Exception:  # noqa: BLE001 - unreadable: let the image reader report it
        return True


def plan(inputs: list[str], output: str | Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs. One image or video to a file name; otherwise OUT is a folder mirroring the inputs."""
    if not inputs:
        raise TexnetError("no INPUT given")
    out = Path(output)
    paths = []
    for spec in inputs:
        path = Path(spec)
        if not path.exists() and (spec.startswith("skimage:") or spec in SAMPLE_FILES):
            path = sample_path(spec)  # a bundled scikit-image photo, e.g. astronaut
        if not path.exists():
            raise TexnetError(f"input not found: {spec}")
        paths.append(path)
    if len(paths) == 1 and paths[0].is_file():
        src = paths[0]
        suffixes = VIDEO_SUFFIXES if is_video(src) else IMAGE_SUFFIXES
        if out.suffix.lower() in suffixes:
            return [(src, out)]
        if out.suffix and not out.is_dir():
            kind = "video" if is_video(src) else "image"
            raise TexnetError(f"cannot write {kind} '{out}': use one of {', '.join(suffixes)}, or a folder")
        return [(src, out / (src.stem + (src.suffix if is_video(src) else ".png")))]
    pairs = []
    for p in paths:
        if p.is_dir():
            files = [f for f in sorted(p.rglob("*")) if f.is_file()]
            usable = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
            if not usable:
                raise TexnetError(f"no images or videos in folder {p}")
            base = out if len(paths) == 1 else out / p.name
            pairs += [(f, base / f.relative_to(p)) for f in usable]
        else:
            pairs.append((p, out / p.name))
    return pairs


def stylize_paths(generator: MultiScaleGenerator, inputs: list[str], output: str | Path, opts: StylizeOptions,
                  progress: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """Stylize files, folders and videos; in a batch, unreadable files are reported and skipped."""
    from tqdm import tqdm

    pairs = plan(inputs, output)
    single = len(pairs) == 1
    written, failed = [], []
    bar = tqdm(pairs, unit="file", disable=not progress or single)
    for src, dst in bar:
        try:
            if is_video(src):
                written.append(stylize_video(generator, src, dst, opts, progress=progress))
            else:
                written.append(stylize_image(generator, src, dst, opts))
        except TexnetError as exc:
            if single:
                raise
            failed.append(f"{src}: {exc}")
    bar.close()
    for line in failed:
        log(f"skipped {line}")
    if not written:
        raise TexnetError("nothing was stylized: every input failed")
    return written
