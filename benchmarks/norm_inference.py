"""Which normalisation should a trained texture generator sample with? Measured on the bench's models.

    python benchmarks/norm_inference.py                 # every texture model in benchmarks/results/models
    python benchmarks/norm_inference.py --large 1024    # also whole 1024 px samples of the standard models
    python benchmarks/norm_inference.py --timing src/texnet/zoo/brick.texnet   # what instance norm costs

A batch-norm generator trained with batch 1 (the `standard` preset) normalised each sample by its
own statistics in training; eval mode uses running averages instead. For each model this
measures, with the bench's meter and seeds (texnet.quality, at the bench's size):

* running: eval-mode batch norm (texnet before this measurement);
* own: every norm on the sample's own statistics (instance norm: what texnet now does for batch-1 models;
  for the batch-2 quick models it is not their training's computation, measured for comparison);
* at --large px: the same two, and instance norm with statistics from a 512 px sample of the same seed
  (texnet's strips path before; now it takes them from up to 1024 px, the whole image at that size).

Ratios are over the Gram optimisation's distance from the bench (benchmarks/results/bench.json).
Writes benchmarks/results/norm_inference.json. `--timing MODEL` instead times PyTorch sampling of one
batch-1 model both ways (the inference form: batch norm folds into the convolutions, instance norm
cannot) and writes benchmarks/results/norm_timing.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "benchmarks" / "results" / "models"
OUT = ROOT / "benchmarks" / "results" / "norm_inference.json"
SEEDS = (1, 2, 3, 4)


def reference_distances() -> dict[str, dict]:
    bench = json.loads((ROOT / "benchmarks" / "results" / "bench.json").read_text())
    return {row["exemplar"]: row for row in bench["sections"]["quality"]["data"]}


def measure(path: Path, row: dict, large: int | None, descriptor) -> dict:
    from texnet.generators import batch_norm_to_instance, record_statistics, use_statistics
    from texnet.images import load_exemplar
    from texnet.modelfile import load_model
    from texnet.quality import QualityMeter

    name = path.stem.split("_", 1)[1]
    exemplar, _ = load_exemplar(name)
    meter = QualityMeter(descriptor, exemplar)
    q = row["size"]
    opt = row["opt"]["gram"]["swd"]
    running, meta = load_model(path, running_stats=True)
    own = batch_norm_to_instance(copy.deepcopy(running)).eval()
    out = {"model": path.name, "exemplar": name, "batch_size": meta["training"]["batch_size"], "size": q,
           "opt_swd": opt, "crops_swd": (row["crops"] or {}).get("swd")}

    def swd(images: torch.Tensor) -> float:
        return meter.summary(images)["swd"]

    with torch.inference_mode():
        for label, g in (("running", running), ("own", own)):
            out[label] = swd(torch.cat([g.sample(q, q, seed=s) for s in SEEDS]))
            out[f"{label}_ratio"] = out[label] / opt
        if large:
            seeds = SEEDS[:2]
            whole = large * large
            out["large"] = {"size": large,
                            "running": swd(torch.cat([running.sample(large, large, seed=s) for s in seeds])),
                            "own": swd(torch.cat([own.sample(large, large, seed=s, max_pixels_at_once=whole)
                                                  for s in seeds]))}
            stand_in = []
            for s in seeds:
                ref = own.seeded_noise(s, 1, 512, 512)
                with use_statistics(own, record_statistics(own, ref, None)):
                    stand_in.append(own.forward_strips(own.seeded_noise(s, 1, large, large), 256).clamp(0, 1))
            out["large"]["stand_in_512"] = swd(torch.cat(stand_in))
    return out


def timing(path: Path, sizes: tuple[int, ...] = (256, 1024), repeats: int = 5) -> None:
    from texnet.modelfile import load_model

    out = {"model": str(path), "repeats": repeats, "rows": []}
    forms = {"running (batch norm folded)": load_model(path, inference=True, running_stats=True)[0],
             "own (instance norm)": load_model(path, inference=True)[0]}
    for size in sizes:
        for label, g in forms.items():
            g.sample(size, size, seed=0)  # warm-up
            times = []
            for r in range(repeats):
                t = time.perf_counter()
                g.sample(size, size, seed=r)
                times.append(time.perf_counter() - t)
            ms = 1000 * sorted(times)[repeats // 2]
            out["rows"].append({"size": size, "form": label, "median_ms": round(ms, 1)})
            print(f"{size} px, {label}: {ms:.0f} ms (median of {repeats})", flush=True)
    target = OUT.with_name("norm_timing.json")
    target.write_text(json.dumps(out, indent=1))
    print(f"wrote {target.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="texture models (default: the bench's)")
    parser.add_argument("--large", type=int, default=None, help="also measure whole samples of this size "
                        "(standard models only)")
    parser.add_argument("--timing", type=Path, default=None, metavar="MODEL",
                        help="time sampling MODEL (a batch-1 model) both ways instead")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.timing:
        timing(args.timing)
        return
    from texnet.descriptor import load_descriptor
    from texnet.losses import DEFAULT_TEXTURE_LAYERS

    torch.set_num_threads(2)
    descriptor, _ = load_descriptor("auto", DEFAULT_TEXTURE_LAYERS, "avg", torch.device("cpu"), "fp32")
    refs = reference_distances()
    paths = args.models or sorted(p for p in MODELS.glob("*.texnet") if not p.name.startswith("style_"))
    rows = []
    start = time.perf_counter()
    print("| model | batch | px | crops / opt | running / opt | own statistics / opt |"
          + (f" {args.large} px: running / own / 512 px stand-in (swd) |" if args.large else ""))
    print("|---|---|---|---|---|---|" + ("---|" if args.large else ""))
    for path in paths:
        name = path.stem.split("_", 1)[1]
        if name not in refs:
            continue
        large = args.large if path.name.startswith("standard_") else None
        r = measure(path, refs[name], large, descriptor)
        rows.append(r)
        crops = f"{r['crops_swd'] / r['opt_swd']:.2f}" if r["crops_swd"] else "-"
        line = (f"| {r['model']} | {r['batch_size']} | {r['size']} | {crops} | {r['running_ratio']:.2f} | "
                f"{r['own_ratio']:.2f} |")
        if args.large:
            big = r.get("large")
            line += (f" {big['running']:.4f} / {big['own']:.4f} / {big['stand_in_512']:.4f} |" if big else " - |")
        print(line, flush=True)
        OUT.write_text(json.dumps({"seconds": round(time.perf_counter() - start), "rows": rows}, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
