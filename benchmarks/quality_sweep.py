"""Controlled texture-quality runs: vary one factor at a time, measure against real crops and optimisation.

    python benchmarks/quality_sweep.py                 # every arm on every exemplar (hours on 2 cores)
    python benchmarks/quality_sweep.py --arms base swd --exemplars gravel brick
    python benchmarks/quality_sweep.py --table         # only rewrite the table from the saved results

For each (arm, exemplar) it trains a generator with texnet's API, samples 4 textures at
256x256 (seeds 1-4) and measures them with texnet.quality against the whole exemplar,
next to real 256 px crops of the exemplar (the floor) and the optimisation baseline
(L-BFGS, 500 evaluations, Gram loss: Gatys et al.). Results are appended to
benchmarks/quality/sweep.jsonl as each run finishes (finished runs are skipped when the
script is run again), then benchmarks/quality/sweep.md is rewritten and a contact sheet
per run goes to benchmarks/quality/sheets/. Models stay in benchmarks/quality/models/
(not committed). Run it alone: timings are part of the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import Results, mean  # noqa: E402

ROOT = Path(__file__).resolve().parent / "quality"
EXEMPLARS = ("brick", "gravel", "ihc", "coins")
SIZE = 256  # sample and crop size of every measurement
SEEDS = (1, 2, 3, 4)

# The base is the quick preset's shape at a ~4-minute budget; each arm changes one thing.
BASE_TRAIN = dict(size=128, batch_size=2, iterations=800, lr=0.05, lr_decay=0.7, lr_decay_start=400,
                  lr_decay_every=80, preview_every=0, checkpoint_every=0, seed=0)
BASE_TEXTURE: dict = dict(loss="gram", weighting="relative", precision="bf16")
QUICK = {"iterations": 400, "lr_decay_start": 200, "lr_decay_every": 40}  # the quick preset's schedule
NO_RELU5 = ("pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1")
ARMS: dict[str, tuple[str, dict, dict]] = {
    # name: (factor, train overrides, texture overrides; "generator" holds GeneratorConfig overrides).
    # Stage 1 changes one thing in today's quick recipe (Gram loss, per-layer relative weights);
    # stage 2 changes one thing in the sliced-Wasserstein recipe that stage 1 found best ("swd").
    "base": ("-", {}, {}),
    "swd": ("loss", {}, {"loss": "swd"}),
    "floor-weights": ("layer weighting", {}, {"weighting": "floor"}),
    "paper-weights": ("layer weighting", {}, {"weighting": "paper"}),
    "size192-b1": ("size/batch at equal compute", {"size": 192, "batch_size": 1, "iterations": 720,
                                                   "lr_decay_start": 360, "lr_decay_every": 72}, {}),
    "iter1600": ("iterations", {"iterations": 1600, "lr_decay_start": 800, "lr_decay_every": 160}, {}),
    "instance": ("norm", {}, {"generator": {"norm": "instance"}}),
    "diversity": ("diversity term", {}, {"diversity": 0.1}),
    "instance-diversity": ("norm + diversity", {}, {"diversity": 0.1, "generator": {"norm": "instance"}}),
    "ch16": ("generator width", {}, {"generator": {"channels": 16}}),
    "maxpool": ("descriptor pooling", {}, {"pooling": "max"}),
    "exemplar-half": ("exemplar scale", {}, {"exemplar_size": 256}),
    "seed1": ("run-to-run noise", {"seed": 1}, {}),
    "fp32": ("descriptor precision", {}, {"precision": "fp32"}),
    "swd-floor": ("swd + floor weighting", {}, {"loss": "swd", "weighting": "floor"}),
    "swd-iter400": ("stage 2: iterations", QUICK, {"loss": "swd"}),
    "swd-iter1600": ("stage 2: iterations", {"iterations": 1600, "lr_decay_start": 800, "lr_decay_every": 160},
                     {"loss": "swd"}),
    "swd-size192-b1": ("stage 2: size/batch at equal compute", {"size": 192, "batch_size": 1, "iterations": 720,
                                                                "lr_decay_start": 360, "lr_decay_every": 72},
                       {"loss": "swd"}),
    "swd-instance": ("stage 2: norm", {}, {"loss": "swd", "generator": {"norm": "instance"}}),
    "swd-ch16": ("stage 2: generator width", {}, {"loss": "swd", "generator": {"channels": 16}}),
    # Real crops of gravel at 128 px score 40x more on relu5_1 than on relu2_1 (relative swd): with relative
    # weights, relu5_1's noise floor dominates the loss. Stage 2b: the quick recipe without it.
    "swd-no5": ("stage 2: layers (no relu5_1)", QUICK, {"loss": "swd", "layers": NO_RELU5}),
    # Improved Texture Networks on the quick recipe: instance norm, the diversity term, both
    "quick-instance": ("stage 2: norm (Improved TN)", QUICK, {"loss": "swd", "generator": {"norm": "instance"}}),
    "quick-diversity": ("stage 2: diversity term (Improved TN)", QUICK, {"loss": "swd", "diversity": 0.1}),
    "quick-instance-diversity": ("stage 2: both (Improved TN)", QUICK,
                                 {"loss": "swd", "diversity": 0.1, "generator": {"norm": "instance"}}),
    # stage 3: a 'standard' candidate (about 25 minutes): train at the measuring size
    "swd-256-b1-1300": ("stage 3: standard candidate", {"size": 256, "batch_size": 1, "iterations": 1300,
                                                        "lr_decay_start": 650, "lr_decay_every": 130},
                        {"loss": "swd"}),
    # stage 3b: the sliced-Wasserstein estimate itself, at quick compute (compare with swd-iter400): the exemplar's
    # exact quantiles instead of a random resample of it, and 4x the random directions (less gradient noise)
    "quick-quantiles": ("stage 3b: swd target quantiles", QUICK, {"loss": "swd", "loss_options": {"quantiles": True}}),
    "quick-proj4": ("stage 3b: swd 4x directions", QUICK, {"loss": "swd", "loss_options": {"projections": 4}}),
    # stage 3c: generator and optimiser, one change each to the quick recipe (compare with swd-iter400)
    "quick-lr0.1": ("stage 3c: lr 0.1 (paper)", {**QUICK, "lr": 0.1}, {"loss": "swd"}),
    "quick-k6": ("stage 3c: 6 noise scales", QUICK, {"loss": "swd", "generator": {"scales": 6}}),
    "quick-relu": ("stage 3c: ReLU (paper text)", QUICK, {"loss": "swd", "generator": {"activation": "relu"}}),
    "swd-iter400-rerun": ("control: swd-iter400 again, today's code", QUICK, {"loss": "swd"}),
    # stage 4: beyond standard's 30 minutes, for the zoo's exemplars that standard leaves short of the gate
    # (grass 1.72x): does 2.5x the compute (batch 2, 1600 iterations at 256 px, about 70 minutes) close it?
    "swd-256-b2-1600": ("stage 4: 2.5x standard's compute", {"size": 256, "batch_size": 2, "iterations": 1600,
                                                             "lr_decay_start": 800, "lr_decay_every": 160},
                        {"loss": "swd"}),
    # stage 5: a generator trained with batch 1 normalises each sample by its own statistics, and now samples
    # that way too (texnet.generators.trained_per_sample; docs/quality.md). Rows of batch-1 arms
    # measured before that (swd-256-b1-1300) sampled with running averages. The quick recipe at batch 1, the
    # same pixels per run (twice the iterations):
    "quick-b1": ("stage 5: batch 1 (per-sample statistics), quick's pixels",
                 {**QUICK, "batch_size": 1, "iterations": 800, "lr_decay_start": 400, "lr_decay_every": 80},
                 {"loss": "swd"}),
    # ... and the standard recipe with the floor weighting (each layer over what real 256 px crops score), which
    # gave the lowest gravel distance at quick compute (swd-floor), now sampled with its own statistics
    "standard-floor": ("stage 5: standard recipe + floor weighting", {"size": 256, "batch_size": 1, "iterations": 1300,
                                                                     "lr_decay_start": 650, "lr_decay_every": 130},
                       {"loss": "swd", "weighting": "floor"}),
}


def texture_config(overrides: dict):
    from texnet.generators import GeneratorConfig
    from texnet.texture import TextureConfig

    values = {**BASE_TEXTURE, **overrides}
    generator = GeneratorConfig(**{"scales": 5, **values.pop("generator", {})})
    return TextureConfig(generator=generator, **values)


def results() -> Results:
    return Results(ROOT / "sweep.jsonl", "exemplar")


def run_key(arm: str, exemplar: str) -> str:
    return results().key(arm, exemplar)


def load_results() -> dict[str, dict]:
    return results().load()


def references(exemplar: str, descriptor, log, exemplar_size: int | None = None) -> dict:
    """The floor (real crops) and the optimisation result for one exemplar at one scale, cached on disk."""
    from texnet.images import load_exemplar, load_image, save_image
    from texnet.optimize import OptimizeConfig, optimize_texture
    from texnet.quality import QualityMeter, exemplar_crops
    from texnet.texture import TextureConfig

    image, _ = load_exemplar(exemplar, exemplar_size)
    meter = QualityMeter(descriptor, image)
    crops = exemplar_crops(image[0], SIZE)
    tag = f"{exemplar}{'' if exemplar_size is None else f'_{exemplar_size}px'}"
    opt_path = ROOT / "references" / f"{tag}_opt_gram.png"
    if not opt_path.exists():
        log(f"[{exemplar}] optimisation baseline (L-BFGS, 500 evaluations, gram)")
        opt, trace = optimize_texture(exemplar, SIZE, SIZE, OptimizeConfig(iterations=500, device="cpu"),
                                      TextureConfig(precision="fp32", exemplar_size=exemplar_size), progress=False,
                                      log=lambda *a: None)
        save_image(opt, opt_path)
        (ROOT / "references" / f"{tag}_opt_gram.json").write_text(json.dumps({"seconds": trace.seconds[-1]}))
    opt = load_image(opt_path)[None]
    return {"meter": meter, "crops": crops, "opt": opt, "exemplar": image,
            "crop_metrics": meter.summary(crops) if crops is not None else None,
            "opt_metrics": meter.summary(opt)}


def run_arm(arm: str, exemplar: str, refs: dict, log) -> dict:
    from texnet.quality import contact_sheet
    from texnet.texture import load_texture_model, train_texture
    from texnet.train import TrainConfig

    factor, train_over, texture_over = ARMS[arm]
    train = TrainConfig(**{**BASE_TRAIN, **train_over, "device": "cpu"})
    cfg = texture_config(texture_over)
    model = ROOT / "models" / f"{arm}_{exemplar}.texnet"
    log(f"[{arm}/{exemplar}] training: {train.iterations} it, {train.batch_size}x{train.size}px, "
        f"{cfg.loss}/{cfg.weighting}")
    started = time.perf_counter()
    _, history = train_texture(exemplar, model, train, cfg, progress=False, log=lambda *a: None)
    seconds = time.perf_counter() - started
    generator, _ = load_texture_model(model)
    samples = torch.cat([generator.sample(SIZE, SIZE, seed=s) for s in SEEDS])
    metrics = refs["meter"].summary(samples)
    row = {"arm": arm, "factor": factor, "exemplar": exemplar, "train": {**BASE_TRAIN, **train_over},
           "texture": {**BASE_TEXTURE, **texture_over}, "train_seconds": round(seconds, 1),
           "final_loss": history.final(), "gen": metrics, "opt": refs["opt_metrics"], "crops": refs["crop_metrics"],
           "date": time.strftime("%Y-%m-%d %H:%M")}
    crop = refs["crops"][0] if refs["crops"] is not None else refs["exemplar"][0]
    sheet = contact_sheet([("exemplar crop", crop)] + [(f"{arm} seed {s}", x) for s, x in zip(SEEDS[:3], samples)]
                          + [("optimisation", refs["opt"])])
    (ROOT / "sheets").mkdir(parents=True, exist_ok=True)
    sheet.save(ROOT / "sheets" / f"{arm}_{exemplar}.jpg", quality=88)
    results().append(row)
    log(f"[{arm}/{exemplar}] {seconds:.0f} s; swd {metrics['swd']:.3f} (opt {refs['opt_metrics']['swd']:.3f}, "
        f"crops {refs['crop_metrics']['swd'] if refs['crop_metrics'] else float('nan'):.3f}); "
        f"gram {metrics['gram']:.3f}; color {metrics['color']:.4f}")
    return row


def table(results: dict[str, dict]) -> str:
    """Markdown: one row per arm, each exemplar's swd as a ratio to optimisation, plus means."""
    arms = [a for a in ARMS if any(k.startswith(a + "/") for k in results)]
    extra = sorted({k.split("/", 1)[1] for k in results} - set(EXEMPLARS))  # run with --exemplars
    exemplars = [e for e in (*EXEMPLARS, *extra) if any(k.endswith("/" + e) for k in results)]
    lines = ["Distances are measured at 256 px against the whole exemplar (texnet.quality). "
             "Each cell: generator's sliced Wasserstein distance / the optimisation result's (L-BFGS-500, gram); "
             "below 1 is better than optimisation. `crops` is the same ratio for real 256 px crops of the exemplar "
             "(the floor). `gram`, `color`: means over exemplars of the same ratios. `shift sim`: mean "
             "best-shift correlation between seeds (crops in the header). `s`: mean training seconds.", "",
             "| arm | factor | " + " | ".join(exemplars) + " | mean swd ratio | gram ratio | color ratio | shift sim | s |",
             "|---|---|" + "---|" * (len(exemplars) + 5)]
    floor = []
    for e in exemplars:
        r = next((v for k, v in results.items() if k.endswith("/" + e)), None)
        floor.append(f"{r['crops']['swd'] / r['opt']['swd']:.2f}" if r and r["crops"] else "-")
    sims = [v["crops"]["shift_similarity"] for v in results.values() if v["crops"]]
    lines.append("| crops (floor) | real texture | " + " | ".join(floor) + " | | | | "
                 + (f"{statistics.mean(sims):.2f}" if sims else "-") + " | |")
    for arm in arms:
        cells, swd, gram, color, sim, secs = [], [], [], [], [], []
        for e in exemplars:
            r = results.get(run_key(arm, e))
            if r is None:
                cells.append("-")
                continue
            ratio = r["gen"]["swd"] / r["opt"]["swd"]
            cells.append(f"{ratio:.2f}")
            swd.append(ratio)
            gram.append(r["gen"]["gram"] / r["opt"]["gram"])
            color.append(r["gen"]["color"] / r["opt"]["color"])
            sim.append(r["gen"].get("shift_similarity"))
            secs.append(r["train_seconds"])
        lines.append(f"| {arm} | {ARMS[arm][0]} | " + " | ".join(cells) + f" | {mean(swd)} | {mean(gram)} | "
                     f"{mean(color)} | {mean([s for s in sim if s is not None])} | {mean(secs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--exemplars", nargs="*", default=list(EXEMPLARS))
    parser.add_argument("--table", action="store_true", help="only rewrite sweep.md from sweep.jsonl")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    if not args.table:
        from texnet.descriptor import load_descriptor
        from texnet.losses import DEFAULT_TEXTURE_LAYERS

        descriptor, _ = load_descriptor("auto", DEFAULT_TEXTURE_LAYERS, "avg", "cpu", "fp32")
        done = load_results()
        refs: dict = {}
        for arm in args.arms:  # arm by arm, so the most telling comparisons are complete first
            for exemplar in args.exemplars:
                if run_key(arm, exemplar) in done:
                    continue
                key = (exemplar, ARMS[arm][2].get("exemplar_size"))
                if key not in refs:
                    refs[key] = references(exemplar, descriptor, log, key[1])
                run_arm(arm, exemplar, refs[key], log)
                (ROOT / "sweep.md").write_text(table(load_results()))
    (ROOT / "sweep.md").write_text(table(load_results()))
    print((ROOT / "sweep.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
