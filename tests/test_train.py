import pytest
import torch

from texnet.errors import Interrupted, TexnetError
from texnet.modelfile import load_model
from texnet.texture import TextureConfig, load_texture_model, sample, train_texture
from texnet.train import TrainConfig

TINY = dict(size=48, batch_size=2, lr=0.1, preview_every=0, checkpoint_every=0, lr_decay_start=10**9)


def quiet(*_):
    pass


def test_paper_schedule():
    cfg = TrainConfig()
    assert (cfg.size, cfg.batch_size, cfg.iterations, cfg.lr) == (256, 16, 2000, 0.1)
    assert cfg.lr_at(999) == 0.1
    assert cfg.lr_at(1000) == pytest.approx(0.07)
    assert cfg.lr_at(1199) == pytest.approx(0.07)
    assert cfg.lr_at(1200) == pytest.approx(0.049)
    assert cfg.lr_at(1999) == pytest.approx(0.1 * 0.7**5)


def test_tiny_training_run_lowers_the_texture_loss(tmp_path, small_exemplar, hed_descriptor_spec):
    cfg = TrainConfig(iterations=60, preview_every=30, **{k: v for k, v in TINY.items() if k != "preview_every"})
    out = tmp_path / "m.texnet"
    path, history = train_texture(str(small_exemplar), out, cfg, TextureConfig(descriptor=hed_descriptor_spec),
                                  progress=False, log=quiet)
    losses = history.terms["texture"]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, (first, last)
    generator, meta = load_model(path)
    assert meta["kind"] == "texture" and meta["descriptor"]["source"] == "vgg16-hed"
    assert meta["exemplar"]["sha256"] and meta["training"]["iterations"] == 60
    assert (tmp_path / "m.texnet.loss.png").stat().st_size > 1000
    assert sorted(p.name for p in (tmp_path / "m.texnet.previews").iterdir()) == ["iter_000030.png", "iter_000060.png"]
    assert not (tmp_path / "m.texnet.ckpt").exists()
    assert sample(path, 20, 30, n=2, seed=5, device="cpu").shape == (2, 3, 30, 20)


class Interrupting:
    """Wraps an objective and raises KeyboardInterrupt on the n-th loss evaluation (a Ctrl-C)."""

    def __init__(self, inner, at):
        self.inner, self.at, self.calls = inner, at, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def losses(self, *args):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.inner.losses(*args)


def interrupt_after_step(monkeypatch, at):
    """A Ctrl-C after the n-th optimizer step, before the iteration is logged: the hardest place to resume from."""
    from texnet.train import History

    original, calls = History.add, []

    def add(self, *args):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(History, "add", add)
    return lambda: monkeypatch.setattr(History, "add", original)


@pytest.mark.parametrize("where", ["in the loss", "after the step", "swd loss"])
def test_interrupted_run_resumes_to_the_same_model(tmp_path, small_exemplar, monkeypatch, hed_descriptor_spec, where):
    import texnet.texture as texture

    cfg = TrainConfig(iterations=12, **{**TINY, "checkpoint_every": 5})
    tcfg = TextureConfig(descriptor=hed_descriptor_spec, loss="swd" if where == "swd loss" else "gram")
    straight, _ = train_texture(str(small_exemplar), tmp_path / "a.texnet", cfg, tcfg, progress=False, log=quiet)

    if where == "after the step":
        undo = interrupt_after_step(monkeypatch, at=8)
    else:
        original = texture.texture_objective
        monkeypatch.setattr(texture, "texture_objective", lambda *a, **k: Interrupting(original(*a, **k), at=8))
        undo = lambda: monkeypatch.setattr(texture, "texture_objective", original)  # noqa: E731
    with pytest.raises(Interrupted, match=r"stopped at iteration 7 of 12; model saved to .*b.texnet; continue with "
                                          r"--resume"):
        train_texture(str(small_exemplar), tmp_path / "b.texnet", cfg, tcfg, progress=False, log=quiet)
    assert (tmp_path / "b.texnet.ckpt").exists()
    _, meta = load_model(tmp_path / "b.texnet")  # a valid model of what was trained
    assert meta["training"]["iterations_done"] == 7 and not meta["training"]["complete"]
    undo()

    # a different run refuses the checkpoint; the same run continues from iteration 7
    other = TrainConfig(iterations=12, **{**TINY, "lr": 0.01, "checkpoint_every": 5})
    with pytest.raises(TexnetError, match="different"):
        train_texture(str(small_exemplar), tmp_path / "b.texnet", other, tcfg, resume=True, progress=False, log=quiet)
    resumed, history = train_texture(str(small_exemplar), tmp_path / "b.texnet", cfg, tcfg, resume=True,
                                     progress=False, log=quiet)
    assert history.iterations == list(range(1, 13))
    a, _ = load_texture_model(straight)
    b, _ = load_texture_model(resumed)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(pa.float(), pb.float(), atol=1e-5), name


def test_resume_without_checkpoint_is_an_error(tmp_path, small_exemplar, hed_descriptor_spec):
    with pytest.raises(TexnetError, match="nothing to resume"):
        train_texture(str(small_exemplar), tmp_path / "c.texnet", TrainConfig(iterations=2, **TINY),
                      TextureConfig(descriptor=hed_descriptor_spec), resume=True, progress=False, log=quiet)


class FakeClock:
    """The training clock, advancing `step` seconds per reading: the same schedule on any machine."""

    def __init__(self, step: float):
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


BUDGET = dict(minutes=0.5, stages=((32, 2, 1.0), (48, 1, 1.0)), lr=0.05, checkpoint_seconds=6.0, preview_every=1)


def test_a_budget_trains_coarse_to_fine_and_stops_on_time(tmp_path, small_exemplar, monkeypatch, hed_descriptor_spec):
    import texnet.train

    monkeypatch.setattr(texnet.train, "now", FakeClock(0.25))
    path, history = train_texture(str(small_exemplar), tmp_path / "m.texnet", TrainConfig(**BUDGET),
                                  TextureConfig(descriptor=hed_descriptor_spec, loss="swd", weighting="floor"),
                                  progress=False, log=quiet)
    training = load_model(path)[1]["training"]
    assert training["complete"] and training["minutes"] == 0.5
    assert [s["size"] for s in training["stages_run"]] == [32, 48]  # coarse to fine
    assert [s["batch_size"] for s in training["stages_run"]] == [2, 1]
    assert training["stages_run"][1]["iteration"] > 5  # the first stage had its half of the time
    assert 28 < history.seconds <= 30 * 1.05  # on time: within 5% of the 30 s deadline
    assert len(list((tmp_path / "m.texnet.previews").iterdir())) >= 9
    assert not (tmp_path / "m.texnet.ckpt").exists()


def test_an_interrupted_budget_keeps_its_model_and_resumes_the_time_it_had_left(tmp_path, small_exemplar, monkeypatch,
                                                                                 hed_descriptor_spec, capsys):
    import texnet.train
    from texnet.cli import main

    monkeypatch.setattr(texnet.train, "now", FakeClock(0.25))
    stop = interrupt_after_step(monkeypatch, at=15)
    argv = [str(small_exemplar), "-o", str(tmp_path / "b.texnet"), "--minutes", "0.5", "--descriptor",
            hed_descriptor_spec, "--quiet", "--preview-every", "0"]
    monkeypatch.setattr(texnet.train.TrainConfig, "checkpoint_seconds", 6.0)
    from texnet import presets

    monkeypatch.setitem(presets.TEXTURE, "quick", presets.Preset(TrainConfig(**{**BUDGET, "preview_every": 0}),
                                                                 presets.BUDGET_TEXTURE))
    assert main(["train-texture", *argv]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("texnet: stopped at 0:") and "of 0:30; model saved to" in err[0]
    _, meta = load_model(tmp_path / "b.texnet")
    assert not meta["training"]["complete"] and meta["training"]["iterations_done"] == 14
    stop()
    assert main(["train-texture", *argv, "--resume"]) == 0
    _, meta = load_model(tmp_path / "b.texnet")
    assert meta["training"]["complete"] and meta["training"]["iterations_done"] > 14
    assert meta["training"]["seconds"] <= 30 * 1.05  # the same 30 s budget (within 5%), not a fresh one


def test_pause_after_saves_a_slice_and_resume_finishes_the_same_budget(tmp_path, small_exemplar, monkeypatch,
                                                                        hed_descriptor_spec, capsys):
    import texnet.train
    from texnet import presets
    from texnet.cli import main

    monkeypatch.setattr(texnet.train, "now", FakeClock(0.25))
    monkeypatch.setitem(presets.TEXTURE, "quick", presets.Preset(TrainConfig(**{**BUDGET, "preview_every": 0}),
                                                                 presets.BUDGET_TEXTURE))
    argv = ["train-texture", str(small_exemplar), "-o", str(tmp_path / "p.texnet"), "--minutes", "0.5",
            "--descriptor", hed_descriptor_spec, "--quiet", "--preview-every", "0"]
    assert main([*argv, "--pause-after", "0.1"]) == 0  # a slice of 6 s of the 30 s budget
    assert "paused at 0:0" in capsys.readouterr().out
    _, meta = load_model(tmp_path / "p.texnet")
    first = meta["training"]["iterations_done"]
    assert not meta["training"]["complete"] and first > 0 and (tmp_path / "p.texnet.ckpt").exists()
    assert main([*argv, "--resume", "--pause-after", "0.1"]) == 0  # another slice (the option is not a setting)
    _, meta = load_model(tmp_path / "p.texnet")
    assert not meta["training"]["complete"] and meta["training"]["iterations_done"] > first
    assert main([*argv, "--resume"]) == 0
    _, meta = load_model(tmp_path / "p.texnet")
    assert meta["training"]["complete"] and meta["training"]["seconds"] <= 30 * 1.05


def test_a_budget_too_short_for_one_iteration_is_one_error(tmp_path, small_exemplar, monkeypatch, hed_descriptor_spec):
    import texnet.train

    monkeypatch.setattr(texnet.train, "now", FakeClock(3.0))  # each reading 3 s later: set-up alone eats 0.05 min
    with pytest.raises(TexnetError, match="--minutes 0.05 is too short"):
        train_texture(str(small_exemplar), tmp_path / "t.texnet", TrainConfig(**{**BUDGET, "minutes": 0.05}),
                      TextureConfig(descriptor=hed_descriptor_spec), progress=False, log=quiet)
    assert not (tmp_path / "t.texnet").exists()
