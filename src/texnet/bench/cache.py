"""Models and reference images the bench needs, made once per recipe and reused while the recipe holds.

A recipe is everything the result depends on (inputs, settings); it is written next to the file
as FILE.recipe.json, so a rerun only trains or optimises what changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from texnet.bench.config import BenchConfig
from texnet.device import resolve_device
from texnet.files import atomic_path
from texnet.presets import TrainConfig

Log = Callable[[str], None]


def _canonical(recipe: dict[str, Any]) -> Any:
    return json.loads(json.dumps(recipe, sort_keys=True, default=str))


def record_recipe(path: Path, recipe: dict[str, Any]) -> None:
    """Write the recipe a model was made from next to it: the bench reuses the model while it matches."""
    with atomic_path(path.with_name(path.name + ".recipe.json")) as tmp:
        tmp.write_text(json.dumps(_canonical(recipe), sort_keys=True, indent=1))


def ensure_model(path: Path, recipe: dict[str, Any], train_fn: Callable[[], Any], label: str, log: Log) -> None:
    """Train the model a row needs, unless one made from the same recipe (inputs and settings) is there."""
    sidecar = path.with_name(path.name + ".recipe.json")
    if path.exists() and sidecar.exists():
        try:
            if json.loads(sidecar.read_text()) == _canonical(recipe):
                log(f"[{label}] reusing {path}")
                return
        except ValueError:
            pass
    log(f"[{label}] training {path.name}")
    train_fn()
    record_recipe(path, recipe)


def cached_image(path: Path, recipe: dict[str, Any], make: Callable[[], tuple[Any, float]], label: str,
                 log: Log) -> tuple[Any, float]:
    """An optimisation result made once per recipe: (image (3, H, W) as saved, 8-bit, its seconds)."""
    from texnet.images import load_image, save_image

    sidecar = path.with_name(path.name + ".recipe.json")
    wanted = _canonical(recipe)
    if path.exists() and sidecar.exists():
        try:
            saved = json.loads(sidecar.read_text())
            if saved.get("recipe") == wanted:
                log(f"[{label}] reusing {path}")
                return load_image(path), saved["seconds"]
        except (ValueError, KeyError):
            pass
    log(f"[{label}] computing {path.name}")
    image, seconds = make()
    save_image(image, path)
    with atomic_path(sidecar) as tmp:
        tmp.write_text(json.dumps({"recipe": wanted, "seconds": seconds}, sort_keys=True, indent=1))
    return load_image(path), seconds


BUDGET_ARM = re.compile(r"(\d+(?:\.\d+)?)min")  # "5min": the standard preset's recipe on a 5-minute budget


def arm(preset: str, kind: str) -> Any:
    """The preset (texnet.presets.Preset) behind a bench arm: a preset's name, or NUMBERmin for a budget."""
    from texnet import presets

    table = presets.TEXTURE if kind == "texture" else presets.STYLE
    match = BUDGET_ARM.fullmatch(preset)
    if match:
        base = table["standard"]
        return presets.Preset(base.train.with_overrides(minutes=float(match.group(1))), base.settings,
                              f"{match.group(1)} minutes")
    return table[preset]


def known_arm(preset: str, kind: str) -> bool:
    """A preset the bench can train (or, for stylization, `zoo`: the zoo's model of each painting)."""
    from texnet import presets

    if kind == "style" and preset == "zoo":
        return True
    return preset in (presets.TEXTURE if kind == "texture" else presets.STYLE) or bool(BUDGET_ARM.fullmatch(preset))


def train_config(preset: str, kind: str, cfg: BenchConfig) -> tuple[TrainConfig, dict]:
    """A preset's training as the bench runs it (no previews, on the bench's device), and its settings."""
    chosen = arm(preset, kind)
    train = cfg.train_override or chosen.train
    return replace(train, preview_every=0, checkpoint_every=200, device=str(resolve_device(cfg.device))), \
        chosen.settings


# Fields newer than the committed models and references, left out of a recipe while at these values, so that
# what was made before they existed is still reused.
NEWER_FIELDS = {"loss_options": {}}
NEWER_GENERATOR_FIELDS = {"edge_kernel": 9, "head": 0}


def config_record(config: Any) -> dict[str, Any]:
    """A TextureConfig or StyleConfig for a recipe (see NEWER_FIELDS)."""
    record = asdict(config)
    for key, default in NEWER_FIELDS.items():
        if key in record and record[key] == default:
            del record[key]
    generator = record.get("generator", {})
    for key, default in NEWER_GENERATOR_FIELDS.items():
        if key in generator and generator[key] == default:
            del generator[key]
    return record


def texture_recipe(name: str, preset: str, cfg: BenchConfig, out: Path) -> tuple[Path, dict, Callable[[], Any]]:
    """Where the bench keeps the preset's model for an exemplar, its recipe, and how to train it."""
    from texnet import presets
    from texnet.images import load_exemplar
    from texnet.texture import TextureConfig, train_texture

    train, settings = train_config(preset, "texture", cfg)
    tcfg = presets.apply(TextureConfig(), settings, {})
    path = out / "models" / f"{preset}_{Path(name).stem}.texnet"
    _, info = load_exemplar(name)
    recipe = {"exemplar": info, "train": asdict(train), "texture": config_record(tcfg)}
    return path, recipe, lambda: train_texture(name, path, train, tcfg, progress=False, log=lambda *a: None)


def style_recipe(style: str, preset: str, cfg: BenchConfig, out: Path) -> tuple[Path, dict, Callable[[], Any]]:
    """The same for a painting's style model."""
    from texnet import presets
    from texnet.images import load_exemplar
    from texnet.style import StyleConfig, train_style

    train, settings = train_config(preset, "style", cfg)
    scfg = presets.apply(StyleConfig(), settings, {})
    path = out / "models" / f"style_{preset}_{Path(style).stem}.texnet"
    _, info = load_exemplar(style, scfg.style_size)
    recipe = {"style": info, "train": asdict(train), "style_cfg": config_record(scfg)}
    return path, recipe, lambda: train_style(style, path, None, train, scfg, progress=False, log=lambda *a: None)


def texture_model(name: str, preset: str, cfg: BenchConfig, out: Path, log: Log) -> Path:
    path, recipe, train = texture_recipe(name, preset, cfg, out)
    ensure_model(path, recipe, train, f"{name}, {preset}", log)
    return path


def style_model(style: str, preset: str, cfg: BenchConfig, out: Path, log: Log) -> Path:
    path, recipe, train = style_recipe(style, preset, cfg, out)
    ensure_model(path, recipe, train, f"style {Path(style).stem}, {preset}", log)
    return path
