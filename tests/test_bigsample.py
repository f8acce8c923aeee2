"""texnet.bigsample: huge textures band by band into a tiled, pyramidal TIFF, equal to texnet sample's pixels."""

import numpy as np
import pytest
from helpers import trained_like

from texnet import bigsample
from texnet.cli import main
from texnet.generators import GeneratorConfig
from texnet.inference import prepare


def _as_saved(image):
    return (image.float().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_bands_equal_the_one_process_sample_pixel_for_pixel(tmp_path, norm, monkeypatch):
    from texnet.inference import generator as inference_generator

    monkeypatch.setattr(inference_generator, "STATISTICS_SIDE", 200)  # instance norm: strips with a stand-in
    g = prepare(trained_like(GeneratorConfig(scales=4, norm=norm)))
    width, height = 530, 700  # larger than one pass (512 x 512 px), odd bands, a short last tile row
    expected = _as_saved(g.sample(width, height, seed=9, max_pixels_at_once=512 * 512)[0])
    path = bigsample.sample_to_tiff(g, width, height, 9, tmp_path / "big.tif", progress=False)
    assert np.array_equal(bigsample.read_level(path), expected)
    assert [bigsample.read_level(path, i).shape[:2] for i in (1, 2)] == [(350, 265), (175, 133)]
    corner = (expected[:2, :2].reshape(-1, 3).astype(int).sum(0) + 2) // 4  # a 2x2 mean
    assert bigsample.read_level(path, 1)[0, 0].tolist() == corner.tolist()


def test_the_cli_writes_a_tiled_pyramid_for_tif_outputs_and_refuses_what_it_cannot(tmp_path, capsys, monkeypatch):
    import texnet.cli

    monkeypatch.setattr(texnet.cli, "BIG_FROM_PIXELS", 100 * 100)
    assert main(["sample", "brick", "--size", "300x120", "--seed", "2", "-o", str(tmp_path / "b.tif"), "--quiet"]) == 0
    assert "3 levels" not in capsys.readouterr().out
    image = bigsample.read_level(tmp_path / "b.tif")
    assert image.shape == (120, 300, 3) and image.std() > 5
    for argv, message in ((["-n", "2"], "one sample"), (["--tile-preview"], "one sample")):
        assert main(["sample", "brick", "--size", "300x120", "-o", str(tmp_path / "c.tif"), *argv]) == 1
        assert message in capsys.readouterr().err
    assert main(["sample", "brick", "--size", "20000x20000", "-o", str(tmp_path / "d.png")]) == 1
    assert "a .tif output takes larger sizes" in capsys.readouterr().err
