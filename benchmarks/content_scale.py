"""What the stylization content distance means: its value for edits of a photo from mild to unrelated.

    python benchmarks/content_scale.py     # writes benchmarks/style/content_scale.json

The bench's content distance (relative relu4_2 error, texnet.losses.content_loss) of Gatys et
al.'s optimisation is 0.27, but it starts from the photo, so it is no yardstick for
"recognisable". This script scores the development photos against versions of themselves
(blurred, posterised, grey, flipped), against unrelated images (another photo, the
painting, uniform grey) and against the style sweep's generators' outputs, so that a gate can sit between "the photo, altered" and "a different picture".
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

from texnet.bench import BenchConfig, dev_images
from texnet.descriptor import load_descriptor
from texnet.images import fit_within, load_array, resize_array
from texnet.losses import content_loss
from texnet.quality import structure
from texnet.style import load_style_model
from texnet.stylize import StylizeOptions, TorchBackend, stylize_array

OUT = Path(__file__).resolve().parent / "style" / "content_scale.json"
REFS = Path(__file__).resolve().parent / "style" / "style_quality"
MODELS = Path(__file__).resolve().parent / "style" / "models"  # the style sweep's generators, when present


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma)
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k, groups=3)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=3)


def main() -> None:
    cfg = BenchConfig()
    root = dev_images(cfg)
    if root is None:
        raise SystemExit("no development images (TEXNET_DEV_IMAGES)")
    descriptor, _ = load_descriptor("auto", ("relu4_2",), "avg", torch.device("cpu"), "fp32")
    photos = {}
    for name in cfg.style_photos:
        a = load_array(root / "photos" / name)
        photos[name] = torch.from_numpy(resize_array(a, fit_within(a.shape[1:], cfg.style_quality_size)))[None]
    painting = torch.from_numpy(load_array(root / "styles" / cfg.styles[0]))[None]
    names = list(photos)
    scores: dict[str, list[float]] = {}
    corr: dict[str, list[float]] = {}
    generators = {}
    for path in sorted(MODELS.glob("*.texnet")):
        generators[path.stem] = TorchBackend(load_style_model(path, torch.device("cpu"))[0])
    for i, name in enumerate(names):
        x = photos[name]
        h, w = x.shape[2:]
        other = F.interpolate(photos[names[(i + 1) % len(names)]], size=(h, w), mode="bilinear")
        edits = {
            "blur sigma 2": blur(x, 2.0),
            "blur sigma 4": blur(x, 4.0),
            "posterise 3 levels": torch.round(x * 2) / 2,
            "greyscale": x.mean(1, keepdim=True).expand_as(x),
            "horizontal flip": x.flip(3),
            "another photo": other,
            "the painting": F.interpolate(painting, size=(h, w), mode="bilinear"),
            "uniform grey": torch.full_like(x, 0.5),
        }
        opt = REFS / f"{Path(cfg.styles[0]).stem}_{Path(name).stem}_opt.png"
        if opt.exists():  # the bench's optimisation (L-BFGS from the photo), as cached by the style sweep
            edits["optimisation, starry night"] = torch.from_numpy(load_array(opt))[None]
        for label, g in generators.items():
            edits[f"model {label}"] = torch.from_numpy(stylize_array(g, x[0].numpy(), StylizeOptions())[0])[None]
        with torch.no_grad():
            target = descriptor(x)
            for label, y in edits.items():
                f = descriptor(y.contiguous())
                scores.setdefault(label, []).append(float(content_loss(f, target, ("relu4_2",))))
                corr.setdefault(label, []).append(structure(f["relu4_2"], target["relu4_2"]))
    table = {k: {"content": round(statistics.mean(v), 3), "structure": round(statistics.mean(corr[k]), 3),
                 "content_per_photo": [round(s, 3) for s in v], "structure_per_photo": [round(s, 3) for s in corr[k]]}
             for k, v in scores.items()}
    OUT.write_text(json.dumps({"photos": names, "size": cfg.style_quality_size, "rows": table}, indent=1))
    print(f"{'image':45s} content structure")
    for k, v in table.items():
        print(f"{k:45s} {v['content']:.3f}   {v['structure']:.3f}   {v['structure_per_photo']}")


if __name__ == "__main__":
    main()
