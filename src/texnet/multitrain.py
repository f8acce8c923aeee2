"""Many trainings: one model per exemplar (or style image) into a folder, with a summary.

`texnet train-texture A.jpg textures/ 'more/*.png' -o models/` plans one job per image (files,
folders searched recursively, globs, scikit-image names), skips models that are finished, resumes
those with a checkpoint, and runs the rest one after another in this process, or as Ray tasks
(texnet.raycluster) with `--ray`. A job that fails (a bad image, say) fails alone: its one-line
reason goes into the summary. The summary (summary.json and summary.md in the folder) has, per
exemplar: the status, the training time, the final loss and the quality numbers the bench
computes without an optimisation (the samples' sliced Wasserstein distance to the exemplar, next to
real crops', and the colour distance).
"""

from __future__ import annotations

import glob
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from texnet.errors import Interrupted, TexnetError
from texnet.files import atomic_path
from texnet.images import IMAGE_SUFFIXES, SAMPLE_FILES, SAMPLE_VIEWS

Log = Callable[[str], None]
SUMMARY_JSON, SUMMARY_MD = "summary.json", "summary.md"


@dataclass
class Job:
    """One training: what to train on, and where its model goes."""

    kind: str  # "texture" or "style"
    image: str
    name: str
    model: str

    @property
    def checkpoint(self) -> Path:
        return Path(self.model + ".ckpt")


def expand(specs: Iterable[str]) -> list[str]:
    """Image files from files, folders (recursive), globs and scikit-image names, in the order given, each once."""
    found: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise TexnetError(f"no images in folder {spec} (looked for {', '.join(IMAGE_SUFFIXES)})")
            found += [str(p) for p in files]
        elif any(ch in spec for ch in "*?["):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                raise TexnetError(f"no files match {spec}")
            found += matches
        elif path.exists() or spec in SAMPLE_FILES or spec in SAMPLE_VIEWS or spec.startswith("skimage:"):
            found.append(spec)
        else:
            raise TexnetError(f"image not found: {spec}")
    return list(dict.fromkeys(found))


def plan(kind: str, specs: list[str], output: str | Path) -> list[Job]:
    """One job per image, models named after the images in the folder `output` (a second image of the same
    name gets _2, _3, ...)."""
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise TexnetError(f"with several images, -o is a folder; {folder} is a file")
    if folder.suffix == ".texnet":
        raise TexnetError(f"with several images, -o is a folder, not a model file: {folder}")
    jobs, taken = [], set()
    for image in expand(specs):
        stem = Path(image).stem if Path(image).exists() else image.removeprefix("skimage:")
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}_{n}"
        taken.add(name)
        jobs.append(Job(kind, image, name, str(folder / f"{name}.texnet")))
    return jobs


def state(job: Job) -> str:
    """'done' (a finished model and no checkpoint), 'resume' (a checkpoint) or 'new'."""
    if job.checkpoint.exists():
        return "resume"
    if Path(job.model).exists():
        from texnet.modelfile import read_metadata

        try:
            if read_metadata(job.model).get("training", {}).get("complete", True):
                return "done"
        except TexnetError:
            pass
    return "new"


@dataclass
class Settings:
    """What every job of a run trains with (the same for all)."""

    train: Any  # TrainConfig
    cfg: Any  # TextureConfig or StyleConfig
    content: str | None = None  # style: the content folder


def train_one(job: Job, settings: Settings, on_iteration: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train one job (resuming its checkpoint if there is one) and measure it: its summary row. A TexnetError
    (bad input) is the row's status, not an exception."""
    started = time.perf_counter()
    row: dict[str, Any] = {"name": job.name, "image": job.image, "model": job.model}
    try:
        resume = job.checkpoint.exists()
        quiet = lambda *_: None  # noqa: E731
        if job.kind == "texture":
            from texnet.texture import train_texture

            path, history = train_texture(job.image, job.model, settings.train, settings.cfg, resume=resume,
                                          progress=False, log=quiet, on_iteration=on_iteration)
        else:
            from texnet.style import train_style

            path, history = train_style(job.image, job.model, settings.content, settings.train, settings.cfg,
                                        resume=resume, progress=False, log=quiet, on_iteration=on_iteration)
        row.update(status="done" if not resume else "done (resumed)", seconds=round(history.seconds, 1),
                   final_loss=history.final().get("total"),
                   iterations=history.iterations[-1] if history.iterations else 0)
        if job.kind == "texture":
            row["quality"] = measure(job)
    except Interrupted:
        raise  # Ctrl-C stops the run (the job keeps its checkpoint)
    except TexnetError as exc:
        row.update(status="failed", reason=str(exc), seconds=round(time.perf_counter() - started, 1))
    return row


def measure(job: Job) -> dict[str, float]:
    """The bench's numbers that need no optimisation: 4 samples' sliced Wasserstein distance to the exemplar,
    real crops' (the floor), the colour distance, at the bench's measuring size."""
    import torch

    from texnet.descriptor import load_descriptor
    from texnet.images import load_exemplar
    from texnet.losses import DEFAULT_TEXTURE_LAYERS
    from texnet.quality import QualityMeter, exemplar_crops, measuring_size
    from texnet.texture import load_texture_model

    exemplar, _ = load_exemplar(job.image)
    q = measuring_size(*exemplar.shape[-2:], 256)
    descriptor, _ = load_descriptor("auto", DEFAULT_TEXTURE_LAYERS, "avg", "cpu", "fp32")
    meter = QualityMeter(descriptor, exemplar)
    generator, _ = load_texture_model(job.model, inference=True)
    samples = torch.cat([generator.sample(q, q, seed=s) for s in (1, 2, 3, 4)])
    metrics = meter.summary(samples)
    crops = exemplar_crops(exemplar[0], q)
    floor = meter.summary(crops)["swd"] if crops is not None else None
    return {"size": q, "swd": metrics["swd"], "crops_swd": floor, "color_w1": metrics["color"],
            "swd_vs_crops": metrics["swd"] / floor if floor else None}


def skipped_row(job: Job) -> dict[str, Any]:
    return {"name": job.name, "image": job.image, "model": job.model, "status": "skipped (finished before)"}


def run(jobs: list[Job], settings: Settings, runner: Callable[..., list[dict[str, Any]]] | None = None,
        output: str | Path = ".", log: Log = print) -> list[dict[str, Any]]:
    """Train every job that is not finished (in this process, or through `runner`, e.g. Ray's), then write the
    summary; its rows in the jobs' order."""
    todo = [j for j in jobs if state(j) != "done"]
    done_before = {j.name: skipped_row(j) for j in jobs if state(j) == "done"}
    if done_before:
        log(f"{len(done_before)} of {len(jobs)} models are finished already: skipping them")
    if runner is None:
        rows = []
        for i, job in enumerate(todo, 1):
            rows.append(train_one(job, settings))
            log(line(rows[-1], i, len(todo)))
    else:
        rows = runner(todo, settings)
    by_name = {**done_before, **{r["name"]: r for r in rows}}
    ordered = [by_name[j.name] for j in jobs]
    write_summary(ordered, Path(output), settings)
    return ordered


def line(row: dict[str, Any], i: int, n: int) -> str:
    """One line per finished job."""
    if row["status"].startswith("failed"):
        return f"[{i}/{n}] {row['name']}: failed: {row.get('reason', '')}"
    q = row.get("quality") or {}
    extra = f", swd {q['swd']:.3g} (real crops {q['crops_swd']:.3g})" if q.get("crops_swd") else ""
    return f"[{i}/{n}] {row['name']}: {row['status']} in {row.get('seconds', 0):.0f} s{extra} -> {row['model']}"


def write_summary(rows: list[dict[str, Any]], folder: Path, settings: Settings) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "train": asdict(settings.train), "jobs": rows}
    with atomic_path(folder / SUMMARY_JSON) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str))
    lines = ["| exemplar | status | seconds | final loss | swd (real crops) | colour W1 |", "|---|---|---|---|---|---|"]
    for r in rows:
        q = r.get("quality") or {}
        status = r["status"] + (f": {r['reason']}" if r.get("reason") else "")
        swd = "-" if not q else f"{q['swd']:.3g}" + (f" ({q['crops_swd']:.3g})" if q.get("crops_swd") else "")
        colour = f"{q['color_w1']:.3g}" if q else "-"
        loss = f"{r['final_loss']:.4g}" if isinstance(r.get("final_loss"), float) else "-"
        lines.append(f"| {r['name']} | {status} | {r.get('seconds', '-')} | {loss} | {swd} | {colour} |")
    with atomic_path(folder / SUMMARY_MD) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
