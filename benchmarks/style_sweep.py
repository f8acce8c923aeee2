"""Controlled stylization runs: vary one factor at a time, measure against the optimisation baseline.

    python benchmarks/style_sweep.py                   # every arm on every style (hours on 2 cores)
    python benchmarks/style_sweep.py --arms base swd --styles starry_night.jpg
    python benchmarks/style_sweep.py --table           # only rewrite the table from the saved results

For each (arm, style) it trains a style generator with texnet's API on scikit-image's
photos, stylizes the development photos (../shared/images/photos, not in the content
pool) at 384 px and measures the results with texnet.bench.style_quality.measure_style: distances to
the painting (sliced Wasserstein, Gram, colour) and to the photo (relu4_2), next to
Gatys et al.'s optimisation from the photo (L-BFGS, 200 evaluations, cached). Rows go
to benchmarks/style/sweep.jsonl as runs finish; benchmarks/style/sweep.md is the table
and benchmarks/style/sheets/ has a contact sheet per run. Models stay in
benchmarks/style/models/ (not committed). The development images are never shipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import Results, mean  # noqa: E402

ROOT = Path(__file__).resolve().parent / "style"
STYLES = ("starry_night.jpg", "the_scream.jpg", "woman-with-hat-matisse.jpg", "shipwreck.jpg")
PHOTOS = ("tubingen.jpg", "golden_gate.jpg", "hoovertowernight.jpg")  # every row's photos (the bench has six)

BASE_TRAIN = dict(size=128, batch_size=2, iterations=600, lr=0.05, lr_decay=0.7, lr_decay_start=300,
                  lr_decay_every=60, preview_every=0, checkpoint_every=0, seed=0)
BASE_STYLE: dict = dict(loss="gram", precision="bf16", content_weight=5.0)
QUICK_STYLE = {"content_weight": 2.0, "style_size": 256}  # the quick preset's style settings (stage 2)
STANDARD_TRAIN = {"size": 256, "batch_size": 1, "iterations": 1500, "lr_decay_start": 750, "lr_decay_every": 150}
BUDGET6 = {"minutes": 6.0, "stages": ((128, 2, 1.0),)}  # a wall-clock budget: equal compute for any generator
RESIDUAL = {"generator": {"arch": "residual", "scales": 3, "channels": 32, "blocks": 5}}
LIGHT = {"generator": {"arch": "residual", "scales": 3, "channels": 8, "blocks": 5}}
PRESET_STYLE = {**QUICK_STYLE, "tone_weight": 4.0, "content_weight": 1.0}  # texnet.presets.STYLE_SETTINGS
ARMS: dict[str, tuple[str, dict, dict, float]] = {
    # name: (factor, train overrides, style overrides ("generator": GeneratorConfig fields), test-time noise scale)
    "base": ("-", {}, {}, 1.0),
    "swd": ("loss", {}, {"loss": "swd"}, 1.0),
    "alpha1": ("content weight", {}, {"content_weight": 1.0}, 1.0),
    "alpha2": ("content weight", {}, {"content_weight": 2.0}, 1.0),
    "alpha20": ("content weight", {}, {"content_weight": 20.0}, 1.0),
    "style256": ("style scale", {}, {"style_size": 256}, 1.0),
    "style512": ("style scale", {}, {"style_size": 512}, 1.0),
    "size256-b1": ("crop size/batch at equal compute", {"size": 256, "batch_size": 1, "iterations": 300,
                                                        "lr_decay_start": 150, "lr_decay_every": 30}, {}, 1.0),
    "iter1200": ("iterations", {"iterations": 1200, "lr_decay_start": 600, "lr_decay_every": 120}, {}, 1.0),
    "batchnorm": ("norm", {}, {"generator": {"norm": "batch"}}, 1.0),
    "noise0": ("test-time noise scale", {}, {}, 0.0),
    "noise3": ("test-time noise scale", {}, {}, 3.0),
    "pool3": ("content pool size", {}, {"pool_size": 3}, 1.0),
    "augment": ("content augmentation", {}, {"augment": True}, 1.0),
    "tv": ("total variation", {}, {"tv_weight": 20.0}, 1.0),
    # stage 2: the two levers of stage 1 (content weight, style scale) together
    "alpha2-style256": ("stage 2: content weight 2 + style scale 256", {}, QUICK_STYLE, 1.0),
    # stage 3: 'standard' candidates (at most 45 minutes): the stage-2 recipe trained longer, at the measuring scale
    "standard-256-b1-1500": ("stage 3: standard candidate", STANDARD_TRAIN, QUICK_STYLE, 1.0),
    "standard-128-b2-2400": ("stage 3: standard candidate", {"iterations": 2400, "lr_decay_start": 1200,
                                                             "lr_decay_every": 240}, QUICK_STYLE, 1.0),
    "standard-alpha1.5": ("stage 3: standard candidate, content weight 1.5", STANDARD_TRAIN,
                          {**QUICK_STYLE, "content_weight": 1.5}, 1.0),
    # stage 4: the one stage-1 change that moved the style closer at the same content (augment), on the standard
    "standard-augment": ("stage 4: standard + content augmentation", STANDARD_TRAIN,
                         {**QUICK_STYLE, "content_weight": 1.5, "augment": True}, 1.0),
    # test-time noise on the quick recipe's model (speckle: noise0 took the base model's from 0.11 to 0.034)
    "quick-noise0": ("stage 3: test-time noise scale", {}, QUICK_STYLE, 0.0),
    "quick-noise0.5": ("stage 3: test-time noise scale", {}, QUICK_STYLE, 0.5),
    # the content pool: benchmarks/content_pool.py's 46 photos instead of scikit-image's seven
    "wide-pool": ("content pool: 46 photos", {}, {}, 1.0),
    "wide-pool-augment": ("content pool: 46 photos, augmented", {}, {"augment": True}, 1.0),
    # the generator at equal compute: the same wall-clock budget (6 minutes at 128 px, batch 2), quick's style
    "budget6": ("generator: multi-scale (paper), 6 min", BUDGET6, QUICK_STYLE, 1.0),
    "budget6-residual": ("generator: residual encoder-decoder, 6 min", BUDGET6, {**QUICK_STYLE, **RESIDUAL}, 1.0),
    "budget6-residual-lr0.005": ("generator: residual, lr 0.005, 6 min", {**BUDGET6, "lr": 0.005},
                                 {**QUICK_STYLE, **RESIDUAL}, 1.0),
    # content layers: relu4_2 (the paper's) leaves luminance free (rims, inverted tones); relu2_2 is Johnson et al.'s
    "budget6-content2_2": ("content layer relu2_2, 6 min", BUDGET6, {**QUICK_STYLE, "content_layers": ("relu2_2",)},
                           1.0),
    "budget6-content2_2+4_2": ("content layers relu2_2 + relu4_2, 6 min", BUDGET6,
                               {**QUICK_STYLE, "content_layers": ("relu2_2", "relu4_2")}, 1.0),
    "budget6-residual-lr0.005-content2_2": ("generator: residual, lr 0.005, content relu2_2, 6 min",
                                            {**BUDGET6, "lr": 0.005},
                                            {**QUICK_STYLE, **RESIDUAL, "content_layers": ("relu2_2",)}, 1.0),
    # relu2_2 keeps the photo's tones and palette but leaves flat regions bare: does a lighter content weight paint them?
    "budget6-content2_2-alpha1": ("content layer relu2_2, content weight 1, 6 min", BUDGET6,
                                  {**QUICK_STYLE, "content_layers": ("relu2_2",), "content_weight": 1.0}, 1.0),
    "budget6-content2_2-alpha0.5": ("content layer relu2_2, content weight 0.5, 6 min", BUDGET6,
                                    {**QUICK_STYLE, "content_layers": ("relu2_2",), "content_weight": 0.5}, 1.0),
    # the content layers barely see polarity: a term on the photo's regional light and dark (texnet.losses.tone_loss)
    # budget arms are wall-clock: on another day's machine the same recipe gets other iteration counts
    "budget6-control": ("control: budget6 again, on the machine of the arms below", BUDGET6, QUICK_STYLE, 1.0),
    "budget6-tone1": ("tone weight 1, 6 min", BUDGET6, {**QUICK_STYLE, "tone_weight": 1.0}, 1.0),
    "budget6-tone4": ("tone weight 4, 6 min", BUDGET6, {**QUICK_STYLE, "tone_weight": 4.0}, 1.0),
    # with the layout pinned by the tone term, can the content weight drop (bolder strokes), or the swd bring the
    # painting's whole palette (its yellows, not only the second moments)?
    "budget6-tone4-alpha1": ("tone weight 4, content weight 1, 6 min", BUDGET6,
                             {**QUICK_STYLE, "tone_weight": 4.0, "content_weight": 1.0}, 1.0),
    "budget6-tone4-swd": ("tone weight 4, swd style loss, 6 min", BUDGET6,
                          {**QUICK_STYLE, "tone_weight": 4.0, "loss": "swd"}, 1.0),
    # the quick preset (stage 2's recipe) with the tone term, on paintings the tone arms were not run on
    "quick-tone4": ("the quick preset + tone weight 4", {}, {**QUICK_STYLE, "tone_weight": 4.0}, 1.0),
    "quick-tone4-alpha1": ("the quick preset + tone weight 4, content weight 1", {},
                           {**QUICK_STYLE, "tone_weight": 4.0, "content_weight": 1.0}, 1.0),
    "standard-tone4-alpha1": ("the standard preset's training + tone weight 4, content weight 1", STANDARD_TRAIN,
                              {**QUICK_STYLE, "tone_weight": 4.0, "content_weight": 1.0}, 1.0),
    "budget6-residual-lr0.005-tone4": ("generator: residual, lr 0.005, tone weight 4, 6 min", {**BUDGET6, "lr": 0.005},
                                       {**QUICK_STYLE, **RESIDUAL, "tone_weight": 4.0}, 1.0),
    # a generator as cheap as the peer's at 1024 px (about 32 GFLOP against the multi-scale network's 114): the
    # residual encoder-decoder at 8-16-32 channels, with the presets' settings, at the same iterations
    "quick-light": ("generator: light residual (8-16-32 channels), quick + tone 4, content weight 1", {},
                    {**PRESET_STYLE, **LIGHT}, 1.0),
    "quick-light-lr0.005": ("generator: light residual, lr 0.005, quick + tone 4, content weight 1", {"lr": 0.005},
                            {**PRESET_STYLE, **LIGHT}, 1.0),
    "quick-light-edge5": ("generator: light residual, 5x5 first and last convolutions, quick + tone 4, content "
                          "weight 1", {}, {**PRESET_STYLE, "generator": {**LIGHT["generator"], "edge_kernel": 5}}, 1.0),
    "standard-light": ("generator: light residual, the standard preset's training", STANDARD_TRAIN,
                       {**PRESET_STYLE, **LIGHT}, 1.0),
    # the paper's network with a narrow head: the coarse path projected (1x1) to 8 channels before the
    # full-resolution join, which is most of the arithmetic on large photos
    "quick-head8": ("generator: multiscale, head 8, quick + tone 4, content weight 1", {},
                    {**PRESET_STYLE, "generator": {"head": 8}}, 1.0),
    # bolder strokes? the painting seen larger (the presets see it at 256 px), with the presets' tone term
    "quick-style384": ("style scale: painting at 384 px, quick + tone 4, content weight 1", {},
                       {**PRESET_STYLE, "style_size": 384}, 1.0),
    "quick-style512": ("style scale: painting at 512 px, quick + tone 4, content weight 1", {},
                       {**PRESET_STYLE, "style_size": 512}, 1.0),
}
# arms that train on another content pool than scikit-image's photos
CONTENT = {"wide-pool": ROOT / "pool", "wide-pool-augment": ROOT / "pool"}
# measures that agreed with the eye (docs/stylization.md), as table columns
EYE = ("color", "halo", "tone")
# arms that only change test-time settings, and the arm whose model they use
TEST_TIME = {"noise0": "base", "noise3": "base", "quick-noise0": "alpha2-style256",
             "quick-noise0.5": "alpha2-style256"}


def style_config(overrides: dict):
    from texnet.style import StyleConfig

    values = {**BASE_STYLE, **overrides}
    gen = StyleConfig().generator
    generator = replace(gen, **values.pop("generator", {}))
    return StyleConfig(generator=generator, **values)


def results() -> Results:
    return Results(ROOT / "sweep.jsonl", "style")


def run_arm(arm: str, style: str, bench_cfg, log) -> dict:
    from texnet.bench.style_quality import measure_style
    from texnet.style import load_style_model, train_style
    from texnet.train import TrainConfig

    factor, train_over, style_over, noise_scale = ARMS[arm]
    root = Path(bench_cfg.dev_images)
    train = TrainConfig(**{**BASE_TRAIN, **train_over, "device": "cpu"})
    cfg = style_config(style_over)
    # test-time arms reuse another arm's model: only the noise scale differs
    trained_arm = TEST_TIME.get(arm, arm)
    model = ROOT / "models" / f"{trained_arm}_{Path(style).stem}.texnet"
    seconds = None
    if not model.exists():
        log(f"[{arm}/{style}] training: {train.iterations} it, {train.batch_size}x{train.size}px, {cfg.loss}")
        started = time.perf_counter()
        content = CONTENT.get(arm)
        if content is not None and not content.is_dir():
            raise SystemExit(f"{content} is missing: run python benchmarks/content_pool.py first")
        train_style(str(root / "styles" / style), model, str(content) if content else None, train, cfg,
                    progress=False, log=lambda *a: None)
        seconds = time.perf_counter() - started
    generator, meta = load_style_model(model)
    seconds = seconds if seconds is not None else meta["training"]["seconds"]

    rows = measure_style(str(root / "styles" / style), {arm: generator}, bench_cfg, ROOT, log,
                         ROOT / "sheets" / f"{arm}_{Path(style).stem}.jpg", noise_scale=noise_scale)
    row = {"arm": arm, "factor": factor, "style": style, "train": {**BASE_TRAIN, **train_over},
           "style_cfg": {**BASE_STYLE, **style_over}, "noise_scale": noise_scale, "train_seconds": round(seconds, 1),
           "photos": rows, "date": time.strftime("%Y-%m-%d %H:%M")}
    results().append(row)
    swd = [r[arm]["swd"] / r["optimisation"]["swd"] for r in rows]
    log(f"[{arm}/{style}] {seconds:.0f} s; swd/opt {sum(swd) / len(swd):.2f}; "
        f"content {sum(r[arm]['content'] for r in rows) / len(rows):.3f} "
        f"(opt {sum(r['optimisation']['content'] for r in rows) / len(rows):.3f})")
    return row


def table(rows: dict[str, dict]) -> str:
    arms = [a for a in ARMS if any(k.startswith(a + "/") for k in rows)]
    styles = [s for s in STYLES if any(k.endswith("/" + s) for k in rows)]
    lines = ["Each cell: the generator's sliced Wasserstein distance to the painting over the optimisation "
             "result's (Gatys et al., L-BFGS-200 from the photo), mean over the 3 development photos at 384 px; "
             "below 1 is closer to the painting than optimisation. `content`: mean relative relu4_2 error to the "
             "photo (optimisation's in the header row). `speckle`: high-frequency energy where the photo is dark "
             "and flat (texnet.quality.speckle). `structure`: centred relu4_2 correlation with the photo "
             "(texnet.quality.structure; 1 = the photo's layout, another photo about 0.2; measured from this "
             "score existed, `-` for older rows; what it means: docs/stylization.md). `color`: W1 of the colours to "
             "the painting's. `halo`: detail along the photo's edges over detail elsewhere (relief; lower is "
             "better). `tone`: rank correlation of regional luminance with the photo's (1 = the photo's light and "
             "dark). color, halo and tone are the measures that agreed with the eye on the bench's sheets "
             "(docs/stylization.md). `s`: training seconds.", "",
             "| arm | factor | " + " | ".join(Path(s).stem for s in styles)
             + " | mean swd/opt | gram/opt | content | structure | speckle | color | halo | tone | s |",
             "|---|---|" + "---|" * (len(styles) + 9)]
    opt_content = [r["optimisation"]["content"] for v in rows.values() for r in v["photos"]]
    opt_speckle = [r["optimisation"].get("speckle") for v in rows.values() for r in v["photos"]]
    opt_structure = [r["optimisation"].get("structure") for v in rows.values() for r in v["photos"]]
    opt_eye = [mean(r["optimisation"].get(k) for v in rows.values() for r in v["photos"]) for k in EYE]
    lines.append("| optimisation | reference | " + " | ".join("1" for _ in styles)
                 + f" | 1 | 1 | {mean(opt_content)} | {mean(opt_structure)} | {mean(opt_speckle)} | "
                 + " | ".join(opt_eye) + " | |")
    for arm in arms:
        cells, swd, gram, content, structure, secs, speck = [], [], [], [], [], [], []
        eye: dict[str, list] = {k: [] for k in EYE}
        for s in styles:
            v = rows.get(results().key(arm, s))
            if v is None:
                cells.append("-")
                continue
            ratio = [r[arm]["swd"] / r["optimisation"]["swd"] for r in v["photos"]]
            cells.append(f"{sum(ratio) / len(ratio):.2f}")
            swd += ratio
            gram += [r[arm]["gram"] / r["optimisation"]["gram"] for r in v["photos"]]
            content += [r[arm]["content"] for r in v["photos"]]
            structure += [r[arm].get("structure") for r in v["photos"]]
            speck += [r[arm].get("speckle") for r in v["photos"]]
            for k in EYE:
                eye[k] += [r[arm].get(k) for r in v["photos"]]
            secs.append(v["train_seconds"])
        lines.append(f"| {arm} | {ARMS[arm][0]} | " + " | ".join(cells)
                     + f" | {mean(swd)} | {mean(gram)} | {mean(content)} | {mean(structure)} | {mean(speck)} | "
                     + " | ".join(mean(eye[k]) for k in EYE) + f" | {mean(secs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--styles", nargs="*", default=list(STYLES))
    parser.add_argument("--table", action="store_true", help="only rewrite sweep.md from sweep.jsonl")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    if not args.table:
        from texnet.bench import BenchConfig
        from texnet.bench.harness import dev_images

        bench = BenchConfig()
        root = dev_images(bench.dev_images)
        if root is None:
            print("no development images: set TEXNET_DEV_IMAGES to a folder with styles/ and photos/")
            return 1
        bench = replace(bench, dev_images=str(root), style_photos=PHOTOS)
        done = results().load()
        for style in args.styles:
            for arm in args.arms:
                if results().key(arm, style) not in done:
                    run_arm(arm, style, bench, log)
                    (ROOT / "sweep.md").write_text(table(results().load()))
    (ROOT / "sweep.md").write_text(table(results().load()))
    print((ROOT / "sweep.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
