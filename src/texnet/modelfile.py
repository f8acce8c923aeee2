"""Model and checkpoint files: safetensors tensors plus JSON metadata in the same file.

Nothing is ever unpickled: safetensors holds raw tensors and a string header, so
loading a model from a stranger is as safe as loading an image.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from texnet import __version__
from texnet.device import cpu_has_bf16
from texnet.errors import TexnetError
from texnet.files import atomic_path
from texnet.generators import Generator, GeneratorConfig, batch_norm_to_instance, build_generator, trained_per_sample

FORMAT = "texnet-model"
CHECKPOINT_FORMAT = "texnet-checkpoint"
FORMAT_VERSION = 1


def _write(path: str | os.PathLike, tensors: dict[str, torch.Tensor], fmt: str, meta: dict[str, Any]) -> Path:
    header = {"format": fmt, "format_version": str(FORMAT_VERSION),
              "texnet": json.dumps({**meta, "texnet_version": __version__})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path, suffix=".tmp") as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return Path(path)


def _read(path: str | os.PathLike, fmt: str, what: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise TexnetError(f"{what} not found: {path}")
    if path.is_dir():
        raise TexnetError(f"expected a {what} file, got a folder: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            if header.get("format") != fmt:
                raise TexnetError(f"{path} is not a {what} (format: {header.get('format', 'unknown')})")
            meta = json.loads(header["texnet"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise TexnetError(f"{path} is not a {what} (cannot read it as one: {exc})") from None
    return tensors, meta


def save_model(path: str | os.PathLike, generator: Generator, meta: dict[str, Any],
               half: bool = False) -> Path:
    """Write the generator's weights and buffers with `meta` (kind, descriptor, training, ...).

    `half` stores floating-point tensors as fp16 (half the size; loading turns them back into fp32).
    """
    tensors = {k: (v.half() if half and v.is_floating_point() else v) for k, v in generator.state_dict().items()}
    return _write(path, tensors, FORMAT, {**meta, "generator": generator.cfg.to_dict(),
                                          "parameters": generator.num_parameters(),
                                          "weights_dtype": "float16" if half else "float32"})


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu",
               inference: bool = False, bf16: bool | None = None,
               running_stats: bool = False) -> tuple[Generator, dict]:
    """A generator in eval mode, and its metadata; `inference` folds batch norm into the convolutions
    (the same function, fewer layers; such a generator is for sampling, not for saving or training).

    bf16 (inference only; None: on CPUs with AVX512-BF16) runs a generator's finest join in bfloat16 where
    test samples show it within 1/255 of float32 (texnet.inference.InferenceGenerator.use_bf16_finest).

    A batch-norm generator trained with batch 1 comes back with instance norms: the function it
    was trained as (texnet.generators.trained_per_sample); running_stats keeps its batch norms'
    running averages instead (for measurements)."""
    tensors, meta = _read(path, FORMAT, "texnet model")
    try:
        generator = build_generator(GeneratorConfig.from_dict(meta["generator"]))
        generator.load_state_dict(tensors)
        if not running_stats and trained_per_sample(generator.cfg, meta.get("training", {}).get("batch_size")):
            batch_norm_to_instance(generator)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise TexnetError(f"{path} is a damaged texnet model: {str(exc).splitlines()[0]}") from None
    if inference:
        if bf16 is None:
            bf16 = torch.device(device).type == "cpu" and cpu_has_bf16()
        from texnet.inference import prepare

        generator = prepare(generator, bf16=bf16)
    return generator.to(device).eval(), meta


KIND_HINTS = {"texture": "train one with `texnet train-texture`", "style": "train one with `texnet train-style`"}


def load_model_of_kind(path: str | os.PathLike, kind: str, device: str | torch.device = "cpu",
                       inference: bool = False) -> tuple[Generator, dict]:
    """load_model, refusing a model of another kind (a texture model given to `stylize`, say)."""
    generator, meta = load_model(path, device, inference)
    if meta.get("kind") != kind:
        raise TexnetError(f"{path} is a {meta.get('kind', 'unknown')} model, not a {kind} model "
                          f"({KIND_HINTS.get(kind, '')})")
    return generator, meta


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    return _read(path, FORMAT, "texnet model")[1]


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    return _write(path, tensors, CHECKPOINT_FORMAT, meta)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    return _read(path, CHECKPOINT_FORMAT, "texnet checkpoint")
