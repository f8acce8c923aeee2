"""Stylization: training on a tiny pool, sizes, folders, videos, colour, noise scale, bad inputs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texnet.cli import main
from texnet.errors import TexnetError
from texnet.generators import GeneratorConfig, MultiScaleGenerator
from texnet.images import load_image, save_image
from texnet.style import ContentPool, StyleConfig, load_style_model, train_style
from texnet.stylizer import StylizeOptions, TorchBackend, preserve_color, rgb_to_ycbcr, stylize_paths, stylize_tensor
from texnet.train import TrainConfig


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def content_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("content")
    (folder / "sub").mkdir()
    for i, name in enumerate(["astronaut", "coffee", "rocket"]):
        image = load_image(name)[:, :80, :96]
        save_image(image, folder / ("sub" if i == 2 else "") / f"{name}.{['png', 'jpg', 'webp'][i]}")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    return folder


@pytest.fixture(scope="module")
def style_model(tmp_path_factory, content_dir):
    folder = tmp_path_factory.mktemp("style")
    style = folder / "style.png"
    save_image(load_image("ihc")[:, :64, :64], style)
    # A low learning rate and enough steps: the loss then falls to about half on every kernel family tried
    # (AVX-512 with and without bf16, AVX2, AVX, SSE4.1, ATen's default); at lr 0.1 it fell to 0.5-0.87.
    cfg = TrainConfig(size=32, batch_size=2, iterations=150, lr=0.02, preview_every=75, checkpoint_every=0)
    messages = []
    path, history = train_style(str(style), folder / "s.texnet", str(content_dir), cfg,
                                StyleConfig(generator=GeneratorConfig(scales=4, content_channels=3, norm="instance",
                                                                      padding="replicate")),
                                progress=False, log=messages.append)
    return path, history, messages


def test_style_training_lowers_the_loss_and_reports_bad_files(style_model):
    path, history, messages = style_model
    total = history.terms["total"]
    assert sum(total[-5:]) / 5 < 0.7 * sum(total[:5]) / 5
    assert {"style", "content", "total"} <= set(history.terms)
    assert sum("skipped 1 unreadable" in m and "broken.png" in m for m in messages) == 1
    generator, meta = load_style_model(path)
    assert meta["kind"] == "style" and sorted(meta["content_pool"]["images"]) == ["coffee.jpg", "rocket.webp"]
    assert (path.parent / "s.texnet.previews" / "iter_000150.png").exists()


def test_default_pool_holds_out_the_bench_photos():
    from texnet.style import HELD_OUT_PHOTOS

    pool = ContentPool.load(None, 32, log=lambda *a: None)
    assert len(pool.images) >= 5
    assert not {Path(n).stem for n in pool.names} & set(HELD_OUT_PHOTOS)


def test_content_pool_crops_and_empty_pool(tmp_path, content_dir):
    pool = ContentPool.load(content_dir, 24, quiet)
    crops = pool.crops(3, 24, torch.Generator().manual_seed(0))
    assert crops.shape == (3, 3, 24, 24)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(TexnetError, match="no usable content images"):
        ContentPool.load(tmp_path / "empty", 24, quiet)


@pytest.mark.parametrize("size", [(17, 31), (64, 45), (1, 1), (14, 25)])
def test_output_size_equals_input_size(style_model, size):
    generator, _ = load_style_model(style_model[0])
    content = torch.rand(3, *size)
    assert stylize_tensor(generator, content, StylizeOptions()).shape == (3, *size)


def test_tiled_stylization_matches_whole_image_and_has_no_seams(style_model):
    torch.manual_seed(0)
    generator, _ = load_style_model(style_model[0])
    content = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 14), size=(150, 170), mode="bilinear")[0]
    whole = stylize_tensor(generator, content, StylizeOptions(tile=1000))
    # with the whole photo's statistics, tiles differ from one pass only near their borders
    tiled = stylize_tensor(generator, content, StylizeOptions(tile=64, overlap=24, stats_size=1000))
    assert tiled.shape == whole.shape
    diff = (tiled - whole).abs()
    assert diff.mean() < 0.02
    # no seam: the jump between neighbouring columns is no larger at tile borders than elsewhere
    jumps = (tiled[..., 1:] - tiled[..., :-1]).abs().mean(dim=(0, 1))
    borders = [x - 1 for x in (40, 80, 120)]  # tile starts step by 40 px (64 - 24, aligned to 8)
    assert jumps[borders].max() < 2.5 * jumps.median()
    # statistics from a downscaled photo (what very large photos use) stand in for the photo's own: the less it
    # is downscaled, the closer to one pass (how close depends on the trained weights, so on the CPU's kernels)
    far = [(stylize_tensor(generator, content, StylizeOptions(tile=64, overlap=24, stats_size=side)) - whole).abs().mean()
           for side in (64, 16)]
    assert far[0] < 0.5 * far[1]


def test_preserve_color_keeps_the_chroma():
    content = load_image("coffee")[:, 100:164, 200:264]
    stylized = 0.35 + 0.3 * torch.rand(3, 64, 64)  # mid-tones: the recombination stays in gamut
    out = preserve_color(stylized, content)
    assert (rgb_to_ycbcr(out)[1:] - rgb_to_ycbcr(content)[1:]).abs().mean() < 0.01
    assert (rgb_to_ycbcr(out)[0] - rgb_to_ycbcr(stylized)[0]).abs().mean() < 0.01
    # and the chroma really changed compared with the stylized input
    assert (rgb_to_ycbcr(stylized)[1:] - rgb_to_ycbcr(content)[1:]).abs().mean() > 0.03


def _color_distance(a, b):
    """Mean over channels of the W1 distance between the pixel histograms of two images (3, H, W)."""
    qa = torch.quantile(a.reshape(3, -1), torch.linspace(0.01, 0.99, 50), dim=1)
    qb = torch.quantile(b.reshape(3, -1), torch.linspace(0.01, 0.99, 50), dim=1)
    return float((qa - qb).abs().mean())


def _layout_fit(out, photo):
    """How much of the photo's grey layout (at 1/8 scale) a quadratic colour map of `out` explains (R^2).

    A style recolours the photo: dark and bright regions may trade places or meet in one hue, so a plain
    grey-level correlation scored the same kind of output anywhere from 0.04 to 0.96 across CPUs. Any
    smooth recolouring keeps this high; another photo's layout does not fit."""
    pooled = torch.nn.functional.avg_pool2d(out[None], 8)[0].reshape(3, -1).T.double()
    square = torch.stack([pooled[:, i] * pooled[:, j] for i in range(3) for j in range(i, 3)], dim=1)
    design = torch.cat([pooled, square, torch.ones(len(pooled), 1, dtype=torch.float64)], dim=1)
    grey = torch.nn.functional.avg_pool2d(photo.mean(0, keepdim=True)[None], 8).reshape(-1, 1).double()
    fit = design @ torch.linalg.lstsq(design, grey).solution
    return float(1 - ((fit - grey) ** 2).sum() / ((grey - grey.mean()) ** 2).sum())


def test_stylized_photo_takes_the_style_colours_and_keeps_the_layout(style_model):
    generator, _ = load_style_model(style_model[0])
    style = load_image("ihc")[:, :64, :64]
    photo = load_image("astronaut")[:, 100:228, 150:278]
    other = load_image("coffee")[:, 100:228, 200:328]
    out = stylize_tensor(generator, photo, StylizeOptions())
    assert (out - photo).abs().mean() > 0.05  # it did something
    assert _color_distance(out, style) < 0.7 * _color_distance(photo, style)  # towards the painting's colours
    # the photo's dark and bright regions are where they were, whatever colours the style gave them
    # (across kernel families: own 0.55-0.94, another photo's 0.03-0.23)
    own, foreign = _layout_fit(out, photo), _layout_fit(out, other)
    assert own > 0.4 and own > foreign + 0.25, (own, foreign)


def test_noise_scale_moves_the_result_further_the_larger_it_is(style_model):
    generator, _ = load_style_model(style_model[0])
    content = load_image("astronaut")[:, :64, :64]
    plain = stylize_tensor(generator, content, StylizeOptions(noise_scale=0.0))
    moved = [float((stylize_tensor(generator, content, StylizeOptions(noise_scale=s)) - plain).abs().mean())
             for s in (0.5, 2.0, 8.0)]
    assert 0 < moved[0] < moved[1] < moved[2], moved


def _write_video(path, frames=5, size=(34, 46), fps=8):
    import imageio.v2 as iio

    rng = np.random.default_rng(0)
    kwargs = {"duration": 1000 / fps, "loop": 0} if path.suffix == ".gif" else {"fps": fps, "macro_block_size": 1}
    with iio.get_writer(str(path), **kwargs) as writer:
        for _ in range(frames):
            writer.append_data((rng.random((*size, 3)) * 255).astype(np.uint8))


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_video_round_trip_keeps_frames_size_and_rate(style_model, tmp_path, suffix):
    import imageio.v2 as iio

    generator, _ = load_style_model(style_model[0])
    src = tmp_path / f"clip{suffix}"
    _write_video(src)
    out = stylize_paths(TorchBackend(generator), [str(src)], tmp_path / f"out{suffix}", StylizeOptions(), progress=False)[0]
    reader = iio.get_reader(str(out))
    meta = reader.get_meta_data()
    frames = [f for f in reader]
    assert len(frames) == 5 and frames[0].shape[:2] == (34, 46)
    fps = meta["fps"] if "fps" in meta else 1000 / meta["duration"]
    assert abs(fps - 8) < 0.5


class RecordingBackend(TorchBackend):
    """Remembers the noise each call got."""

    def __init__(self, generator):
        super().__init__(generator)
        self.noises = []

    def run(self, content, noise, stats=None):
        self.noises.append([z.copy() for z in noise])
        return super().run(content, noise, stats)


def test_video_frames_share_the_noise_and_a_still_video_stays_still(style_model, tmp_path, monkeypatch):
    import texnet.stylizer as stylize

    generator, _ = load_style_model(style_model[0])
    frame = (np.random.default_rng(1).random((30, 40, 3)) * 255).astype(np.uint8)
    # a still clip: every decoded frame is the same picture
    monkeypatch.setattr(stylize, "_frames", lambda path: ((frame.copy() for _ in range(4)), 10.0, 4))
    backend = RecordingBackend(generator)
    outputs = []
    original = backend.run
    backend.run = lambda *a, **k: outputs.append(original(*a, **k)) or outputs[-1]
    stylize.stylize_video(backend, tmp_path / "still.mp4", tmp_path / "out.gif", StylizeOptions(), progress=False)
    assert len(backend.noises) == 4 and len(outputs) == 4
    for noise in backend.noises[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(noise, backend.noises[0]))
    assert all(np.array_equal(outputs[0], o) for o in outputs[1:])  # a still video stays still
    assert np.abs(outputs[0].transpose(1, 2, 0) * 255 - frame).mean() > 5  # and it was stylized
    assert (tmp_path / "out.gif").stat().st_size > 0


def test_corrupt_video_is_an_error_and_writes_nothing(style_model, tmp_path):
    generator, _ = load_style_model(style_model[0])
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    with pytest.raises(TexnetError, match="cannot read"):
        stylize_paths(TorchBackend(generator), [str(bad)], tmp_path / "o.mp4", StylizeOptions(), progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_folder_round_trip_mirrors_tree_and_skips_bad_files(style_model, content_dir, tmp_path, capsys):
    code = main(["stylize", str(style_model[0]), str(content_dir), "-o", str(tmp_path / "out"), "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 0
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["astronaut.png", "coffee.jpg", "sub/rocket.webp"]
    assert "skipped" in out and "broken.png" in out
    assert Image.open(tmp_path / "out" / "coffee.jpg").size == (96, 80)


def test_cli_bad_inputs(style_model, tmp_path, capsys):
    texture = MultiScaleGenerator(GeneratorConfig(scales=3))
    from texnet.modelfile import save_model

    texture_model = save_model(tmp_path / "tex.texnet", texture, {"kind": "texture"})
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 40)).save(photo)
    (tmp_path / "empty").mkdir()
    corrupt = tmp_path / "c.png"
    corrupt.write_bytes(b"nope")
    keep = tmp_path / "keep.png"
    keep.write_bytes(b"old")
    cases = [
        (["stylize", texture_model, photo, "-o", keep], "not a style model"),
        (["stylize", style_model[0], tmp_path / "empty", "-o", tmp_path / "o"], "no images or videos"),
        (["stylize", style_model[0], corrupt, "-o", keep], "not an image"),
        (["stylize", style_model[0], tmp_path / "missing.png", "-o", keep], "not found"),
        (["stylize", style_model[0], photo, "-o", keep, "--size", "axb"], "bad size"),
        (["train-style", photo, "-o", tmp_path / "m.texnet", "--content", tmp_path / "empty", "--iterations", "1"],
         "no usable content images"),
    ]
    for argv, message in cases:
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and message in err[0], (argv, err)
        assert keep.read_bytes() == b"old"


def test_cli_content_layers_and_tone_weight_reach_the_loss_and_bad_values_are_usage_errors(content_dir, tmp_path,
                                                                                           capsys):
    style = tmp_path / "style.png"
    save_image(load_image("ihc")[:, :48, :48], style)
    out = tmp_path / "c.texnet"
    assert main([str(a) for a in ["train-style", style, "-o", out, "--content", content_dir, "--iterations", "2",
                                  "--size", "32", "--batch-size", "1", "--scales", "4", "--content-layers", "relu2_2, relu4_2",
                                  "--tone-weight", "2", "--quiet"]]) in (0, None)
    _, meta = load_style_model(out)
    assert meta["loss"]["content_layers"] == ["relu2_2", "relu4_2"]
    assert meta["loss"]["tone_weight"] == 2.0
    assert "tone" in meta["training"]["final_loss"]
    with pytest.raises(SystemExit) as exc:
        main(["train-style", str(style), "-o", str(out), "--content-layers", "relu9_9"])
    assert exc.value.code == 2 and "relu9_9" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["train-style", str(style), "-o", str(out), "--tone-weight", "-1"])
    assert exc.value.code == 2 and "--tone-weight" in capsys.readouterr().err
