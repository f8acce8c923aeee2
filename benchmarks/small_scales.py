"""Texture samples with the small scales run the way large ones are, against the way they now run:

* batch norm (the inference form): every convolution in oneDNN's fused call, against F.conv2d on inputs under
  texnet.generators.FUSED_MIN_PIXELS, where the fused call's set-up outweighs its speed;
* instance norm (texnet.layerwise): every scale layer by layer, against scales of up to
  texnet.layerwise.MODULE_MAX_PIXELS module by module.

    python benchmarks/small_scales.py

Batch norm: a generator as the quick preset trains (5 scales; Xavier weights, seed 0: the times do not depend on
the values), folded for inference. Instance norm: the zoo's brick. Seed 0, through MultiScaleGenerator.infer (the
noise made once, outside the timing). Both arms alternate within every round (medians of 41; 15 at 512 px).
Writes benchmarks/results/small_scales.json.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweeplib import alternating_ms, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "small_scales.json"
STUDIES = (("batch", "FUSED_MIN_PIXELS", (64, 128, 256)), ("instance", "MODULE_MAX_PIXELS", (128, 256, 512)))


def main() -> None:
    from texnet import generators, layerwise, zoo
    from texnet.limits import reuse_freed_memory
    from texnet.modelfile import load_model

    reuse_freed_memory()
    rows = []
    for norm, setting, sizes in STUDIES:
        if norm == "batch":
            module, model = generators, generators.MultiScaleGenerator(generators.GeneratorConfig(), seed=0)
            model = model.eval().fold_batchnorm()
        else:
            module, model = layerwise, load_model(zoo.resolve("brick"), "cpu", inference=True)[0]
        chosen = getattr(module, setting)
        arms = {"as_large": 0, "chosen": chosen}  # 0: the small scales as the large ones

        def run(noise: list[torch.Tensor], value: int) -> torch.Tensor:
            setattr(module, setting, value)
            try:
                return model.infer(noise)
            finally:
                setattr(module, setting, chosen)

        with torch.inference_mode():
            for size in sizes:
                noise = model.seeded_noise(0, 1, size, size)
                outs = {arm: run(noise, value) for arm, value in arms.items()}
                same = 255 * float((outs["as_large"] - outs["chosen"]).abs().max())
                ms = alternating_ms({arm: lambda i, v=value: run(noise, v) for arm, value in arms.items()},
                                    41 if size < 512 else 15)
                row: dict[str, Any] = {"norm": norm, "setting": setting, "value": chosen, "size": size,
                                       "max_difference_255": same, **{f"{arm}_ms": t for arm, t in ms.items()},
                                       "ratio": ms["chosen"] / ms["as_large"]}
                print(f"{norm} norm, {size} px: {setting}=0 {row['as_large_ms']:.2f} ms, ={chosen} "
                      f"{row['chosen_ms']:.2f} ms ({row['ratio']:.3f}x; max difference {same:.4f}/255)", flush=True)
                rows.append(row)
    write_rows(OUT, rows)


if __name__ == "__main__":
    main()
