"""Applying a style model: photos of any size, folders and videos, in one forward pass each.

The pipeline here (sizes, noise, tiling, colour, folders, videos) works on NumPy arrays
and does not depend on the backend: a *backend* runs the generator, either PyTorch
(`TorchBackend`) or onnxruntime (`texnet.runtime.OnnxBackend`, no torch needed).

Large photos are processed in overlapping tiles aligned to the generator's coarsest
grid, with noise cut from one full-size noise field, instance-norm statistics taken
once from the whole photo at `stats_size`, and linear blending across the overlaps:
memory stays bounded and no seam shows. A video's frames share one noise field and,
when tiled, the statistics of the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

import numpy as np

from texnet.errors import TexnetError
from texnet.files import atomic_path
from texnet.images import (IMAGE_SUFFIXES, SAMPLE_FILES, fit_within, load_array, resize_array, sample_path,
                           save_image)
from texnet.limits import check_stylize
from texnet.noise import noise_pyramid
from texnet.tiling import stylize_tiled

if TYPE_CHECKING:
    import torch

    from texnet.generators import Generator

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


class Backend(Protocol):
    """What the pipeline needs from a runtime: run the generator, optionally with given statistics."""

    scales: int
    noise_channels: int

    def run(self, content: np.ndarray, noise: list[np.ndarray], stats: Any = None) -> np.ndarray:
        """content (1, 3, h, w), noise per scale -> image (3, h, w) in [0, 1]."""

    def statistics(self, content: np.ndarray, noise: list[np.ndarray]) -> Any:
        """The normalisation statistics of one pass (None when the model has none)."""


class TorchBackend:
    """A PyTorch style generator as a backend, in its inference form (texnet.inference)."""

    def __init__(self, generator: "Generator"):
        from texnet.inference import is_prepared, prepare

        self.generator = generator if is_prepared(generator) else prepare(generator)
        self.scales, self.noise_channels = generator.cfg.scales, generator.cfg.noise_channels
        self.device = next(generator.parameters()).device

    def _tensors(self, content: np.ndarray, noise: list[np.ndarray]) -> tuple[list["torch.Tensor"], "torch.Tensor"]:
        import torch

        zs = [torch.from_numpy(np.ascontiguousarray(z)).to(self.device) for z in noise]
        return zs, torch.from_numpy(np.ascontiguousarray(content)).to(self.device)

    def run(self, content: np.ndarray, noise: list[np.ndarray], stats: Any = None) -> np.ndarray:
        import torch

        from texnet.inference import use_statistics

        zs, x = self._tensors(content, noise)
        with torch.inference_mode(), use_statistics(self.generator, stats):
            return self.generator.infer(zs, x)[0].clamp(0, 1).float().cpu().numpy()

    def statistics(self, content: np.ndarray, noise: list[np.ndarray]) -> Any:
        import torch

        zs, x = self._tensors(content, noise)
        with torch.inference_mode():
            return self.generator.record_statistics(zs, x)


# ---------------------------------------------------------------------------- colour


def rgb_to_ycbcr(x: Any) -> Any:
    """(..., 3, H, W) RGB -> YCbCr, for NumPy arrays and torch tensors alike."""
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return _stack(x, [y, (b - y) * 0.564, (r - y) * 0.713])


def ycbcr_to_rgb(x: Any) -> Any:
    y, cb, cr = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    r = y + 1.403 * cr
    b = y + 1.773 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return _stack(x, [r, g, b])


def _stack(like: Any, parts: list) -> Any:
    if isinstance(like, np.ndarray):
        return np.stack(parts, axis=-3)
    import torch

    return torch.stack(parts, dim=-3)


def preserve_color(stylized: Any, content: Any) -> Any:
    """Luminance from the stylized image, chroma from the content (arrays or tensors)."""
    out = rgb_to_ycbcr(stylized)
    out[..., 1:, :, :] = rgb_to_ycbcr(content)[..., 1:, :, :]
    out = ycbcr_to_rgb(out)
    return np.clip(out, 0, 1) if isinstance(out, np.ndarray) else out.clamp(0, 1)


# ---------------------------------------------------------------------------- one image


def make_noise(backend: Backend, h: int, w: int, opts: StylizeOptions) -> list[np.ndarray]:
    return noise_pyramid(opts.seed, 1, h, w, backend.scales, backend.noise_channels, opts.noise_scale)


def reference_statistics(backend: Backend, content: np.ndarray, opts: StylizeOptions) -> Any:
    """Statistics of the whole photo scaled to fit stats_size: what every tile of it is normalised with."""
    h, w = content.shape[-2:]
    rw, rh = fit_within((h, w), opts.stats_size)
    ref = resize_array(content, (rw, rh))
    return backend.statistics(ref[None], make_noise(backend, rh, rw, opts))


def stylize_array(backend: Backend, content: np.ndarray, opts: StylizeOptions, noise: list[np.ndarray] | None = None,
                  stats: Any = None) -> tuple[np.ndarray, Any]:
    """content (3, H, W) in [0, 1] -> (stylized (3, H, W), the statistics used when tiled).

    `noise` and `stats` let video frames share theirs.
    """
    _, h, w = content.shape
    check_stylize(w, h)
    noise = noise if noise is not None else make_noise(backend, h, w, opts)
    if h * w <= opts.tile * opts.tile:  # one pass; tiles bound the memory of larger photos
        out = backend.run(content[None], noise)
    else:
        stats = stats if stats is not None else reference_statistics(backend, content, opts)
        out = stylize_tiled(lambda z, c: backend.run(c, z, stats), content[None], noise, backend.scales,
                            opts.tile, opts.overlap)
    out = np.clip(out, 0, 1)
    return (preserve_color(out, content) if opts.preserve_color else out), stats


def stylize_tensor(generator: "Generator", content: "torch.Tensor", opts: StylizeOptions) -> "torch.Tensor":
    """The PyTorch convenience form: content tensor (3, H, W) -> stylized tensor (3, H, W)."""
    import torch

    out, _ = stylize_array(TorchBackend(generator), content.detach().cpu().float().numpy(), opts)
    return torch.from_numpy(out)


def target_size(h: int, w: int, opts: StylizeOptions) -> tuple[int, int] | None:
    """(width, height) to resize an input to, or None to keep its size."""
    if opts.size is not None:
        return opts.size
    if opts.max_size is not None and max(h, w) > opts.max_size:
        return fit_within((h, w), opts.max_size)
    return None


def _sized(content: np.ndarray, opts: StylizeOptions) -> np.ndarray:
    size = target_size(*content.shape[1:], opts)
    return resize_array(content, size) if size is not None else content


def stylize_image(backend: Backend, path: str | Path, out: str | Path, opts: StylizeOptions) -> Path:
    content = _sized(load_array(path), opts)
    return save_image(stylize_array(backend, content, opts)[0], out)


# ---------------------------------------------------------------------------- video


def _frames(path: Path) -> tuple[Iterator[np.ndarray], float, int | None]:
    try:
        import imageio.v2 as iio
    except ImportError:
        raise TexnetError("videos need the imageio and imageio-ffmpeg packages (pip install imageio imageio-ffmpeg)") from None

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


def _frame_array(frame: np.ndarray) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray((arr[..., :3].astype(np.float32) / 255.0).transpose(2, 0, 1))


def stylize_video(backend: Backend, path: str | Path, out: str | Path, opts: StylizeOptions,
                  progress: bool = True) -> Path:
    """Frame by frame with the same noise for every frame (less flicker), at the source frame rate."""
    from texnet.progress import bar

    path, out = Path(path), Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise TexnetError(f"cannot write video '{out}': use one of {', '.join(VIDEO_SUFFIXES)}")
    frames, fps, count = _frames(path)

    def stylized() -> Iterator[np.ndarray]:
        noise, stats = None, None
        for frame in bar(frames, total=count if count and count > 0 else None, unit="frame", desc=path.name,
                         disable=not progress):
            content = _sized(_frame_array(frame), opts)
            if noise is None:
                noise = make_noise(backend, content.shape[1], content.shape[2], opts)
            image, stats = stylize_array(backend, content, opts, noise, stats)
            yield (image.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)

    try:
        write_frames(stylized(), out, fps)
    except _NoFrames:
        raise TexnetError(f"video {path} has no frames") from None
    return out


def write_frames(frames: Iterable[np.ndarray], out: Path, fps: float) -> int:
    """8-bit (H, W, 3) frames into a video (mp4, webm, gif) at `fps`, atomically (nothing is written for no
    frames); how many were written."""
    import imageio.v2 as iio

    written = 0
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".gif":
            writer = iio.get_writer(str(tmp), format="GIF", mode="I", duration=round(1000.0 / fps), loop=0)
        else:
            codec = "libvpx-vp9" if out.suffix.lower() == ".webm" else "libx264"
            writer = iio.get_writer(str(tmp), format="FFMPEG", fps=fps, codec=codec, macro_block_size=1,
                                    quality=8, ffmpeg_log_level="error")
        try:
            for arr in frames:
                if out.suffix.lower() != ".gif" and (arr.shape[0] % 2 or arr.shape[1] % 2):
                    # H.264/VP9 in yuv420 need even sides: repeat the last row/column
                    arr = np.pad(arr, ((0, arr.shape[0] % 2), (0, arr.shape[1] % 2), (0, 0)), mode="edge")
                writer.append_data(arr)
                written += 1
        finally:
            writer.close()
        if written == 0:
            raise _NoFrames
    return written


class _NoFrames(Exception):
    """Raised inside atomic_path so that an empty video leaves no file."""


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


def stylize_paths(backend: Backend, inputs: list[str], output: str | Path, opts: StylizeOptions,
                  progress: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """Stylize files, folders and videos. In a batch, a file that fails for any reason is reported and
    skipped, the others go on, and the report is printed even when the run is interrupted."""
    from texnet.progress import bar

    pairs = plan(inputs, output)
    single = len(pairs) == 1
    written, failed = [], []
    try:
        for src, dst in bar(pairs, unit="file", disable=not progress or single):
            try:
                if is_video(src):
                    written.append(stylize_video(backend, src, dst, opts, progress=progress))
                else:
                    written.append(stylize_image(backend, src, dst, opts))
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad file must not cost the others
                if single:
                    raise
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                failed.append(f"{src}: {reason if isinstance(exc, TexnetError) else f'{type(exc).__name__}: {reason}'}")
    finally:
        for line in failed:
            log(f"skipped {line}")
    if not written:
        raise TexnetError("nothing was stylized: every input failed")
    return written
