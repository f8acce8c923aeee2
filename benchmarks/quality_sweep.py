"""Controlled texture runs on a time budget: vary one factor of the budget recipe, measure as the bench does.

    python benchmarks/quality_sweep.py --arms base lr0.1 --exemplars brick slicedw-12
    python benchmarks/quality_sweep.py --minutes 1 --arms pos16k    # the presets' recipe, all 25 exemplars
    python benchmarks/quality_sweep.py --exemplars factor           # the 8-exemplar subset for factor arms
    python benchmarks/quality_sweep.py --minutes 10 --arms base     # the same arms on another budget
    python benchmarks/quality_sweep.py --table                      # only rewrite the table and the chart
    python benchmarks/quality_sweep.py --time-optimisation brick    # time the optimisation here, for the chart

Each (arm, budget, exemplar) trains with texnet's API on a wall-clock budget (the arm's recipe:
the budget presets' settings with one factor changed; `base` and `control` are the presets before
they compared a subset of positions, `pos16k` the presets since), samples 4 textures (seeds 1-4) at the
bench's measuring size and measures them exactly as `texnet bench --sections quality` does
(texnet.bench.quality.reference: the same meter, real crops and cached optimisation references
in benchmarks/results/quality/). Rows are appended to benchmarks/quality/budget_sweep.jsonl as
each run finishes (a rerun skips finished runs), benchmarks/quality/budget_sweep.md is rewritten,
and a contact sheet per run goes to benchmarks/quality/sheets/. Run it alone: the budget is wall
time, so anything else running makes every arm worse.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import Results  # noqa: E402
from texnet.losses import PAPER_TEXTURE_LAYERS  # noqa: E402

ROOT = Path(__file__).resolve().parent / "quality"
RESULTS = Path(__file__).resolve().parent / "results"  # the bench's references
OPT_TIME = ROOT / "optimisation_time.json"  # the optimisation timed on the machine that ran the budgets
SEEDS = (1, 2, 3, 4)
CHART_ARM = "pos16k"  # the README's chart: the presets' recipe
# A subset of the wide set with regular patterns, natural textures and large structures, for factor arms
# (`--exemplars factor`); without --exemplars the sweep runs the bench's whole wide set.
FACTOR_EXEMPLARS = ("brick", "gravel", "dcor-texture12", "dcor-texture25", "dcor-texture43", "slicedw-12", "slicedw-37",
             "slicedw-9")
NO_RELU5 = ("pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1")
ARMS: dict[str, tuple[str, dict, dict]] = {
    # name: (factor, train overrides, texture overrides; "generator" holds GeneratorConfig overrides)
    # base: the budget presets until 2026-12-07, which compared every position (the chart's recipe); the other
    # arms change one factor of the presets of their row's date (pos16k is the presets since)
    "base": ("-", {}, {"loss_options": {}}),
    # the budget is wall time: arms run on another day's machine are compared with this rerun of base there
    "control": ("control: base again, on the machine of the arms beside it", {}, {"loss_options": {}}),
    "fixed-256": ("no stages: 256 px x1 throughout", {"stages": ((256, 1, 1.0),)}, {}),
    "late-fine": ("stages: more time coarse", {"stages": ((64, 4, 0.35), (128, 2, 0.35), (256, 1, 0.3))}, {}),
    "early-fine": ("stages: more time fine", {"stages": ((64, 4, 0.1), (128, 2, 0.2), (256, 1, 0.7))}, {}),
    "batch-up": ("stages: larger batches", {"stages": ((64, 8, 0.2), (128, 4, 0.3), (256, 2, 0.5))}, {}),
    "lr0.1": ("learning rate", {"lr": 0.1}, {}),
    "lr0.02": ("learning rate", {"lr": 0.02}, {}),
    "relative": ("layer weighting", {}, {"weighting": "relative"}),
    "no-relu5": ("loss layers", {}, {"layers": NO_RELU5}),
    "gram": ("loss", {}, {"loss": "gram", "weighting": "relative"}),
    "ch16": ("generator width", {}, {"generator": {"channels": 16}}),
    "k6": ("noise scales", {}, {"generator": {"scales": 6}}),
    "exemplar-256": ("exemplar scale", {}, {"exemplar_size": 256}),
    # cheaper iterations: fewer sorted values per call, or no relu5_1 (the descriptor's last three convolutions)
    "pos16k": ("SWD positions per call", {}, {"loss_options": {"positions": 16384}}),
    "pos8k": ("SWD positions per call", {}, {"loss_options": {"positions": 8192}}),
    "pos16k-no-relu5": ("SWD positions per call, loss layers", {}, {"loss_options": {"positions": 16384},
                                                                    "layers": NO_RELU5}),
    # colour handling: the pixels' own statistics are what pins the exemplar's colours (texnet.losses)
    "no-pixels": ("colour: no pixel statistics", {}, {"layers": PAPER_TEXTURE_LAYERS}),
    "pixels4": ("colour: pixel statistics weighted 4x", {}, {"layer_weights": {"pixels": 4.0}}),
}


def arm_settings(arm: str) -> dict:
    """The texture settings of an arm: the budget presets' with the arm's overrides (generator keys merged)."""
    from texnet import presets

    over = ARMS[arm][2]
    return {**presets.BUDGET_TEXTURE, **over,
            "generator": {**presets.BUDGET_TEXTURE.get("generator", {}), **over.get("generator", {})}}


def results() -> Results:
    return Results(ROOT / "budget_sweep.jsonl", "exemplar")


def arm_key(arm: str, minutes: float) -> str:
    return f"{arm}@{minutes:g}min"


def run(arm: str, minutes: float, label: str, name: str, log) -> dict:
    from dataclasses import replace

    from texnet import presets
    from texnet.bench import BenchConfig
    from texnet.bench.harness import machine
    from texnet.bench.quality import reference
    from texnet.modelfile import read_metadata
    from texnet.quality import contact_sheet, ratios
    from texnet.texture import TextureConfig, load_texture_model, train_texture

    factor, train_over, _ = ARMS[arm]
    standard = presets.TEXTURE["standard"]
    train = replace(standard.train.with_overrides(minutes=minutes), preview_every=0, device="cpu", **train_over)
    cfg = presets.apply(TextureConfig(), arm_settings(arm), {})
    ref = reference(label, name, BenchConfig(), RESULTS, log)
    model = ROOT / "models" / f"{arm_key(arm, minutes)}_{label}.texnet"
    done = read_metadata(model).get("training", {}) if model.exists() else {}
    if done.get("complete"):  # trained by a run that stopped before measuring: measure that model
        log(f"[{arm_key(arm, minutes)}/{label}] measuring the finished model {model.name}")
        seconds, final_loss = done["seconds"], done["final_loss"]
    else:
        log(f"[{arm_key(arm, minutes)}/{label}] training")
        started = time.perf_counter()
        _, history = train_texture(name, model, train, cfg, progress=False, log=lambda *a: None)
        seconds, final_loss = time.perf_counter() - started, history.final()
    generator, meta = load_texture_model(model, inference=True)
    samples = torch.cat([generator.sample(ref.size, ref.size, seed=s) for s in SEEDS])
    metrics = ref.meter.summary(samples)
    opt = ref.opt_metrics["gram"]
    row = {"arm": arm_key(arm, minutes), "base_arm": arm, "minutes": minutes, "factor": factor, "exemplar": label,
           "size": ref.size, "train_seconds": round(seconds, 1), "iterations": meta["training"]["iterations_done"],
           "final_loss": final_loss, "gen": {**metrics, **ratios(metrics, opt)}, "opt": opt,
           "crops": ref.crop_metrics, "date": time.strftime("%Y-%m-%d %H:%M"),
           "cpu": machine()["cpu"]}
    floor = ref.crops[0] if ref.crops is not None else ref.image[0, :, :ref.size, :ref.size]
    sheet = contact_sheet([("exemplar crop", floor)] + [(f"{arm} seed {s}", x) for s, x in zip(SEEDS[:3], samples)]
                          + [("optimisation", ref.opt_images["gram"])])
    (ROOT / "sheets").mkdir(parents=True, exist_ok=True)
    sheet.save(ROOT / "sheets" / f"{arm_key(arm, minutes)}_{label}.jpg", quality=88)
    results().append(row)
    log(f"[{arm_key(arm, minutes)}/{label}] {seconds:.0f} s, {row['iterations']} iterations; swd / opt "
        f"{metrics['swd'] / opt['swd']:.2f} (crops {ref.crop_metrics['swd'] / opt['swd'] if ref.crop_metrics else 0:.2f}); "
        f"color {metrics['color']:.4f} (opt {opt['color']:.4f})")
    return row


def distance_ratio(row: dict) -> float:
    """The samples' distance to the exemplar over the Gram optimisation's: the number every table reports."""
    return row["gen"]["swd"] / row["opt"]["swd"]


def table(rows: dict[str, dict]) -> str:
    """Markdown: one row per arm and budget, each exemplar's distance over the optimisation's, median and worst;
    then the same runs summarised per arm and budget."""
    arms = list(dict.fromkeys(r["arm"] for r in rows.values()))
    exemplars = list(dict.fromkeys(r["exemplar"] for r in rows.values()))
    lines = ["Each cell: the samples' sliced Wasserstein distance to the exemplar over the Gram optimisation's "
             "(L-BFGS-500), as `texnet bench --sections quality` measures it; below 1 is better than the optimisation. "
             "`crops`: the same for real crops (the floor). `color`: median colour W1 over the optimisation's. "
             "`it`: median iterations the budget allowed.", "",
             "| arm | factor | " + " | ".join(exemplars) + " | median | worst | color | it |",
             "|---|---|" + "---|" * (len(exemplars) + 4)]
    floor = []
    for e in exemplars:
        r = next(v for v in rows.values() if v["exemplar"] == e)
        floor.append(f"{r['crops']['swd'] / r['opt']['swd']:.2f}" if r["crops"] else "-")
    lines.append("| crops (floor) | real texture | " + " | ".join(floor) + " | | | | |")
    for arm in arms:
        found = {r["exemplar"]: r for r in rows.values() if r["arm"] == arm}
        ratios = [distance_ratio(found[e]) for e in exemplars if e in found]
        cells = [f"{distance_ratio(found[e]):.2f}" if e in found else "-" for e in exemplars]
        colors = [found[e]["gen"]["color"] / max(found[e]["opt"]["color"], 1e-6) for e in found]
        lines.append(f"| {arm} | {next(iter(found.values()))['factor']} | " + " | ".join(cells)
                     + f" | {statistics.median(ratios):.2f} | {max(ratios):.2f} | {statistics.median(colors):.2f} | "
                     f"{statistics.median(r['iterations'] for r in found.values()):.0f} |")
    return "\n".join(lines) + "\n\nBy arm and budget, over the exemplars each ran:\n\n" + budget_table(rows)


def budget_table(rows: dict[str, dict], arms: list[str] | None = None) -> str:
    """Markdown: one row per arm and budget over the exemplars it ran, the median, worst and 3 worst distance over
    the optimisation's (the budget table of docs/quality.md: benchmarks/docs_tables.py puts it there)."""
    runs: dict[tuple[str, float], list[dict]] = {}
    for r in rows.values():
        if arms is None or r["base_arm"] in arms:
            runs.setdefault((r["base_arm"], r["minutes"]), []).append(r)
    order = arms or list(dict.fromkeys(arm for arm, _ in runs))
    lines = ["| arm | budget | exemplars | trained for (s) | iterations | distance / optimisation's: median | worst "
             "| 3 worst | at or under 1 | colour / optimisation's (median) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for arm, minutes in sorted(runs, key=lambda k: (order.index(k[0]), k[1])):
        found = runs[arm, minutes]
        ratio = {r["exemplar"]: distance_ratio(r) for r in found}
        worst = sorted(ratio.items(), key=lambda kv: -kv[1])[:3]
        seconds = [r["train_seconds"] for r in found]
        iterations = [r["iterations"] for r in found]
        colour = statistics.median(r["gen"]["color"] / max(r["opt"]["color"], 1e-6) for r in found)
        lines.append(f"| `{arm}` | {minutes:g} min | {len(found)} | {min(seconds):.1f}-{max(seconds):.1f} | "
                     f"{min(iterations)}-{max(iterations)} | {statistics.median(ratio.values()):.2f} | "
                     f"{max(ratio.values()):.2f} | " + ", ".join(f"{e} {v:.2f}" for e, v in worst)
                     + f" | {sum(v <= 1.0 for v in ratio.values())} | {colour:.2f} |")
    return "\n".join(lines) + "\n"


def chart(rows: dict[str, dict], arm: str = CHART_ARM) -> Path | None:
    """Quality against minutes for `arm` over every budget it ran on all its exemplars (the README's chart), with
    the optimisation's time on this machine when `--time-optimisation` measured it."""
    from texnet.bench.quality import minutes_chart

    by_exemplar: dict[str, dict] = {}
    for r in rows.values():
        if r["base_arm"] == arm:
            e = by_exemplar.setdefault(r["exemplar"], {"exemplar": r["exemplar"], "crops": r["crops"],
                                                       "opt": {"gram": r["opt"]}, "presets": {}})
            e["presets"][f"{r['minutes']:g}min"] = r["gen"]
    counts = collections.Counter(b for e in by_exemplar.values() for b in e["presets"])
    # a budget run on part of the exemplars would put a median of other exemplars on the same line: left out
    budgets = sorted((b for b, n in counts.items() if n == len(by_exemplar)), key=lambda b: float(b[:-3]))
    if len(budgets) < 2:
        return None
    timed = json.loads(OPT_TIME.read_text()) if OPT_TIME.exists() else None
    path = ROOT / "minutes.png"
    minutes_chart(list(by_exemplar.values()), budgets, path,
                  (timed["seconds"], f"{timed['exemplar']} at {timed['size']} px, {timed['cpu']}") if timed else None)
    return path


def time_optimisation(label: str, name: str, log) -> dict:
    """Run the bench's optimisation reference recipe once more, uncached, on this machine: the chart's mark."""
    from texnet.bench import BenchConfig
    from texnet.bench.harness import machine
    from texnet.bench.quality import reference
    from texnet.optimize import OptimizeConfig, optimize_texture
    from texnet.texture import TextureConfig

    ref = reference(label, name, BenchConfig(), RESULTS, log)
    log(f"[optimisation] {label} at {ref.size} px, L-BFGS {BenchConfig().opt_iterations} iterations")
    _, trace = optimize_texture(name, ref.size, ref.size, OptimizeConfig(iterations=BenchConfig().opt_iterations,
                                device="cpu"), TextureConfig(loss="gram", precision="fp32"), progress=False,
                                log=lambda *a: None)
    row = {"exemplar": label, "size": ref.size, "seconds": round(trace.seconds[-1], 1), "cpu": machine()["cpu"],
           "date": time.strftime("%Y-%m-%d %H:%M")}
    OPT_TIME.write_text(json.dumps(row, indent=1) + "\n")
    log(f"[optimisation] {row['seconds']} s")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="*", default=["base"], choices=list(ARMS))
    parser.add_argument("--exemplars", nargs="*",
                        help="exemplar names (default: the bench's wide set; 'factor': the 8-exemplar subset)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0])
    parser.add_argument("--table", action="store_true", help="only rewrite budget_sweep.md and the chart")
    parser.add_argument("--time-optimisation", metavar="EXEMPLAR",
                        help="time the optimisation reference of EXEMPLAR on this machine for the chart, and stop")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    if args.time_optimisation:
        from texnet.bench import BenchConfig
        from texnet.bench.quality import exemplars as bench_exemplars

        (label, name), = bench_exemplars(BenchConfig(quality_exemplars=(args.time_optimisation,)), log)
        time_optimisation(label, name, log)
    elif not args.table:
        from texnet.bench import BenchConfig
        from texnet.bench.quality import exemplars as bench_exemplars

        picked = FACTOR_EXEMPLARS if args.exemplars == ["factor"] else tuple(args.exemplars or ())
        names = dict(bench_exemplars(BenchConfig(quality_exemplars=picked) if picked else BenchConfig(), log))
        for minutes in args.minutes:
            for arm in args.arms:  # arm by arm, so the most telling comparisons are complete first
                for label, name in names.items():
                    if results().key(arm_key(arm, minutes), label) in results().load():
                        continue
                    run(arm, minutes, label, name, log)
                    (ROOT / "budget_sweep.md").write_text(table(results().load()))
    (ROOT / "budget_sweep.md").write_text(table(results().load()))
    drawn = chart(results().load())
    print((ROOT / "budget_sweep.md").read_text() + (f"chart: {drawn}" if drawn else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
