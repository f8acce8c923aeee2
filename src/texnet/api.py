"""The small public API (`import texnet`): train, load, sample, stylize, in one call each.

    import texnet
    model = texnet.train_texture("photo.jpg", "out/photo.texnet", preset="quick")
    images = texnet.load("brick").sample(1024, 512, n=4, seed=1)      # (4, 3, 512, 1024) in [0, 1]
    texnet.stylize("starry-night", "photo.jpg", "out/p.png")

Sizes are width then height everywhere, as the CLI's WxH. Models are files or the names of the
pretrained zoo (`texnet models`). Everything here is built from the modules it imports; the CLI
is a thin layer over the same modules.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from texnet.errors import TexnetError

Log = Callable[[str], None]


def _split_overrides(overrides: dict[str, Any], *configs: Any) -> list[dict[str, Any]]:
    """Route keyword overrides to the dataclass that has a field of that name (the first one wins); a
    GeneratorConfig field goes under "generator". Unknown names are one clear error."""
    from texnet.generators import GeneratorConfig

    routed: list[dict[str, Any]] = [{} for _ in configs]
    generator_fields = {f.name for f in dataclasses.fields(GeneratorConfig)}
    for key, value in overrides.items():
        for i, cfg in enumerate(configs):
            if key in {f.name for f in dataclasses.fields(cfg)} and key != "generator":
                routed[i][key] = value
                break
        else:
            if key not in generator_fields:
                raise TexnetError(f"unknown training option {key!r}")
            routed[-1].setdefault("generator", {})[key] = value
    return routed


def train_texture(image: str | Path, output: str | Path, preset: str = "quick", *, resume: bool = False,
                  progress: bool = True, log: Log = print, **overrides: Any) -> "Model":
    """Train a texture generator on one exemplar (a file or a scikit-image sample name) and write it to
    `output`. `overrides` are any TrainConfig, TextureConfig or GeneratorConfig field (iterations=..., size=...,
    loss="gram", scales=6, ...); they win over the preset's."""
    from texnet import presets
    from texnet.texture import TextureConfig
    from texnet.texture import train_texture as fit_texture

    chosen = _preset(presets.TEXTURE, preset)
    train_over, cfg_over = _split_overrides(overrides, chosen.train, TextureConfig())
    cfg = presets.apply(TextureConfig(), chosen.settings, cfg_over)
    path, _ = fit_texture(str(image), output, chosen.train.with_overrides(**train_over), cfg, resume=resume,
                          progress=progress, log=log)
    return load(path)


def train_style(style: str | Path, output: str | Path, content: str | Path | None = None, preset: str = "quick", *,
                resume: bool = False, progress: bool = True, log: Log = print, **overrides: Any) -> "Model":
    """Train a stylization generator for one style image on a folder of photos (default: scikit-image's) and
    write it to `output`; `overrides` as for train_texture (StyleConfig fields instead of TextureConfig's)."""
    from texnet import presets
    from texnet.style import StyleConfig
    from texnet.style import train_style as fit_style

    chosen = _preset(presets.STYLE, preset)
    train_over, cfg_over = _split_overrides(overrides, chosen.train, StyleConfig())
    cfg = presets.apply(StyleConfig(), chosen.settings, cfg_over)
    path, _ = fit_style(str(style), output, str(content) if content is not None else None,
                        chosen.train.with_overrides(**train_over), cfg, resume=resume, progress=progress, log=log)
    return load(path)


def _preset(table: dict, name: str):
    if name not in table:
        raise TexnetError(f"unknown preset {name!r}: use {', '.join(table)}")
    return table[name]


class Model:
    """A loaded texnet model (texture or style) in its inference form."""

    def __init__(self, path: Path, device: str = "auto"):
        from texnet.device import resolve_device
        from texnet.modelfile import load_model

        self.path = path
        self.generator, self.meta = load_model(path, resolve_device(device), inference=True)
        self.kind: str = self.meta.get("kind", "texture")

    def __repr__(self) -> str:
        return f"texnet.Model({str(self.path)!r}, kind={self.kind!r})"

    def sample(self, width: int, height: int, n: int = 1, seed: int | None = 0,
               noise_scale: float = 1.0) -> "Any":
        """n textures (n, 3, height, width) in [0, 1], a float tensor; sample i uses seed + i (random when None)."""
        import torch

        from texnet.images import check_size
        from texnet.limits import check_sample

        self._require("texture")
        check_size(width, height)
        check_sample(width, height, str(next(self.generator.parameters()).device))
        base = seed if seed is not None else int(torch.seed() % 2**31)
        return torch.cat([self.generator.sample(width, height, 1, seed=base + i, noise_scale=noise_scale).cpu()
                          for i in range(n)])

    def stylize(self, image: "Any", seed: int = 0, noise_scale: float = 1.0, preserve_color: bool = False,
                max_size: int | None = None) -> "Any":
        """A photo (a file, or a (3, H, W) array or tensor in [0, 1]) stylized: a (3, H, W) float array."""
        import numpy as np

        from texnet.images import load_array
        from texnet.stylizer import StylizeOptions, TorchBackend, _sized, stylize_array

        self._require("style")
        if isinstance(image, (str, Path)):
            content = load_array(image)
        else:
            content = np.ascontiguousarray(image.detach().cpu().numpy() if hasattr(image, "detach") else image,
                                           dtype=np.float32)
        opts = StylizeOptions(seed=seed, noise_scale=noise_scale, preserve_color=preserve_color, max_size=max_size)
        return stylize_array(TorchBackend(self.generator), _sized(content, opts), opts)[0]

    def export(self, output: str | Path) -> Path:
        """The ONNX graph for the torch-free runtime and the web page."""
        from texnet.export import export_onnx
        from texnet.modelfile import load_model

        plain, meta = load_model(self.path)
        return export_onnx(plain, meta, output)

    def _require(self, kind: str) -> None:
        if self.kind != kind:
            raise TexnetError(f"{self.path} is a {self.kind} model, not a {kind} model")


def load(model: str | Path, device: str = "auto") -> Model:
    """A model file, or the name of a pretrained model (a local file of the same name wins)."""
    from texnet import zoo

    return Model(zoo.resolve(model, "texnet"), device)


def sample(model: str | Path | Model, width: int, height: int, n: int = 1, seed: int | None = 0) -> "Any":
    """n textures (n, 3, height, width) in [0, 1] from a texture model (a Model, file or pretrained name)."""
    return (model if isinstance(model, Model) else load(model)).sample(width, height, n=n, seed=seed)


def stylize(model: str | Path | Model, inputs: str | Path | list, output: str | Path, *, seed: int = 0,
            noise_scale: float = 1.0, preserve_color: bool = False, max_size: int | None = None,
            progress: bool = False, log: Log = print) -> list[Path]:
    """Stylize photos, folders or videos (as `texnet stylize`) and write them; the paths written.
    One input goes to the file `output`; several, or a folder, go into the folder `output`."""
    from texnet.stylizer import StylizeOptions, TorchBackend, stylize_paths

    m = model if isinstance(model, Model) else load(model)
    m._require("style")
    opts = StylizeOptions(seed=seed, noise_scale=noise_scale, preserve_color=preserve_color, max_size=max_size)
    names = [str(p) for p in inputs] if isinstance(inputs, (list, tuple)) else [str(inputs)]
    return stylize_paths(TorchBackend(m.generator), names, output, opts, progress=progress, log=log)


__all__ = ["train_texture", "train_style", "load", "sample", "stylize", "Model"]
