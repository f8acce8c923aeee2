"""texnet.multitrain: several exemplars into a folder of models and a summary, skipping and resuming."""

import json

import pytest
from PIL import Image

from texnet import multitrain
from texnet.cli import main
from texnet.errors import TexnetError
from texnet.images import load_image, save_image

TINY = ["--iterations", "3", "--size", "32", "--batch-size", "1", "--preview-every", "0", "--quiet"]


@pytest.fixture
def exemplars(tmp_path):
    folder = tmp_path / "textures"
    (folder / "more").mkdir(parents=True)
    save_image(load_image("brick")[:, :40, :64], folder / "brick.png")  # two 32 px crops: a floor to measure
    save_image(load_image("grass")[:, :48, :48], folder / "more" / "grass.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    Image.new("RGB", (1, 1)).save(folder / "dot.png")  # too small to train on
    return folder


def test_plan_expands_folders_globs_and_names_and_keeps_names_apart(exemplars, tmp_path):
    jobs = multitrain.plan("texture", [str(exemplars), str(exemplars / "*.png"), "gravel"], tmp_path / "out")
    names = [j.name for j in jobs]
    assert names == ["brick", "broken", "dot", "grass", "gravel"]  # the glob's files were in the folder already
    assert jobs[0].model == str(tmp_path / "out" / "brick.texnet")
    (tmp_path / "x").mkdir()
    save_image(load_image("brick")[:, :40, :40], tmp_path / "x" / "brick.png")
    two = multitrain.plan("texture", [str(exemplars / "brick.png"), str(tmp_path / "x" / "brick.png")], tmp_path / "o")
    assert [j.name for j in two] == ["brick", "brick_2"]
    with pytest.raises(TexnetError, match="no files match"):
        multitrain.plan("texture", [str(tmp_path / "nothing*.png")], tmp_path / "o")
    with pytest.raises(TexnetError, match="not a model file"):
        multitrain.plan("texture", [str(exemplars)], tmp_path / "models.texnet")


def test_several_exemplars_one_bad_then_a_rerun_skips_the_finished(exemplars, tmp_path, capsys, hed_descriptor_spec):
    out = tmp_path / "models"
    argv = ["train-texture", str(exemplars), "-o", str(out), *TINY, "--descriptor", hed_descriptor_spec]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 of 4 models" in printed
    summary = json.loads((out / "summary.json").read_text())
    status = {j["name"]: j["status"] for j in summary["jobs"]}
    assert status == {"brick": "done", "broken": "failed", "dot": "failed", "grass": "done"}
    reasons = {j["name"]: j.get("reason", "") for j in summary["jobs"]}
    assert "not an image" in reasons["broken"] and "at least" in reasons["dot"]
    brick = next(j for j in summary["jobs"] if j["name"] == "brick")
    assert brick["quality"]["swd"] > 0 and brick["quality"]["crops_swd"] > 0 and brick["seconds"] > 0
    assert (out / "brick.texnet").exists() and (out / "grass.texnet").exists()
    table = (out / "summary.md").read_text()
    assert "| brick | done |" in table and "| broken | failed: " in table
    before = (out / "brick.texnet").stat().st_mtime_ns
    assert main(argv) == 0  # the rerun: the finished models are skipped, the bad ones fail again
    assert "2 of 4 models are finished already" in capsys.readouterr().out
    assert (out / "brick.texnet").stat().st_mtime_ns == before
    rerun = {j["name"]: j["status"] for j in json.loads((out / "summary.json").read_text())["jobs"]}
    assert rerun["brick"] == "skipped (finished before)" and rerun["broken"] == "failed"


def test_an_unfinished_job_resumes_from_its_checkpoint(exemplars, tmp_path, hed_descriptor_spec):
    from texnet import presets
    from texnet.texture import TextureConfig

    train = presets.TEXTURE["quick"].train.with_overrides(iterations=6, size=32, batch_size=1, preview_every=0)
    settings = multitrain.Settings(train, TextureConfig(descriptor=hed_descriptor_spec), None)
    job = multitrain.plan("texture", [str(exemplars / "brick.png")], tmp_path / "m")[0]
    job.checkpoint.parent.mkdir(parents=True)
    stop = {"at": 4}

    def hook(done):
        if done == stop["at"]:
            raise KeyboardInterrupt

    with pytest.raises(TexnetError, match="stopped at iteration 4"):
        multitrain.train_one(job, settings, on_iteration=hook)
    assert multitrain.state(job) == "resume"
    row = multitrain.train_one(job, settings)
    assert row["status"] == "done (resumed)" and row["iterations"] == 6
    assert multitrain.state(job) == "done"
