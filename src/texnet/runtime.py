"""The torch-free runtime: sample and stylize with an exported ONNX model (NumPy, onnxruntime, Pillow).

`texnet export MODEL -o MODEL.onnx` writes the graph; `texnet sample MODEL.onnx ...` and
`texnet stylize MODEL.onnx ...` then run here, with or without PyTorch installed. Noise
comes from texnet.noise, so a seed gives the same texture as the PyTorch path (within
float rounding) and the web page. Stylization goes through the same pipeline as the
PyTorch path (texnet.stylizer), tiling included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from texnet.errors import TexnetError
from texnet.noise import noise_pyramid, scale_sizes

# onnxruntime's graph optimisation level. 'all' adds the blocked NCHWc layout (Reorder nodes around texnet's
# pads, concats and norms); timed against 'extended' it was within noise (docs/performance.md).
LEVEL = "all"


def session_options(level: str = LEVEL, threads: int | None = None):
    """onnxruntime session options at an optimisation level ('basic', 'extended', 'all').

    Threads: the argument, else TEXNET_THREADS, else onnxruntime's default.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    threads = threads or int(os.environ.get("TEXNET_THREADS") or 0)
    if threads:
        options.intra_op_num_threads = threads
    # No busy-waiting for work after a run: with it, onnxruntime's threads kept the cores for a while after each
    # sample and the next piece of work (a PyTorch pass in the bench's rounds) took about twice as long
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise TexnetError("ONNX models need onnxruntime: pip install onnxruntime") from None
    if not path.exists():
        raise TexnetError(f"texnet model not found: {path}")
    try:
        return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for bad files
        raise TexnetError(f"{path} is not a texnet ONNX model (cannot load it: {str(exc).splitlines()[0]})") from None


class OnnxModel:
    """An exported texnet generator: its session and what the export recorded about it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.session = _session(self.path)
        props = self.session.get_modelmeta().custom_metadata_map
        if "texnet_kind" not in props:
            raise TexnetError(f"{self.path} is an ONNX file but not a texnet model (no texnet metadata)")
        self.kind = props["texnet_kind"]
        self.scales = int(props["texnet_scales"])
        self.noise_channels = int(props["texnet_noise_channels"])
        self.stats_size = int(props.get("texnet_stats_size", "0"))
        self.meta: dict[str, Any] = json.loads(props.get("texnet_meta", "{}"))
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.kernels = tuple(self.meta.get("generator", {}).get("kernels", (3, 3, 1)))

    def require(self, kind: str) -> "OnnxModel":
        if self.kind != kind:
            raise TexnetError(f"{self.path} is a {self.kind} model, not a {kind} model")
        return self

    # ------------------------------------------------------------------ textures

    def sample(self, width: int, height: int, seed: int, noise_scale: float = 1.0) -> np.ndarray:
        """One texture (3, H, W) in [0, 1] from the portable noise of `seed`."""
        from texnet.limits import check_onnx, check_texture_size

        check_onnx(self.require("texture").kind, width, height)
        check_texture_size(width, height, self.scales, self.kernels)
        noise = noise_pyramid(seed, 1, height, width, self.scales, self.noise_channels, noise_scale)
        return self.session.run(["image"], dict(zip(self.inputs, noise)))[0][0]

    # ------------------------------------------------------------------ stylization (texnet.stylizer.Backend)

    def run(self, content: np.ndarray, noise: list[np.ndarray], stats: Any = None) -> np.ndarray:
        feeds = {"content": content.astype(np.float32), **{f"z{s}": z for s, z in enumerate(noise)}}
        if self.stats_size:
            feeds["stats"] = stats if stats is not None else np.zeros((1, self.stats_size), np.float32)
            feeds["use_stats"] = np.array([1.0 if stats is not None else 0.0], np.float32)
        return self.session.run(["image"], feeds)[0][0]

    def statistics(self, content: np.ndarray, noise: list[np.ndarray]) -> Any:
        if not self.stats_size:
            return None
        feeds = {"content": content.astype(np.float32), **{f"z{s}": z for s, z in enumerate(noise)},
                 "stats": np.zeros((1, self.stats_size), np.float32), "use_stats": np.zeros(1, np.float32)}
        return self.session.run(["stats_out"], feeds)[0]


def is_onnx(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".onnx")




# ---------------------------------------------------------------------------- choosing a runtime

RUNTIMES = ("auto", "torch", "onnx")


class TorchTextureSampler:
    """A .texnet texture model on PyTorch, with the same `sample` as OnnxModel."""

    def __init__(self, path: str | os.PathLike, device: str = "auto"):
        from texnet.device import resolve_device
        from texnet.texture import load_texture_model

        self.generator, self.meta = load_texture_model(path, resolve_device(device), inference=True)

    def sample(self, width: int, height: int, seed: int, noise_scale: float = 1.0) -> np.ndarray:
        from texnet.limits import check_sample

        check_sample(width, height, str(next(self.generator.parameters()).device))
        return self.generator.sample(width, height, 1, seed=seed, noise_scale=noise_scale)[0].float().cpu().numpy()


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _choose(path: str | os.PathLike, runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise TexnetError(f"unknown runtime '{runtime}': use {', '.join(RUNTIMES)}")
    if runtime == "auto":
        runtime = "onnx" if is_onnx(path) else "torch"
    if runtime == "onnx" and not is_onnx(path):
        raise TexnetError(f"--runtime onnx needs an ONNX model; export one with `texnet export {path} -o "
                          f"{Path(path).with_suffix('.onnx')}`")
    if runtime == "torch" and is_onnx(path):
        raise TexnetError(f"{path} is an ONNX model: run it with --runtime onnx (or auto)")
    if runtime == "torch" and not _torch_available():
        raise TexnetError(f"{path} needs PyTorch, which is not installed; use the model's ONNX export "
                          "(texnet export, on a machine with PyTorch) or install torch")
    return runtime


def _resolve(spec: str | os.PathLike, runtime: str) -> Path:
    """A file path, or the zoo model of that name (its ONNX export for the onnx runtime)."""
    from texnet import zoo

    return zoo.resolve(spec, {"onnx": "onnx", "torch": "texnet"}.get(runtime, "auto"))


def cached_onnx(path: Path) -> Path | None:
    """The ONNX export of a .texnet model, made once and kept in texnet's cache (keyed by the file's SHA-256).

    None when onnxruntime or onnx is missing: the caller then stays on PyTorch.
    """
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    from texnet.files import sha256_of
    from texnet.weights import cache_dir

    target = cache_dir() / "onnx" / f"{sha256_of(path)[:24]}.onnx"
    if not target.exists():
        from texnet.export import export_onnx
        from texnet.modelfile import load_model

        generator, meta = load_model(path)
        export_onnx(generator, meta, target)
    return target


class AutoTextureSampler:
    """PyTorch, the faster runtime in the bench's inference runs (docs/performance.md). Except for instance-norm textures over STATISTICS_SIDE a side: PyTorch samples those in strips with a smaller
    sample's statistics (bounded memory), onnxruntime in one pass with their own, so it takes them when they fit
    in memory."""

    def __init__(self, path: Path, device: str):
        self.path = path
        self.torch = TorchTextureSampler(path, device)
        self._onnx: OnnxModel | None = None

    def sample(self, width: int, height: int, seed: int, noise_scale: float = 1.0) -> np.ndarray:
        from texnet.inference.generator import STATISTICS_SIDE
        from texnet.limits import fits_onnx

        g = self.torch.generator
        exact = g.cfg.norm == "batch" or max(width, height) <= STATISTICS_SIDE
        if not exact and g.to_rgb.weight.device.type == "cpu" and fits_onnx("texture", width, height) \
                and self.onnx() is not None:
            return self.onnx().sample(width, height, seed, noise_scale)
        return self.torch.sample(width, height, seed, noise_scale)

    def onnx(self) -> OnnxModel | None:
        """The model's cached ONNX export on onnxruntime (made on first use), or None without onnxruntime."""
        if self._onnx is None:
            onnx_path = cached_onnx(self.path)
            self._onnx = OnnxModel(onnx_path) if onnx_path else None
        return self._onnx


def open_texture_model(path: str | os.PathLike, runtime: str = "auto", device: str = "auto"):
    """Something with .sample(width, height, seed, noise_scale) -> (3, H, W) array, on the chosen runtime.

    `path` may also name one of texnet's pretrained models (texnet.zoo); a local file wins.
    auto: .onnx files run on onnxruntime, .texnet files on PyTorch (see AutoTextureSampler)."""
    path = _resolve(path, runtime)
    choice = _choose(path, runtime)
    if choice == "onnx":
        return OnnxModel(path).require("texture")
    if runtime == "auto":
        return AutoTextureSampler(path, device)
    return TorchTextureSampler(path, device)


def open_style_model(path: str | os.PathLike, runtime: str = "auto", device: str = "auto"):
    """A texnet.stylizer backend for the model (a path or a zoo name), on the chosen runtime (see open_texture_model)."""
    path = _resolve(path, runtime)
    if _choose(path, runtime) == "onnx":
        return OnnxModel(path).require("style")
    from texnet.device import resolve_device
    from texnet.style import load_style_model
    from texnet.stylizer import TorchBackend

    # auto: PyTorch (layer by layer on the CPU: faster than onnxruntime in the bench's inference rows, see
    # AutoTextureSampler, and with less memory than a one-pass graph)
    generator, _ = load_style_model(path, resolve_device(device), inference=True)
    return TorchBackend(generator)


__all__ = ["OnnxModel", "is_onnx", "open_texture_model", "open_style_model", "cached_onnx", "RUNTIMES",
           "scale_sizes"]
