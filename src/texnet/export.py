"""Inference forms of a generator: batch norm folded into the convolutions, and ONNX export.

The graph is the inference form's forward() (texnet.inference: batch norm folded into
the convolutions, one circular pad per block), so it has fewer layers than the model.

`export_onnx` writes a graph that the torch-free runtime (texnet.runtime) and the web
page run. Its inputs are the noise tensors, one per scale, which the caller makes with
texnet.noise (portable: the same seed gives the same sample everywhere):

* texture: z0 .. z{K-1}, each (batch, 3, ceil(H / 2^s), ceil(W / 2^s)) -> image (batch, 3, H, W) in [0, 1];
* style: content (batch, 3, H, W) and z0 .. z{K-1}; instance-norm models also take
  stats (batch, S) and use_stats (1,), and return stats_out (batch, S): the statistics
  of every instance norm, so tiles of a large photo can share the whole photo's.

Height, width and batch are dynamic. The model's metadata (kind, scales, the size rule,
the texnet model's own metadata as JSON) is stored in the ONNX file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from texnet import __version__
from texnet.errors import TexnetError
from texnet.files import atomic_path
from texnet.generators import Generator
from texnet.inference import prepare
from texnet.inference.statistics import instance_norms

OPSET = 17
SIZE_RULE = "noise z_s is (batch, noise_channels, ceil(H / 2^s), ceil(W / 2^s)), s = 0 (finest) .. scales - 1"


def stats_size(generator: Generator) -> int:
    """Length of the stats vector: a mean and a variance per channel of every instance norm."""
    return sum(2 * m.num_features for m in instance_norms(generator))


class TextureGraph(nn.Module):
    """noise (one tensor per scale) -> image in [0, 1]."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator

    def forward(self, *noise: torch.Tensor) -> torch.Tensor:
        return self.generator(list(noise)).clamp(0, 1)


class StyleGraph(nn.Module):
    """content, noise (, stats, use_stats) -> image (, stats_out); see the module docstring."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator
        self.norms = instance_norms(generator)

    def forward(self, content: torch.Tensor, *rest: torch.Tensor):
        k = self.generator.cfg.scales
        noise = list(rest[:k])
        if not self.norms:
            return self.generator(noise, content).clamp(0, 1)
        stats, use = rest[k], rest[k + 1]
        sinks: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        offset = 0
        for m in self.norms:  # stats is laid out in module order: mean then var of each norm
            c = m.num_features
            mean = stats[:, offset:offset + c, None, None]
            var = stats[:, offset + c:offset + 2 * c, None, None]
            sinks.append([])
            m.blend = (mean, var, use.view(1, 1, 1, 1), sinks[-1])
            offset += 2 * c
        try:
            image = self.generator(noise, content).clamp(0, 1)
        finally:
            for m in self.norms:
                m.blend = None
        out = torch.cat([torch.cat([s[0][0].flatten(1), s[0][1].flatten(1)], dim=1) for s in sinks], dim=1)
        return image, out


def _inline_shared_initializers(model: Any) -> None:
    """Give each use of a deduplicated weight its own copy instead of an Identity node.

    The exporter stores equal weights once and feeds the other users through Identity nodes
    (an untrained instance norm's scales are all ones); onnxruntime's graph optimizer then
    rejects the model ("... is not a graph input, initializer, or output of a previous node").
    """
    import onnx

    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    for node in list(graph.node):
        if node.op_type == "Identity" and node.input[0] in initializers:
            copy = onnx.TensorProto()
            copy.CopyFrom(initializers[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            graph.node.remove(node)


def _shorten_names(model: Any) -> None:
    """Rename every internal value, weight and node to a short name.

    The exporter's names ("/generator/branches.3/conv/Conv_output_0") are more than a third of
    a style graph's bytes; the graph's inputs and outputs keep their names, which are its API.
    """
    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        if name not in names:
            names[name] = f"v{len(names):x}"
        return names[name]

    for init in graph.initializer:
        init.name = short(init.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i:x}"
        node.input[:] = [short(x) for x in node.input]
        node.output[:] = [short(x) for x in node.output]
    for info in graph.value_info:
        info.name = short(info.name)


def export_onnx(generator: Generator, meta: dict[str, Any], output: str | Path) -> Path:
    """Write `generator` as an ONNX graph (batch norm folded) with its metadata; see the module docstring."""
    import onnx

    g = prepare(generator).cpu().float()
    k, nc = g.cfg.scales, g.cfg.noise_channels
    noise_names = [f"z{s}" for s in range(k)]
    kind = meta.get("kind", "texture")
    h, w = 2 ** (k - 1) * 3 + 5, 2 ** (k - 1) * 2 + 3  # an odd example size: nothing specialises on it
    noise = g.seeded_noise(0, 1, w, h)
    dynamic = {name: {0: "batch", 2: f"height_{s}", 3: f"width_{s}"} for s, name in enumerate(noise_names)}
    dynamic["image"] = {0: "batch", 2: "height", 3: "width"}
    if kind == "texture":
        module, args = TextureGraph(g), tuple(noise)
        inputs, outputs = noise_names, ["image"]
    else:
        module = StyleGraph(g)
        content = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
        inputs, outputs = ["content", *noise_names], ["image"]
        dynamic["content"] = {0: "batch", 2: "height", 3: "width"}
        args = (content, *noise)
        if module.norms:
            size = stats_size(g)
            args += (torch.zeros(1, size), torch.zeros(1))
            inputs += ["stats", "use_stats"]
            outputs += ["stats_out"]
            dynamic["stats"] = {0: "batch"}
            dynamic["stats_out"] = {0: "batch"}
    module.eval()
    props = {"texnet_kind": kind, "texnet_scales": str(k), "texnet_noise_channels": str(nc),
             "texnet_size_rule": SIZE_RULE, "texnet_stats_size": str(stats_size(g) if kind == "style" else 0),
             "texnet_noise": "texnet.noise (portable hash noise; sample b uses seed + b)",
             "texnet_version": __version__, "texnet_meta": json.dumps(meta)}
    with atomic_path(output, suffix=".onnx") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(module, args, str(tmp), input_names=inputs, output_names=outputs,
                                  dynamic_axes=dynamic, opset_version=OPSET, dynamo=False, do_constant_folding=True)
            except Exception as exc:  # noqa: BLE001 - the exporter raises many types
                raise TexnetError(f"ONNX export failed: {str(exc).splitlines()[0]}") from None
        model = onnx.load(str(tmp))
        _inline_shared_initializers(model)
        _shorten_names(model)
        onnx.helper.set_model_props(model, props)
        model.doc_string = f"texnet {kind} generator: {meta.get('exemplar', meta.get('style', {})).get('file', '')}"
        onnx.save(model, str(tmp))
    return Path(output)


__all__ = ["export_onnx", "TextureGraph", "StyleGraph", "stats_size", "OPSET"]
