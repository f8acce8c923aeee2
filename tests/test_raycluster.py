"""texnet on Ray (texnet.raycluster) on a local Ray of 2 CPUs: trainings with a bad exemplar and a killed worker,
a dataset stylization with a corrupt file, reruns that skip finished work, and huge textures in bands."""

import json
import sys

import numpy as np
import pytest
import torch

from texnet.cli import main
from texnet.images import load_image, save_image

TINY = ["--iterations", "8", "--size", "32", "--batch-size", "1", "--preview-every", "0", "--quiet"]


@pytest.fixture
def exemplars(tmp_path):
    folder = tmp_path / "textures"
    folder.mkdir()
    save_image(load_image("brick")[:, :40, :64], folder / "brick.png")
    save_image(load_image("gravel")[:, :40, :64], folder / "gravel.png")
    (folder / "broken.png").write_bytes(b"\x89PNG no")
    return folder


def test_one_task_per_exemplar_a_bad_one_fails_alone(ray_local, exemplars, tmp_path, capsys, hed_descriptor_spec):
    out = tmp_path / "models"
    argv = ["train-texture", str(exemplars), "-o", str(out), *TINY, "--descriptor", hed_descriptor_spec, "--ray"]
    assert main(argv) == 0
    lines = capsys.readouterr()
    assert "2 of 3 models" in lines.out
    jobs = {j["name"]: j for j in json.loads((out / "summary.json").read_text())["jobs"]}
    assert jobs["brick"]["status"] == jobs["gravel"]["status"] == "done" and jobs["broken"]["status"] == "failed"
    assert "not an image" in jobs["broken"]["reason"]
    assert main(argv) == 0  # a rerun: nothing left to train but the bad one
    assert "2 of 3 models are finished already" in capsys.readouterr().out


def test_a_killed_worker_is_retried_from_its_checkpoint_to_the_same_model(ray_local, exemplars, tmp_path, monkeypatch,
                                                                          hed_descriptor_spec):
    from texnet.modelfile import load_model

    (exemplars / "broken.png").unlink()
    (exemplars / "gravel.png").unlink()
    base = ["train-texture", str(exemplars), *TINY, "--descriptor", hed_descriptor_spec, "--ray"]
    assert main([*base, "-o", str(tmp_path / "straight"), "--checkpoint-every", "4"]) == 0
    marker = tmp_path / "killed"
    monkeypatch.setenv("TEXNET_FAULT_AFTER", f"6:{marker}")  # the task's process exits after iteration 6, once
    assert main([*base, "-o", str(tmp_path / "killed_run"), "--checkpoint-every", "4"]) == 0
    assert marker.exists()  # the worker really died
    row = json.loads((tmp_path / "killed_run" / "summary.json").read_text())["jobs"][0]
    assert row["status"] == "done (resumed)" and row["iterations"] == 8
    a, _ = load_model(tmp_path / "straight" / "brick.texnet")
    b, _ = load_model(tmp_path / "killed_run" / "brick.texnet")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x.float(), y.float(), atol=1e-6), name


def test_ray_data_stylizes_a_folder_skips_a_corrupt_file_and_a_rerun_skips_outputs(ray_local, tmp_path, capsys):
    from texnet.runtime import open_style_model
    from texnet.stylizer import StylizeOptions, stylize_paths

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for i, name in enumerate(("astronaut", "coffee", "chelsea")):
        save_image(load_image(name)[:, ::8, ::8], photos / ("sub" if i == 2 else "") / f"{name}.png")
    (photos / "bad.jpg").write_bytes(b"nope")
    out = tmp_path / "out"
    argv = ["stylize", "starry-night", str(photos), "-o", str(out), "--quiet", "--max-size", "48", "--ray"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "bad.jpg" in printed.out and "skipped" in printed.out
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["astronaut.png", "coffee.png", "sub/chelsea.png"]
    # the same pixels as without Ray
    local = tmp_path / "local"
    stylize_paths(open_style_model("starry-night"), [str(photos / "coffee.png")], local / "coffee.png",
                  StylizeOptions(max_size=48), progress=False, log=lambda *_: None)
    assert np.array_equal(np.asarray(load_image(out / "coffee.png")), np.asarray(load_image(local / "coffee.png")))
    before = (out / "coffee.png").stat().st_mtime_ns
    assert main(argv) == 0
    assert "3 of 4 outputs exist already" in capsys.readouterr().out
    assert (out / "coffee.png").stat().st_mtime_ns == before


def test_a_video_in_frame_ranges_equals_one_pass(ray_local, tmp_path):
    import imageio.v2 as iio

    from texnet import raycluster
    from texnet.runtime import open_style_model
    from texnet.stylizer import StylizeOptions, stylize_video

    rng = np.random.default_rng(0)
    clip = tmp_path / "clip.gif"
    with iio.get_writer(str(clip), duration=100, loop=0) as writer:
        for _ in range(5):
            writer.append_data((rng.random((24, 32, 3)) * 255).astype(np.uint8))
    opts = StylizeOptions()
    from texnet import zoo

    raycluster.stylize_dataset(zoo.resolve("starry-night"), [str(clip)],
                               tmp_path / "ray.gif", opts, progress=False, log=lambda *_: None)
    stylize_video(open_style_model("starry-night"), clip, tmp_path / "one.gif", opts, progress=False)
    ours, theirs = [list(iio.get_reader(str(tmp_path / f))) for f in ("ray.gif", "one.gif")]
    assert len(ours) == len(theirs) == 5
    # the same noise and statistics give the same frames; a Ray worker may run on another thread count, and some
    # oneDNN kernel families (AVX2) then round a few values the other way by one level of 255
    for a, b in zip(ours, theirs):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_huge_textures_in_bands_on_ray_equal_one_process(ray_local, tmp_path):
    from texnet import bigsample, raycluster, zoo
    from texnet.modelfile import load_model

    path = zoo.resolve("brick", "texnet")
    generator, _ = load_model(path, inference=True)
    bands = raycluster.texture_bands(path, cpus_per_job=1, log=lambda *_: None)
    on_ray = bigsample.sample_to_tiff(generator, 530, 700, 3, tmp_path / "ray.tif", make_bands=bands, threads=1,
                                      progress=False)
    here = bigsample.sample_to_tiff(generator, 530, 700, 3, tmp_path / "here.tif", threads=1, progress=False)
    assert np.array_equal(bigsample.read_level(on_ray), bigsample.read_level(here))


def test_without_ray_installed_the_flag_is_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    assert main(["stylize", "starry-night", "astronaut", "-o", str(tmp_path / "o.png"), "--ray"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'texnet[ray]'" in err[0]
