"""Section `quality`: each preset's samples against the exemplar, next to real crops (the floor) and the
optimisation result (the reference), with a contact sheet per exemplar and one grid."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from texnet.bench.cache import BUDGET_ARM, Log, cached_image, texture_model
from texnet.bench.config import DEV_TEXTURES, BenchConfig
from texnet.bench.harness import dev_images
from texnet.bench.report import fmt
from texnet.device import resolve_device
from texnet.files import atomic_path

TITLE = "Texture quality"


def exemplars(cfg: BenchConfig, log: Log) -> list[tuple[str, str]]:
    """(label, image) for every quality exemplar: scikit-image names and files as given, "dev" as every texture
    of the development images, a development texture also by its stem (dcor-texture12)."""
    from texnet.images import IMAGE_SUFFIXES

    root = dev_images(cfg.dev_images, need=("textures",))
    dev = {p.stem: p for p in sorted((root / "textures").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES} if root \
        else {}
    found: list[tuple[str, str]] = []
    for name in cfg.quality_exemplars:
        if name == DEV_TEXTURES:
            if not dev:
                log("[quality] no development textures (set TEXNET_DEV_IMAGES to a folder with textures/): "
                    "scikit-image's exemplars only")
            found += [(stem, str(path)) for stem, path in dev.items()]
        elif name in dev:
            found.append((name, str(dev[name])))
        else:
            found.append((Path(name).stem if Path(name).is_file() else name, name))
    return list(dict.fromkeys(found))


def reference_recipe(info: dict, size: int, ocfg: Any, loss: str) -> dict[str, Any]:
    """What an optimisation reference depends on, and nothing else: the committed references stay valid while
    texnet's configs grow new fields."""
    from texnet import weights
    from texnet.losses import DEFAULT_TEXTURE_LAYERS

    return {"exemplar": info, "size": size, "optimize": asdict(ocfg), "loss": loss, "precision": "fp32",
            "descriptor": weights.resolve("auto")[0].name, "pooling": "avg", "weighting": "relative",
            "layers": list(DEFAULT_TEXTURE_LAYERS)}


@dataclass
class Reference:
    """An exemplar as the quality section measures it: the meter, the measuring size, real crops (the floor) and
    the optimisation results (cached per recipe), with their metrics."""

    label: str
    name: str
    image: torch.Tensor
    info: dict[str, Any]
    size: int
    meter: Any
    crops: torch.Tensor | None
    crop_metrics: dict[str, float] | None
    opt_images: dict[str, torch.Tensor]
    opt_metrics: dict[str, dict[str, float]]


def reference(label: str, name: str, cfg: BenchConfig, out: Path, log: Log) -> Reference:
    """The measuring kit for one exemplar (texnet.quality; the optimisation runs once per recipe)."""
    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar
    from texnet.losses import DEFAULT_TEXTURE_LAYERS
    from texnet.optimize import OptimizeConfig, optimize_texture
    from texnet.quality import QualityMeter, exemplar_crops, measuring_size
    from texnet.texture import TextureConfig

    device = resolve_device(cfg.device)
    exemplar, info = load_exemplar(name)
    q = measuring_size(*exemplar.shape[-2:], cfg.quality_size)
    descriptor, _ = load_descriptor("auto", DEFAULT_TEXTURE_LAYERS, "avg", device, "fp32")
    meter = QualityMeter(descriptor, exemplar.to(device))
    crops = exemplar_crops(exemplar[0], q)
    images, metrics = {}, {}
    for loss in cfg.opt_losses:
        ocfg = OptimizeConfig(iterations=cfg.opt_iterations, device=str(device))
        tcfg = TextureConfig(loss=loss, precision="fp32")

        def make() -> tuple[Any, float]:
            image, trace = optimize_texture(name, q, q, ocfg, tcfg, progress=False, log=lambda *a: None)
            return image, trace.seconds[-1]

        images[loss], seconds = cached_image(out / "quality" / f"{label}_opt_{loss}.png",
                                             reference_recipe(info, q, ocfg, loss), make,
                                             f"{label}, optimisation ({loss})", log)
        metrics[loss] = {**meter.summary(images[loss][None]), "seconds": seconds}
    return Reference(label, name, exemplar, info, q, meter, crops, meter.summary(crops) if crops is not None else None,
                     images, metrics)


def measure_one(label: str, name: str, cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    """Samples of each preset, the optimisation results and real crops, measured against the exemplar."""
    from texnet.quality import contact_sheet, ratios
    from texnet.texture import load_texture_model

    device = resolve_device(cfg.device)
    ref = reference(label, name, cfg, out, log)
    q, meter, crops, exemplar = ref.size, ref.meter, ref.crops, ref.image
    row: dict[str, Any] = {"exemplar": label, "exemplar_size": ref.info["used_size"], "size": q,
                           "crops": ref.crop_metrics, "opt": ref.opt_metrics, "presets": {}}
    opt_images = ref.opt_images
    reference_metrics = row["opt"].get("gram") or next(iter(row["opt"].values()))
    sheets = {}
    for preset in cfg.quality_presets:
        if label not in cfg.preset_exemplars.get(preset, (label,)):
            continue
        model = texture_model(name, preset, cfg, out, log)
        generator, meta = load_texture_model(model, device, inference=True)
        samples = torch.cat([generator.sample(q, q, seed=s) for s in range(1, cfg.quality_seeds + 1)]).cpu()
        metrics = meter.summary(samples)
        row["presets"][preset] = {**metrics, **ratios(metrics, reference_metrics),
                                  "train_seconds": meta["training"]["seconds"],
                                  "swd_vs_opt_swd": metrics["swd"] / row["opt"]["swd"]["swd"] if "swd" in row["opt"] else None}
        sheets[preset] = samples
    floor = crops[0] if crops is not None else exemplar[0, :, :q, :q]
    sheet = contact_sheet([("exemplar crop", floor)]
                          + [(f"{p} seed 1", sheets[p][0]) for p in sheets]
                          + [(f"{p} seed 2", sheets[p][1]) for p in list(sheets)[-1:] if len(sheets[p]) > 1]
                          + [(f"optimisation ({loss})", img) for loss, img in opt_images.items()])
    with atomic_path(out / "quality" / f"{label}_sheet.jpg") as tmp:
        sheet.save(tmp, format="JPEG", quality=90)
    blank = torch.ones_like(floor)  # a preset not run on this exemplar: a white tile keeps the grid's columns
    row["grid"] = ([floor] + [sheets[p][0] if p in sheets else blank for p in cfg.quality_presets]
                   + [opt_images[next(iter(opt_images))]])
    return row


def measure(cfg: BenchConfig, out: Path, log: Log) -> list[dict[str, Any]]:
    rows = [measure_one(label, name, cfg, out, log) for label, name in exemplars(cfg, log)]
    grid(rows, ["exemplar crop", *cfg.quality_presets, "optimisation"], out / "quality" / "grid.jpg")
    budgets = [p for p in cfg.quality_presets if BUDGET_ARM.fullmatch(p)]
    if len(budgets) >= 2:
        minutes_chart(rows, budgets, out / "quality" / "minutes.png")
    return rows


def summary(rows: list[dict[str, Any]], presets: list[str]) -> dict[str, dict[str, Any]]:
    """Per preset over the exemplars it ran on: the median and worst distance over the optimisation's, the 3
    worst exemplars, and the same for real crops (the floor)."""
    out: dict[str, dict[str, Any]] = {}
    for name in ["crops", *presets]:
        pairs = [(r["exemplar"], (r["crops"]["swd"] if name == "crops" else r["presets"][name]["swd"])
                  / r["opt"]["gram"]["swd"]) for r in rows
                 if "gram" in r["opt"] and (r["crops"] if name == "crops" else name in r["presets"])]
        if not pairs:
            continue
        ratios_ = sorted(v for _, v in pairs)
        out[name] = {"median": statistics.median(ratios_), "worst": ratios_[-1], "count": len(pairs),
                     "worst_three": sorted(pairs, key=lambda p: -p[1])[:3]}
    return out


def minutes_chart(rows: list[dict[str, Any]], budgets: list[str], path: Path,
                  optimisation: tuple[float, str] | None = None) -> None:
    """Quality against minutes of training: the median and worst distance over the optimisation's, with the
    optimisation's time marked: `optimisation` = (seconds, what was timed) where it was timed on this machine,
    else the median of the references' recorded times. Points over fewer exemplars than the rest say how many."""
    from texnet import plots

    stats = summary(rows, budgets)
    shown = [b for b in budgets if b in stats]
    minutes = [float(BUDGET_ARM.fullmatch(b).group(1)) for b in shown]
    fig, (ax,) = plots.subplots(1, width=6)
    ax.plot(minutes, [stats[b]["median"] for b in shown], "o-", label="median over exemplars")
    ax.plot(minutes, [stats[b]["worst"] for b in shown], "s--", label="worst exemplar")
    most = max((stats[b]["count"] for b in shown), default=0)
    for m, b in zip(minutes, shown):
        if stats[b]["count"] < most:
            ax.annotate(f"{stats[b]['count']} of {most}", (m, stats[b]["worst"]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=8)
    if "crops" in stats:
        ax.axhline(stats["crops"]["median"], color="grey", linestyle=":", label="real crops (median)")
    if optimisation is None:
        opt = [r["opt"]["gram"]["seconds"] for r in rows if "gram" in r["opt"]]
        optimisation = (statistics.median(opt), "median of the references") if opt else None
    if optimisation:
        ax.axvline(optimisation[0] / 60, color="red", linestyle=":",
                   label=f"optimisation of one image: {optimisation[0] / 60:.1f} min ({optimisation[1]})")
    ax.axhline(1.0, color="black", linewidth=0.5)
    plots.log_axes(ax, "minutes of training", "distance / optimisation's", f"{most} exemplars", logx=True)
    plots.plain_ticks(ax, x=minutes, y=[0.5, 0.75, 1, 1.5, 2, 3])
    ax.legend(fontsize=8, loc="lower left")
    plots.save(fig, path)


def grid(rows: list[dict[str, Any]], labels: list[str], path: Path) -> None:
    """One row per exemplar: exemplar crop, each preset's first sample, the optimisation result."""
    from texnet.quality import contact_sheet, stack

    picture = stack([contact_sheet([(f"{r['exemplar']}: {label}", img) for label, img in zip(labels, r.pop("grid"))],
                                   size=192) for r in rows])
    with atomic_path(path) as tmp:
        picture.save(tmp, format="JPEG", quality=90)


def markdown(section: dict[str, Any]) -> list[str]:
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
        cells = ([r["exemplar"], str(r.get("size", c["quality_size"])), fmt(crops.get("swd"), missing="-")]
                 + [fmt(r["opt"][loss]["swd"]) for loss in opt_losses] + [fmt(p.get("swd"), missing="-") for p in ps]
                 + [fmt(p.get("swd_ratio"), missing="-") for p in ps]
                 + [fmt(p.get("train_seconds"), digits=4, missing="-") for p in ps]
                 + [" / ".join([fmt(crops.get("color"), missing="-")] + [fmt(p.get("color"), missing="-") for p in ps]
                               + [fmt(ref.get("color"), missing="-")]),
                    " / ".join([fmt(crops.get("shift_similarity"), missing="-")]
                               + [fmt(p.get("shift_similarity"), missing="-") for p in ps]),
                    " / ".join([fmt(crops.get("diversity"), missing="-")]
                               + [fmt(p.get("diversity"), missing="-") for p in ps])])
        lines.append("| " + " | ".join(cells) + " |")
    stats = summary(section["data"], list(presets))
    if stats:
        lines += ["", f"Over the exemplars, distance / the Gram optimisation's ({len(section['data'])} exemplars):", "",
                  "| | median | worst | 3 worst |", "|---|---|---|---|"]
        for name, st in stats.items():
            worst = ", ".join(f"{e} {fmt(v)}" for e, v in st["worst_three"])
            label = "real crops (the floor)" if name == "crops" else name
            lines.append(f"| {label} | {fmt(st['median'])} | {fmt(st['worst'])} | {worst} |")
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
