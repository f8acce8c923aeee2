import re

import pytest
import torch
from PIL import Image

from texnet.cli import main
from texnet.errors import TexnetError
from texnet.optimize import OptimizeConfig, Trace, optimize_pixels, optimize_texture


def test_optimize_pixels_minimises_and_stays_in_range():
    target = torch.full((1, 3, 8, 8), 0.25)

    def loss(x):
        value = ((x - target) ** 2).mean(dim=(1, 2, 3)).sum()
        return {"total": value}

    for name in ("lbfgs", "adam"):
        x, trace = optimize_pixels(loss, torch.rand(1, 3, 8, 8), OptimizeConfig(iterations=60, optimizer=name, lr=0.05
                                                                                  if name == "adam" else None),
                                   progress=False)
        assert trace.losses[-1] < 0.05 * trace.losses[0], name
        assert x.min() >= 0 and x.max() <= 1
        assert len(trace.losses) <= 60 and trace.seconds == sorted(trace.seconds)


def test_trace_time_to():
    trace = Trace([5.0, 3.0, 1.0], [0.1, 0.2, 0.3])
    assert trace.time_to(3.0) == 0.2 and trace.time_to(0.5) is None


def test_texture_by_optimisation_lowers_the_texture_loss(small_exemplar, hed_descriptor_spec):
    image, trace = optimize_texture(str(small_exemplar), 40, 32, OptimizeConfig(iterations=30, device="cpu"),
                                    progress=False, log=lambda *a: None)
    assert image.shape == (3, 32, 40)
    assert trace.losses[-1] < 0.3 * trace.losses[0]


def test_cli_optimize_texture_and_style(small_exemplar, tmp_path, capsys, hed_descriptor_spec):
    out = tmp_path / "t.png"
    assert main(["optimize", "texture", str(small_exemplar), "-o", str(out), "--size", "33x31", "--iterations", "12",
                 "--quiet"]) == 0
    assert Image.open(out).size == (33, 31)
    first, last = map(float, re.search(r"loss ([\d.e+-]+) -> ([\d.e+-]+)", capsys.readouterr().out).groups())
    assert last < 0.5 * first
    photo = tmp_path / "photo.png"
    Image.new("RGB", (50, 40), (30, 120, 200)).save(photo)
    out = tmp_path / "s.png"
    assert main(["optimize", "style", str(photo), str(small_exemplar), "-o", str(out), "--iterations", "8",
                 "--optimizer", "adam", "--lr", "0.05", "--quiet"]) == 0
    assert Image.open(out).size == (50, 40)
    first, last = map(float, re.search(r"loss ([\d.e+-]+) -> ([\d.e+-]+)", capsys.readouterr().out).groups())
    assert last < first


def test_cli_optimize_bad_inputs_keep_outputs(tmp_path, capsys):
    keep = tmp_path / "keep.png"
    keep.write_bytes(b"old")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    for argv, message in [
        (["optimize", "texture", str(bad), "-o", str(keep)], "not an image"),
        (["optimize", "texture", "brick", "-o", str(keep), "--size", "1x"], "bad size"),
        (["optimize", "style", str(bad), "brick", "-o", str(keep)], "not an image"),
        (["optimize", "texture", "brick", "-o", str(tmp_path / "x.txt")], "cannot write"),
    ]:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
        assert keep.read_bytes() == b"old"


def test_unknown_optimizer_is_an_error():
    with pytest.raises(TexnetError, match="unknown optimizer"):
        optimize_pixels(lambda x: {"total": x.sum()}, torch.rand(1, 3, 4, 4), OptimizeConfig(optimizer="sgd"),
                        progress=False)


def test_a_step_into_non_finite_loss_is_undone_and_the_run_goes_on():
    """L-BFGS steps unclamped within its inner iterations; where the loss there is not finite (a texture's Gram
    of pixels far outside [0, 1]), the run goes back to the last finite iterate with a smaller step."""
    target = torch.full((1, 3, 4, 4), 0.25)

    def loss(x):
        value = ((x - target) ** 2).sum()
        return {"total": value if float(x.detach().abs().max()) < 3 else value * float("nan")}

    x, trace = optimize_pixels(loss, torch.full((1, 3, 4, 4), 0.9), OptimizeConfig(iterations=60, lr=40.0),
                               progress=False)
    assert torch.isfinite(x).all() and all(v == v for v in trace.losses)
    assert len(trace.losses) == 60  # it went on to the end, not stuck on NaN
