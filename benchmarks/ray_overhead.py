"""What Ray costs and gives on this machine: the same work as a plain loop and on a local Ray.

    python benchmarks/ray_overhead.py                  # 200 photos at 512 px, 8 tiny trainings
    python benchmarks/ray_overhead.py --photos 40 --trainings 4

* stylizing N photos at 512 px with the zoo's starry-night: texnet.stylizer.stylize_paths in this
  process, against texnet.raycluster.stylize_dataset (Ray Data, one actor per CPU);
* M tiny trainings (32 px, 20 iterations, on scikit-image crops): texnet.multitrain's loop in this
  process, against one Ray task per exemplar.

Wall seconds of each, images per second and per worker, Ray's start-up on its own, and the cost of
reading, decoding, encoding and writing one photo on one thread (where a fast accelerator leaves the
bottleneck). Run it
alone on a quiet machine: Ray runs its workers at nice 15. Writes benchmarks/results/ray_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "ray_overhead.json"


def photos(folder: Path, count: int, size: int = 512) -> list[Path]:
    """`count` different 512 px photos from scikit-image's (crops, flips, rotations)."""
    import numpy as np

    from texnet.images import SAMPLE_PHOTOS, load_array, resize_array, save_image

    sources = [load_array(name) for name in SAMPLE_PHOTOS]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        image = sources[i % len(sources)]
        h, w = image.shape[1:]
        side = int(min(h, w) * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = np.rot90(image[:, top:top + side, left:left + side], k=int(rng.integers(4)), axes=(1, 2))
        paths.append(save_image(resize_array(np.ascontiguousarray(crop), (size, size)), folder / f"photo_{i:04d}.jpg"))
    return paths


def io_cost(inputs: list[Path], outputs: list[Path], scratch: Path) -> dict:
    """Milliseconds per photo, on one thread, to read and decode an input and to encode and write an output."""
    import torch

    from texnet.images import load_array, save_image

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    scratch.mkdir()
    started = time.perf_counter()
    decoded = [load_array(str(p)) for p in inputs]
    read = time.perf_counter() - started
    started = time.perf_counter()
    for image, path in zip(decoded, outputs):
        save_image(image, scratch / path.name)
    write = time.perf_counter() - started
    torch.set_num_threads(threads)
    return {"read_decode_ms": 1000 * read / len(inputs), "encode_write_ms": 1000 * write / len(outputs),
            "format": outputs[0].suffix.lstrip(".")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--trainings", type=int, default=8)
    args = parser.parse_args(argv)
    import ray

    from texnet import multitrain, presets, raycluster, zoo
    from texnet.bench.harness import machine
    from texnet.images import load_image, save_image
    from texnet.runtime import open_style_model
    from texnet.stylizer import StylizeOptions, stylize_paths
    from texnet.texture import TextureConfig

    quiet = lambda *_: None  # noqa: E731
    result: dict = {"machine": machine(), "photos": args.photos, "trainings": args.trainings}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "in").mkdir()
        photos(scratch / "in", args.photos)
        model = zoo.resolve("starry-night", "texnet")
        opts = StylizeOptions()
        started = time.perf_counter()
        stylize_paths(open_style_model(model, "torch"), [str(scratch / "in")], scratch / "plain", opts,
                      progress=False, log=quiet)
        plain = time.perf_counter() - started

        result["io"] = io_cost(sorted((scratch / "in").iterdir()), sorted((scratch / "plain").iterdir()),
                               scratch / "io")
        print(f"read + decode {result['io']['read_decode_ms']:.1f} ms, encode + write "
              f"{result['io']['encode_write_ms']:.1f} ms per photo on one thread", flush=True)

        started = time.perf_counter()
        ray.init(num_cpus=None, include_dashboard=False, log_to_driver=False)
        result["ray_start_seconds"] = time.perf_counter() - started
        workers = int(ray.cluster_resources()["CPU"])
        started = time.perf_counter()
        raycluster.stylize_dataset(model, [str(scratch / "in")], scratch / "ray", opts, runtime="torch",
                                   progress=False, log=quiet)
        on_ray = time.perf_counter() - started
        result["stylize"] = {"plain_seconds": plain, "ray_seconds": on_ray, "workers": workers,
                             "plain_images_per_s": args.photos / plain, "ray_images_per_s": args.photos / on_ray,
                             "ray_images_per_s_per_worker": args.photos / on_ray / workers}
        print(f"stylize {args.photos} photos at 512 px: plain {plain:.0f} s ({args.photos / plain:.2f}/s), "
              f"Ray {on_ray:.0f} s ({args.photos / on_ray:.2f}/s, {workers} workers)", flush=True)

        (scratch / "ex").mkdir()
        names = ("brick", "gravel", "grass", "ihc", "coins", "camera", "moon", "retina")
        for i in range(args.trainings):
            save_image(load_image(names[i % len(names)])[:, :48, :64], scratch / "ex" / f"e{i}.png")
        train = presets.TEXTURE["quick"].train.with_overrides(iterations=20, size=32, batch_size=1, preview_every=0)
        settings = multitrain.Settings(train, TextureConfig(), None)
        started = time.perf_counter()
        multitrain.run(multitrain.plan("texture", [str(scratch / "ex")], scratch / "m_plain"), settings,
                       output=scratch / "m_plain", log=quiet)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        multitrain.run(multitrain.plan("texture", [str(scratch / "ex")], scratch / "m_ray"), settings,
                       lambda todo, s: raycluster.train_jobs(todo, s, progress=False, log=quiet),
                       output=scratch / "m_ray", log=quiet)
        on_ray = time.perf_counter() - started
        result["train"] = {"plain_seconds": plain, "ray_seconds": on_ray, "workers": workers}
        print(f"{args.trainings} tiny trainings: plain {plain:.0f} s, Ray {on_ray:.0f} s", flush=True)
        ray.shutdown()
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
