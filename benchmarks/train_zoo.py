"""Train the zoo's style models for hours, a slice at a time, from checkpoints committed to the repository.

    python benchmarks/train_zoo.py --slice 40                      # each style: 40 more minutes of its budget
    python benchmarks/train_zoo.py --styles starry-night --slice 60
    python benchmarks/train_zoo.py --status                        # where each model stands

The zoo is built once, so a model may train far longer than a working session. Each style of
build_zoo.STYLES trains with RECIPE (a wall-clock budget of MINUTES) on the content pool of
benchmarks/content_pool.py, through `texnet train-style --minutes MINUTES --pause-after SLICE`:
after the slice the model and its checkpoint are saved in benchmarks/zoo/training/ (commit them),
and the next run, on any day or machine, resumes with the time the budget has left. The run's
inputs are pinned (the pool's relative path, the descriptor's precision), so a checkpoint made in
one checkout resumes in another. A finished model's numbers come from the style-quality bench;
build_zoo.py ships it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "benchmarks" / "zoo" / "training"
POOL = Path("benchmarks") / "style" / "pool"  # relative: part of the run's identity, the same in any checkout
MINUTES = 240.0
# The standard preset's style settings, trained coarse to fine for MINUTES, with the descriptor's precision
# pinned (auto would pick bf16 or fp32 by CPU, and a checkpoint resumes only the same run).
RECIPE = ["--preset", "standard", "--minutes", f"{MINUTES:g}", "--precision", "bf16", "--content", str(POOL),
          "--preview-every", "10"]


def styles() -> list[tuple[str, str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from build_zoo import STYLES  # noqa: E402

    return [(name, painting) for name, painting, _ in STYLES]


def status(name: str) -> str:
    from texnet.modelfile import read_metadata

    model = TRAINING / f"{name}.texnet"
    if not model.exists():
        return "not started"
    t = read_metadata(model).get("training", {})
    state = "finished" if t.get("complete") else "paused"
    return f"{state}: {t.get('seconds', 0) / 60:.0f} of {t.get('minutes', MINUTES):g} min, {t.get('iterations_done')} it"


def train(name: str, painting: str, slice_minutes: float, dev_images: Path) -> None:
    from texnet.cli import main

    model = TRAINING / f"{name}.texnet"
    if model.exists() and status(name).startswith("finished"):
        print(f"{name}: finished")
        return
    resume = ["--resume"] if (TRAINING / f"{name}.texnet.ckpt").exists() else []
    argv = ["train-style", str(dev_images / "styles" / painting), "-o", str(model.relative_to(ROOT)), *RECIPE,
            "--pause-after", f"{slice_minutes:g}", "--quiet", *resume]
    print(f"{name}: texnet {' '.join(argv)}", flush=True)
    code = main(argv)
    if code:
        raise SystemExit(code)
    print(f"{name}: {status(name)}", flush=True)


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slice", type=float, default=40.0, metavar="MIN", help="minutes per style in this run")
    parser.add_argument("--styles", nargs="*", help="zoo names (default: all of build_zoo.STYLES)")
    parser.add_argument("--status", action="store_true", help="only say where each model stands")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # the pool's path is relative to the repository
    chosen = [(n, p) for n, p in styles() if not args.styles or n in args.styles]
    if args.status:
        print(json.dumps({n: status(n) for n, _ in chosen}, indent=1))
        return 0
    from texnet.bench.harness import dev_images

    root = dev_images(None, need=("styles",))
    if root is None:
        print("no development images: set TEXNET_DEV_IMAGES to a folder with styles/")
        return 1
    if not POOL.is_dir():
        print(f"{POOL} is missing: run python benchmarks/content_pool.py first")
        return 1
    TRAINING.mkdir(parents=True, exist_ok=True)
    for name, painting in chosen:
        train(name, painting, args.slice, root)
    return 0


if __name__ == "__main__":
    sys.exit(main_())
