"""texnet on Ray: many trainings as tasks, a dataset of photos stylized by actors, a huge texture in bands.

Ray is an extra (`pip install texnet[ray]`); nothing else in texnet imports this module or Ray.
`--ray` starts a local Ray, `--ray auto` (or RAY_ADDRESS) joins a running cluster, `--ray ADDRESS`
a given one; a Ray already initialised in this process (a test's, say) is used as it is. Workers
need texnet installed where they run; models and inputs travel as bytes, outputs come back to
this process, which writes them (atomically, as without Ray).

* Trainings (`train_jobs`): one task per exemplar, with `cpus_per_job` / `gpus_per_job`. A task whose
  worker dies is retried by Ray, and the retry resumes from the job's checkpoint (MODEL.ckpt), so a
  killed worker loses at most `checkpoint_every` iterations. TEXNET_FAULT_AFTER=N:MARKER makes a
  task's process exit after N iterations, once (MARKER records that it did): the fault tests' hook.
* Photos (`stylize_dataset`): the files are a Ray Data dataset; `map_batches` runs StylizeActor,
  which loads the model once per worker. Videos are cut into frame ranges stylized in parallel with
  the same noise and statistics, then joined in order.
* Textures (`texture_bands`): bands of rows of texnet.bigsample's plan, in order; each on the plan's
  threads, so the file equals the one made without Ray with as many threads. Ray runs its workers at
  nice 15: next to other busy processes they get little of the CPU.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from texnet.errors import Interrupted, TexnetError

Log = Callable[[str], None]
FAULT_ENV = "TEXNET_FAULT_AFTER"


def connect(address: str | None = None, log: Log = print) -> Any:
    """The ray module, initialised: a running Ray in this process as it is; else `address` ("auto", host:port),
    else RAY_ADDRESS, else a new local Ray."""
    try:
        import ray
    except ImportError:
        raise TexnetError("--ray needs Ray: pip install 'texnet[ray]'") from None
    if ray.is_initialized():
        return ray
    address = address if address not in (None, "", "local") else os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address, log_to_driver=False, include_dashboard=False if address is None else None,
                 configure_logging=True, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise TexnetError(f"cannot connect to Ray at {address or 'a new local Ray'}: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    resources = ray.cluster_resources()
    log(f"Ray: {int(resources.get('CPU', 0))} CPUs, {resources.get('GPU', 0):g} GPUs "
        f"({'a new local Ray' if address is None else address})")
    return ray


def _workers(ray: Any, cpus_per_job: float, gpus_per_job: float) -> int:
    """How many jobs the cluster runs at once with these resources."""
    resources = ray.cluster_resources()
    slots = resources.get("CPU", 1) // max(cpus_per_job, 1e-9)
    if gpus_per_job:
        slots = min(slots, resources.get("GPU", 0) // gpus_per_job)
    return max(1, int(slots))


# ---------------------------------------------------------------------------- trainings


def _fault_hook(spec: str | None) -> Callable[[int], None] | None:
    """TEXNET_FAULT_AFTER=N:MARKER: the process exits after iteration N, the first time only."""
    if not spec:
        return None
    count, marker = spec.split(":", 1)

    def hook(done: int) -> None:
        if done == int(count) and not os.path.exists(marker):
            Path(marker).write_text("killed once\n")
            os._exit(1)

    return hook


def _train_task(job: dict, settings: Any, threads: int, fault: str | None) -> dict:
    """One training on a worker (texnet.multitrain.train_one), resuming its checkpoint after a retry."""
    import torch

    from texnet.multitrain import Job, train_one

    torch.set_num_threads(max(1, threads))
    return train_one(Job(**job), settings, on_iteration=_fault_hook(fault))


def train_jobs(jobs: list, settings: Any, address: str | None = None, cpus_per_job: float = 1.0,
               gpus_per_job: float = 0.0, log: Log = print, progress: bool = True) -> list[dict]:
    """Every job as a Ray task; one line per finished job and a bar of done / running / failed. Ctrl-C
    cancels the running tasks (their checkpoints stay: the same command resumes them)."""
    from texnet.multitrain import line
    from texnet.progress import bar

    ray = connect(address, log)
    device = "cuda" if gpus_per_job else "cpu"
    settings = replace(settings, train=replace(settings.train, device=device))
    task = ray.remote(_train_task).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=3)
    threads = max(1, int(cpus_per_job))
    pending = {task.remote(asdict(job), settings, threads, os.environ.get(FAULT_ENV)): job for job in jobs}
    rows, failed = [], 0
    slots = _workers(ray, cpus_per_job, gpus_per_job)
    with bar(total=len(jobs), unit="job", disable=not progress) as progress_bar:
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in ready:
                    job = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - a task that failed past its retries
                        row = {"name": job.name, "image": job.image, "model": job.model, "status": "failed",
                               "reason": f"the worker failed: {str(exc).splitlines()[0] if str(exc) else exc}"}
                    rows.append(row)
                    failed += row["status"].startswith("failed")
                    progress_bar.write(line(row, len(rows), len(jobs)))
                    progress_bar.update(1)
                progress_bar.set_postfix(done=len(rows) - failed, running=min(len(pending), slots), failed=failed)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise Interrupted(f"stopped: {len(rows)} of {len(jobs)} jobs finished, {len(pending)} cancelled (their "
                              "checkpoints are kept: the same command resumes them)") from None
    return rows


# ---------------------------------------------------------------------------- photos


class StylizeActor:
    """A Ray Data actor: the model, loaded once, stylizing batches of {src, dst} rows into files; each row comes
    back with its status (a file that fails is reported, not raised)."""

    def __init__(self, model: bytes, suffix: str, runtime: str, device: str, opts: dict, threads: int):
        import torch

        from texnet.runtime import open_style_model
        from texnet.stylizer import StylizeOptions

        torch.set_num_threads(max(1, threads))
        with tempfile.TemporaryDirectory(prefix="texnet-model-") as folder:  # both runtimes read the file whole
            path = Path(folder) / f"model{suffix}"
            path.write_bytes(model)
            self.backend = open_style_model(path, runtime, device)
        self.opts = StylizeOptions(**opts)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from texnet.stylizer import stylize_image

        status = []
        for src, dst in zip(batch["src"], batch["dst"]):
            try:
                stylize_image(self.backend, str(src), str(dst), self.opts)
                status.append("ok")
            except Exception as exc:  # noqa: BLE001 - one bad file must not cost the others
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                status.append(reason if isinstance(exc, TexnetError) else f"{type(exc).__name__}: {reason}")
        return {"src": batch["src"], "dst": batch["dst"], "status": np.array(status, dtype=object)}


def _video_range(model: bytes, suffix: str, runtime: str, device: str, opts: dict, src: str, start: int,
                 stop: int, folder: str, threads: int) -> int:
    """Frames start..stop-1 of a video, stylized with the noise and statistics every range shares (those of
    its first frame, as texnet.stylizer.stylize_video uses), written as .npy frames into `folder`."""
    import imageio.v2 as iio

    from texnet.stylizer import _frame_array, _sized, make_noise, stylize_array

    actor = StylizeActor(model, suffix, runtime, device, opts, threads)
    reader = iio.get_reader(src)
    try:
        first = _sized(_frame_array(reader.get_data(0)), actor.opts)
        noise = make_noise(actor.backend, first.shape[1], first.shape[2], actor.opts)
        _, stats = stylize_array(actor.backend, first, actor.opts, noise)
        for i in range(start, stop):
            content = _sized(_frame_array(reader.get_data(i)), actor.opts)
            image, _ = stylize_array(actor.backend, content, actor.opts, noise, stats)
            np.save(os.path.join(folder, f"{i:08d}.npy"), (image.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
    finally:
        reader.close()
    return stop - start


def stylize_dataset(model_path: Path, inputs: list[str], output: str | Path, opts: Any, runtime: str = "auto",
                    device: str = "cpu", address: str | None = None, cpus_per_job: float = 1.0,
                    gpus_per_job: float = 0.0, log: Log = print, progress: bool = True) -> list[Path]:
    """Stylize files, folders and videos on Ray: what texnet.stylizer.stylize_paths does, in parallel. Outputs
    that exist already are skipped (a rerun finishes the rest); a file that fails is reported and skipped."""
    from texnet.progress import bar
    from texnet.stylizer import is_video, plan

    ray = connect(address, log)
    pairs = plan(inputs, output)
    todo = [(s, d) for s, d in pairs if not d.exists()]
    if len(todo) < len(pairs):
        log(f"{len(pairs) - len(todo)} of {len(pairs)} outputs exist already: skipping them")
    model = Path(model_path).read_bytes()
    threads = max(1, int(cpus_per_job))
    args = (model, Path(model_path).suffix, runtime, "cuda" if gpus_per_job else device, asdict(opts), threads)
    written, failed = [p for s, p in pairs if (s, p) not in todo], []
    images = [(s, d) for s, d in todo if not is_video(s)]
    videos = [(s, d) for s, d in todo if is_video(s)]
    for _, dst in todo:
        dst.parent.mkdir(parents=True, exist_ok=True)
    with bar(total=len(todo), unit="file", disable=not progress) as progress_bar:
        if images:
            import ray.data

            ds = ray.data.from_items([{"src": str(s), "dst": str(d)} for s, d in images])
            pool = ray.data.ActorPoolStrategy(size=min(len(images), _workers(ray, cpus_per_job, gpus_per_job)))
            results = ds.map_batches(StylizeActor, fn_constructor_args=args, batch_size=1, compute=pool,
                                     num_cpus=cpus_per_job, num_gpus=gpus_per_job or None)
            for row in results.iter_rows():
                if row["status"] == "ok":
                    written.append(Path(row["dst"]))
                else:
                    failed.append(f"{row['src']}: {row['status']}")
                progress_bar.update(1)
        for src, dst in videos:
            try:
                written.append(_stylize_video(ray, src, dst, args, cpus_per_job, gpus_per_job))
            except TexnetError as exc:
                failed.append(f"{src}: {exc}")
            progress_bar.update(1)
    for line in failed:
        log(f"skipped {line}")
    if not written:
        raise TexnetError("nothing was stylized: every input failed")
    return written


def _stylize_video(ray: Any, src: Path, dst: Path, args: tuple, cpus_per_job: float, gpus_per_job: float) -> Path:
    """A video as frame ranges on the workers, joined here in order at the source frame rate."""
    from texnet.stylizer import VIDEO_SUFFIXES, _frames, write_frames

    if dst.suffix.lower() not in VIDEO_SUFFIXES:
        raise TexnetError(f"cannot write video '{dst}': use one of {', '.join(VIDEO_SUFFIXES)}")
    frames, fps, count = _frames(src)
    if not count:  # the reader cannot count them (a GIF): read through once
        count = sum(1 for _ in frames)
    frames.close()
    if not count:
        raise TexnetError(f"video {src} has no frames")
    parts = min(count, _workers(ray, cpus_per_job, gpus_per_job))
    cuts = np.linspace(0, count, parts + 1).astype(int)
    task = ray.remote(_video_range).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=3)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    # next to the output, which a cluster's workers see (a temp folder on this node they would not)
    with tempfile.TemporaryDirectory(prefix=".texnet-frames-", dir=Path(dst).parent) as folder:
        try:
            ray.get([task.remote(*args[:5], str(src), int(a), int(b), folder, args[5])
                     for a, b in zip(cuts[:-1], cuts[1:]) if b > a])
        except Exception as exc:  # noqa: BLE001 - a worker's failure, in one line
            raise TexnetError(f"cannot stylize video {src}: {str(exc).splitlines()[-1]}") from None
        write_frames((np.load(p) for p in sorted(Path(folder).glob("*.npy"))), dst, fps)
        return dst


# ---------------------------------------------------------------------------- huge textures


def _band_task(model: bytes, p: Any, a: int, b: int) -> np.ndarray:
    from texnet import bigsample
    from texnet.modelfile import load_model

    with tempfile.TemporaryDirectory(prefix="texnet-model-") as folder:
        path = Path(folder) / "model.texnet"
        path.write_bytes(model)
        generator, _ = load_model(path, "cpu", inference=True, bf16=False)
    if p.bf16:  # the driver's choice, so every band is computed alike
        generator.use_bf16_finest(check=False)
    return bigsample.band(generator, p, a, b)


def texture_bands(model_path: Path, address: str | None = None, cpus_per_job: float = 1.0,
                  log: Log = print) -> Callable[[Any], Iterator[np.ndarray]]:
    """texnet.bigsample's band maker on Ray: bands in flight on every worker, handed back in order."""
    ray = connect(address, log)
    model = ray.put(Path(model_path).read_bytes())
    task = ray.remote(_band_task).options(num_cpus=cpus_per_job, max_retries=3)
    window = 2 * _workers(ray, cpus_per_job, 0)

    def make(p: Any) -> Iterator[np.ndarray]:
        ranges = p.bands()
        refs = [task.remote(model, p, a, b) for a, b in ranges[:window]]
        for i in range(len(ranges)):
            if i + window < len(ranges):
                a, b = ranges[i + window]
                refs.append(task.remote(model, p, a, b))
            yield ray.get(refs[i])
            refs[i] = None  # let the object store free the band

    return make
