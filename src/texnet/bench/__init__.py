"""`texnet bench`: the paper's claims and texnet's quality, measured side by side on the machine at hand.

One module per section (`--sections`), each with `measure(cfg, out, log)` and `markdown(section)`:

* speed: a generator's time and memory per sample against the optimisation's time to the same loss;
* quality: each preset's samples against real crops (the floor) and the optimisation (the reference);
* style: stylization time, and the optimisation's time to the same loss;
* style-quality: the style presets and the optimisation on development photos;
* inference: texnet's PyTorch and onnxruntime paths, GFLOP/s, and the peer.

Shared parts: config (BenchConfig), harness (the one timer, GFLOP counts, memory, the machine), cache
(models and references made once per recipe), report (the one writer). Results land in OUT/bench.json
and OUT/bench.md; benchmarks/docs_tables.py copies the committed tables into docs/.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from texnet.bench import inference, quality, speed, style_quality, stylization
from texnet.bench.config import SECTIONS, BenchConfig
from texnet.bench.harness import machine
from texnet.bench.report import render_section

MODULES = {"speed": speed, "quality": quality, "style": stylization, "style-quality": style_quality,
           "inference": inference}
assert tuple(MODULES) == SECTIONS


def markdown_section(name: str, section: dict[str, Any]) -> str:
    """One section's table, headed by when, where and how long it was measured."""
    return render_section(section, MODULES[name].markdown)


def markdown(result: dict[str, Any]) -> str:
    from texnet.bench.report import markdown as write

    return write(result, {name: (m.TITLE, m.markdown) for name, m in MODULES.items()})


def _check(cfg: BenchConfig) -> None:
    from texnet import presets
    from texnet.bench.cache import known_arm
    from texnet.errors import TexnetError

    unknown = [s for s in cfg.sections if s not in SECTIONS]
    if unknown:
        raise TexnetError(f"unknown bench section(s) {', '.join(unknown)}: use {', '.join(SECTIONS)}")
    wanted = [(p, "texture") for p in {*cfg.quality_presets, *cfg.preset_exemplars} if "quality" in cfg.sections]
    wanted += [(p, "style") for p in cfg.style_presets if "style-quality" in cfg.sections]
    for preset, kind in sorted(wanted):
        if not known_arm(preset, kind):
            table = presets.TEXTURE if kind == "texture" else presets.STYLE
            hint = f"use {', '.join(table)}" + (", or NUMBERmin for a budget" if kind == "texture" else "")
            raise TexnetError(f"unknown {kind} preset {preset!r}: {hint}")
    labels = [label for label, _ in quality.exemplars(cfg, log=lambda *_: None)] if cfg.preset_exemplars else []
    for preset, names in cfg.preset_exemplars.items():
        stray = [n for n in names if n not in labels]
        if stray:
            raise TexnetError(f"--presets {preset}=...: {', '.join(stray)} is not a quality exemplar "
                              f"({', '.join(labels)})")


def run(cfg: BenchConfig, out: str | Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the configured sections; each lands in OUT/bench.json (other sections already there are kept)."""
    import torch

    from texnet import weights
    from texnet.device import resolve_device
    from texnet.files import atomic_path
    from texnet.limits import reuse_freed_memory

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check(cfg)
    device = resolve_device(cfg.device)
    torch.manual_seed(0)
    reused = reuse_freed_memory()  # as the CLI runs: timings are of what users get
    result = load_results(out / "bench.json")
    for name, module in MODULES.items():
        if name not in cfg.sections:
            continue
        started = time.perf_counter()
        data = module.measure(cfg, out, log)
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


__all__ = ["BenchConfig", "SECTIONS", "run", "markdown", "markdown_section", "load_results"]
