"""Peak memory per pixel of training and of the ONNX runtime: where texnet's size limits come from.

    python benchmarks/memory_probe.py        # writes benchmarks/memory.json (a minute or two on 2 cores)

Each measurement runs in a fresh process and reads VmHWM (peak resident memory) after
resetting it: 3 training iterations (batch 1, fp32 descriptor: the larger case) at several sizes, and one ONNX-runtime
sample or stylization at several sizes. The slope of peak memory against pixels is
the bytes per pixel that texnet.limits uses to refuse sizes that would not fit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "memory.json"

PROBE = r"""
import json, sys, tempfile, pathlib
import torch
torch.set_num_threads(2)
kind, size = sys.argv[1], int(sys.argv[2])
def mb(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024
from texnet.descriptor import load_descriptor  # imports settle first
from texnet.export import export_onnx
from texnet.generators import GeneratorConfig, MultiScaleGenerator
from texnet.runtime import OnnxModel
from texnet.texture import TextureConfig, train_texture
from texnet.style import StyleConfig, train_style
from texnet.train import TrainConfig
tmp = pathlib.Path(tempfile.mkdtemp())
cfg = GeneratorConfig(scales=5) if kind != "style-onnx" else GeneratorConfig(scales=6, content_channels=3,
                                                                               norm="instance", padding="replicate")
if kind.endswith("onnx"):
    path = export_onnx(MultiScaleGenerator(cfg).eval(), {"kind": "texture" if kind == "texture-onnx" else "style"},
                       tmp / "m.onnx")
    model = OnnxModel(path)
open("/proc/self/clear_refs", "w").write("5")
base = mb("VmRSS:")
train = TrainConfig(size=size, batch_size=1, iterations=3, preview_every=0, checkpoint_every=0)
if kind == "texture-train":
    train_texture("gravel", tmp / "m.texnet", train, TextureConfig(precision="fp32"), progress=False, log=lambda *a: None)
elif kind == "style-train":
    train_style("ihc", tmp / "m.texnet", None, train, StyleConfig(precision="fp32"), progress=False, log=lambda *a: None)
elif kind == "texture-onnx":
    model.sample(size, size, seed=0)
else:
    import numpy as np
    from texnet.stylizer import StylizeOptions, stylize_array
    stylize_array(model, np.random.rand(3, size, size).astype(np.float32), StylizeOptions(tile=size))
print(json.dumps({"kind": kind, "size": size, "peak_mb": mb("VmHWM:") - base}))
"""

SIZES = {"texture-train": (128, 256, 384), "style-train": (128, 256, 384), "texture-onnx": (512, 1024, 1536),
         "style-onnx": (512, 1024, 1536)}


def main() -> int:
    rows = []
    for kind, sizes in SIZES.items():
        for size in sizes:
            proc = subprocess.run([sys.executable, "-c", PROBE, kind, str(size)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr.strip().splitlines()[-1], file=sys.stderr)
                return 1
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    slopes = {}
    for kind, sizes in SIZES.items():
        pts = [(r["size"] ** 2, r["peak_mb"] * 2**20) for r in rows if r["kind"] == kind]
        (p0, m0), (p1, m1) = pts[0], pts[-1]
        slopes[kind] = {"bytes_per_pixel": (m1 - m0) / (p1 - p0), "fixed_mb": (m0 - (m1 - m0) / (p1 - p0) * p0) / 2**20}
    OUT.write_text(json.dumps({"rows": rows, "slopes": slopes}, indent=1))
    print(json.dumps(slopes, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
