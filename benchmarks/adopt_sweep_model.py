"""Let the bench reuse a sweep's model when the sweep trained exactly the preset the bench would.

    python benchmarks/adopt_sweep_model.py texture standard gravel benchmarks/quality/models/swd-256-b1-1300_gravel.texnet
    python benchmarks/adopt_sweep_model.py style standard ../shared/images/styles/starry_night.jpg \\
        benchmarks/style/models/standard-alpha1.5_starry_night.texnet

Training a `standard` model takes 20-30 minutes on 2 cores; the sweeps that chose the presets
already trained some. The model's recorded training (schedule, seed, loss, layers, weights,
generator, exemplar size) is compared field by field with the preset; only when all agree is it
copied into benchmarks/results/models/ with the recipe the bench checks, so the bench reuses it
as if it had trained it. Its training seconds stay the ones it recorded.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from texnet import bench, presets
from texnet.bench import BenchConfig
from texnet.modelfile import read_metadata
from texnet.style import StyleConfig
from texnet.texture import TextureConfig

RESULTS = Path(__file__).resolve().parent / "results"
SCHEDULE = ("size", "batch_size", "iterations", "lr", "lr_decay", "lr_decay_start", "lr_decay_every", "seed")


def differences(kind: str, preset: str, meta: dict) -> list[str]:
    """Fields where the model's recorded training differs from the preset's."""
    chosen = (presets.TEXTURE if kind == "texture" else presets.STYLE)[preset]
    cfg = presets.apply(TextureConfig() if kind == "texture" else StyleConfig(), chosen.settings, {})
    out = [f"training.{k}" for k in SCHEDULE if meta["training"][k] != getattr(chosen.train, k)]
    loss = meta["loss"]
    wanted = {"kind": cfg.loss, "weighting": cfg.weighting, "tv_weight": cfg.tv_weight,
              "layers": list(cfg.style_layers if kind == "style" else cfg.layers)}
    if kind == "style":
        wanted |= {"content_weight": cfg.content_weight, "content_layers": list(cfg.content_layers)}
    else:
        wanted |= {"diversity": cfg.diversity}
    out += [f"loss.{k}" for k, v in wanted.items() if loss.get(k) != v]
    if any(w != 1.0 for w in loss.get("layer_weights", {}).values()) or cfg.layer_weights:
        out.append("loss.layer_weights")
    generator = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg.generator).items()}
    out += [f"generator.{k}" for k, v in generator.items()
            if k != "grayscale" and meta["generator"].get(k) != v]  # grayscale follows the exemplar (auto)
    if kind == "style" and max(meta["style"]["used_size"]) != cfg.style_size:
        out.append("style_size")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("texture", "style"))
    parser.add_argument("preset", choices=tuple(presets.TEXTURE))
    parser.add_argument("exemplar", help="the exemplar or painting as the bench names it")
    parser.add_argument("model", type=Path)
    args = parser.parse_args(argv)
    meta = read_metadata(args.model)
    wrong = differences(args.kind, args.preset, meta)
    if wrong:
        print(f"not adopted: {args.model} differs from the {args.preset} preset in {', '.join(wrong)}", file=sys.stderr)
        return 1

    recipe_of = bench.texture_recipe if args.kind == "texture" else bench.style_recipe
    path, recipe, _ = recipe_of(args.exemplar, args.preset, BenchConfig(device="cpu"), RESULTS)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.model, path)
    bench.record_recipe(path, recipe)  # in place of training: the bench now reuses this model
    print(f"adopted {args.model} as {path} ({meta['training']['seconds']:.0f} s of training recorded)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
