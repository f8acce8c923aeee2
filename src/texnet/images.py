"""Image I/O: load anything PIL reads as RGB in [0, 1], save atomically, sizes, tiling.

Images travel through texnet as float tensors shaped (3, H, W) or (B, 3, H, W)
with values in [0, 1]; the descriptor does its own preprocessing. The array
functions (`load_array`, `save_array`) need only NumPy and Pillow: the torch-free
runtime uses them; the tensor functions import torch when called.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from texnet.errors import TexnetError
from texnet.files import atomic_path

if TYPE_CHECKING:
    import torch

# Above this many pixels we refuse to decode (PIL's decompression-bomb guard raises).
MAX_PIXELS = 16384 * 16384
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
SAVE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

# Sample images bundled with scikit-image, usable offline by name ("brick" or "skimage:brick").
SAMPLE_FILES = {
    "brick": "brick.png", "grass": "grass.png", "gravel": "gravel.png", "ihc": "ihc.png",
    "hubble": "hubble_deep_field.jpg", "astronaut": "astronaut.png", "coffee": "coffee.png",
    "chelsea": "chelsea.png", "rocket": "rocket.jpg", "retina": "retina.jpg",
    "motorcycle": "motorcycle_left.png", "color": "color.png", "camera": "camera.png",
    "coins": "coins.png", "moon": "moon.png",
}
# Named views of the samples, (sample, (left, top, width, height) or None, longer side or None): textures
# inside photos, or a photo at the scale where the descriptor sees its objects whole.
SAMPLE_VIEWS: dict[str, tuple[str, tuple[int, int, int, int] | None, int | None]] = {
    "hubble-crop": ("hubble", (244, 180, 512, 512), None),  # galaxies on black: a sparse colour texture
    # The coins photo (rows of six coins across 384 px) at half scale: at full scale every preset and the
    # optimisation merged the coins into blobs; at half scale the standard preset draws separate round coins.
    "coins-half": ("coins", None, 192),
}
# The colour photographs among them: the default content pool for stylization.
SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle", "hubble", "retina", "ihc")

MIN_EXEMPLAR = 32  # the descriptor pools 4 times before relu5_1
MAX_EXEMPLAR_PIXELS = 4096 * 4096  # descriptor activations of larger images do not fit in memory comfortably


def sample_names() -> list[str]:
    return sorted(SAMPLE_FILES) + sorted(SAMPLE_VIEWS)


def sample_path(name: str) -> Path:
    """Path of a scikit-image sample (or of the photo a named crop comes from); TexnetError if unknown."""
    name = name.removeprefix("skimage:")
    name = SAMPLE_VIEWS[name][0] if name in SAMPLE_VIEWS else name
    if name not in SAMPLE_FILES:
        raise TexnetError(f"unknown sample image '{name}'; known: {', '.join(sample_names())}")
    import skimage  # only needed for the bundled samples

    path = Path(skimage.__file__).parent / "data" / SAMPLE_FILES[name]
    if not path.exists():
        raise TexnetError(f"sample image '{name}' is missing from this scikit-image install ({path})")
    return path


def resolve_image_path(spec: str | os.PathLike) -> Path:
    """A file path, or a bundled sample name when no such file exists."""
    spec = str(spec)
    path = Path(spec)
    if spec.startswith("skimage:") or (not path.exists() and (spec in SAMPLE_FILES or spec in SAMPLE_VIEWS)):
        return sample_path(spec)
    if not path.exists():
        raise TexnetError(f"image not found: {spec}")
    if path.is_dir():
        raise TexnetError(f"expected an image file, got a folder: {spec}")
    return path


def pil_to_array(img: Image.Image) -> np.ndarray:
    """Any PIL mode -> float32 RGB array (3, H, W) in [0, 1]; alpha is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        arr = arr / (65535.0 if arr.max() > 255 else 255.0)
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif img.mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
        arr = np.repeat(arr[..., None], 3, axis=2)
    else:
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def load_image(spec: str | os.PathLike, min_size: int = 1) -> "torch.Tensor":
    """Read an image file (or sample name) as an RGB tensor (3, H, W) in [0, 1] with clear errors."""
    import torch

    return torch.from_numpy(load_array(spec, min_size))


def load_array(spec: str | os.PathLike, min_size: int = 1) -> np.ndarray:
    """Read an image file (or sample name) as an RGB float32 array (3, H, W) in [0, 1] with clear errors."""
    path = resolve_image_path(spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # size is checked just below
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                img.load()
                tensor = pil_to_array(img)
    except Image.DecompressionBombError:
        raise TexnetError(f"image {path} is too large (more than {MAX_PIXELS} pixels)") from None
    except UnidentifiedImageError:
        raise TexnetError(f"not an image file (or an unsupported format): {path}") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise TexnetError(f"cannot read image {path}: {exc}") from None
    view = sample_view(spec)
    if view is not None:
        crop, side = view
        if crop is not None:
            left, top, cw, ch = crop
            tensor = np.ascontiguousarray(tensor[:, top:top + ch, left:left + cw])
        if side is not None:
            h, w = tensor.shape[1:]
            scale = side / max(h, w)
            tensor = resize_array(tensor, (max(1, round(w * scale)), max(1, round(h * scale))))
    h, w = tensor.shape[1:]
    if min(h, w) < min_size:
        raise TexnetError(f"image {path} is {w}x{h}; at least {min_size}x{min_size} pixels are needed")
    return tensor


def sample_view(spec: str | os.PathLike) -> tuple[tuple[int, int, int, int] | None, int | None] | None:
    """(crop box, longer side) of a named sample view (when no file of that name exists), else None."""
    name = str(spec).removeprefix("skimage:")
    if name in SAMPLE_VIEWS and (str(spec).startswith("skimage:") or not Path(spec).exists()):
        return SAMPLE_VIEWS[name][1:]
    return None


def is_grayscale(image: "torch.Tensor", tolerance: float = 1.5 / 255) -> bool:
    """True when R, G and B agree everywhere (a grey image stored as RGB counts)."""
    return bool((image.amax(dim=-3) - image.amin(dim=-3)).max() <= tolerance)


def load_exemplar(spec: str, exemplar_size: int | None = None) -> tuple["torch.Tensor", dict]:
    """A texture or style exemplar as (1, 3, H, W), and what a model file records about it.

    The exemplar keeps its pixel scale unless `exemplar_size` (its longer side) is given.
    """
    from texnet.files import sha256_of

    path = resolve_image_path(spec)
    image = load_image(spec, min_size=1)
    h, w = image.shape[1:]
    if exemplar_size is not None:
        if exemplar_size < MIN_EXEMPLAR:
            raise TexnetError(f"--exemplar-size must be at least {MIN_EXEMPLAR}")
        scale = exemplar_size / max(h, w)
        image = resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))
    h2, w2 = image.shape[1:]
    if min(h2, w2) < MIN_EXEMPLAR:
        raise TexnetError(f"exemplar {path} is {w2}x{h2}; at least {MIN_EXEMPLAR}x{MIN_EXEMPLAR} pixels are needed")
    if h2 * w2 > MAX_EXEMPLAR_PIXELS:
        nw, nh = fit_within((h2, w2), 4096)
        raise TexnetError(f"exemplar {path} is {w2}x{h2}, too large to describe in memory; "
                          f"pass --exemplar-size {max(nw, nh)} (or smaller) to rescale it")
    info = {"file": path.name, "sha256": sha256_of(path), "original_size": [w, h], "used_size": [w2, h2]}
    view = sample_view(spec)
    if view is not None:
        info["name"] = str(spec).removeprefix("skimage:")
        if view[0] is not None:
            info["crop"] = list(view[0])
        if view[1] is not None:
            info["longer_side"] = view[1]
    return image[None], info


def to_pil(image: "torch.Tensor | np.ndarray") -> Image.Image:
    """(3, H, W) or (1, 3, H, W) tensor or array in [0, 1] -> 8-bit RGB PIL image (values clamped)."""
    arr = image if isinstance(image, np.ndarray) else image.detach().float().cpu().numpy()
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError("to_pil takes one image, not a batch")
        arr = arr[0]
    arr = (np.clip(arr, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)), "RGB")


def check_output_suffix(path: str | os.PathLike) -> None:
    """Fail early (before hours of work) when an output name has no image suffix we can write."""
    suffix = Path(path).suffix.lower()
    if suffix not in SAVE_SUFFIXES:
        raise TexnetError(f"cannot write '{path}': use one of {', '.join(SAVE_SUFFIXES)}")


def save_image(image: "torch.Tensor | np.ndarray | Image.Image", path: str | os.PathLike) -> Path:
    """Write atomically; the format follows the suffix."""
    check_output_suffix(path)
    pil = image if isinstance(image, Image.Image) else to_pil(image)
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(path.suffix.lower())
    with atomic_path(path) as tmp:
        pil.save(tmp, format=fmt or path.suffix.lower().lstrip(".").upper(), **({"quality": 95} if fmt == "JPEG" else {}))
    return path


def parse_size(text: str, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """'512' -> (512, 512); '640x480' -> (width, height) = (640, 480)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX*]\s*(\d+)\s*)?", str(text))
    if not match:
        raise TexnetError(f"bad size '{text}': expected N or WxH, for example 512 or 640x480")
    w = int(match.group(1))
    h = int(match.group(2)) if match.group(2) else w
    if w < 1 or h < 1:
        raise TexnetError(f"bad size '{text}': width and height must be at least 1")
    check_size(w, h, max_pixels)
    return w, h


def check_size(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """One clear error for a size no image can have (the API's sizes; the CLI's come through parse_size)."""
    if not (isinstance(width, int) and isinstance(height, int)) or width < 1 or height < 1:
        raise TexnetError(f"bad size {width}x{height}: width and height must be whole numbers of at least 1")
    if width * height > max_pixels:
        raise TexnetError(f"size {width}x{height} is too large (more than {max_pixels} pixels"
                          + ("; a .tif output takes larger sizes, band by band" if max_pixels == MAX_PIXELS else "")
                          + ")")


def tile(image: "torch.Tensor | np.ndarray", rows: int = 2, cols: int = 2) -> "torch.Tensor | np.ndarray":
    """Repeat an image in a grid: seams of a non-periodic image show at once."""
    if isinstance(image, np.ndarray):
        return np.tile(image, (1,) * (image.ndim - 2) + (rows, cols))
    return image.repeat(*([1] * (image.dim() - 2)), rows, cols)


def resize(image: "torch.Tensor", size: tuple[int, int]) -> "torch.Tensor":
    """Antialiased resize of (3, H, W) or (B, 3, H, W) to (width, height)."""
    import torch

    batched = image.dim() == 4
    x = image if batched else image[None]
    w, h = size
    out = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                                          antialias=(h < x.shape[2] or w < x.shape[3]))
    return out if batched else out[0]


def resize_array(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased (bilinear) resize of a float array (3, H, W) or (B, 3, H, W) to (width, height), NumPy only."""
    if image.ndim == 4:
        return np.stack([resize_array(x, size) for x in image])
    w, h = size
    if (h, w) == image.shape[1:]:
        return image
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(c, dtype=np.float32), mode="F")
                           .resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) for c in image]
    return np.stack(channels)


def fit_within(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) of an (H, W) shape scaled so its longer side is at most max_side."""
    h, w = shape
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))
