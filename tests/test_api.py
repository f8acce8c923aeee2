"""texnet's public API: one call each to train, load, sample and stylize, with clear errors."""

import numpy as np
import pytest
import torch

import texnet
from texnet.errors import TexnetError


def test_sizes_are_width_then_height_everywhere():
    model = texnet.load("brick")
    assert model.kind == "texture"
    images = model.sample(48, 32, n=2, seed=3)
    assert tuple(images.shape) == (2, 3, 32, 48)
    assert torch.equal(images[1:], model.sample(48, 32, n=1, seed=4))  # sample i uses seed + i
    assert torch.equal(texnet.sample("brick", 48, 32, n=2, seed=3), images)


def test_bad_sizes_and_kinds_are_one_clear_error():
    brick = texnet.load("brick")
    for size in ((0, 10), (10, -1), (2.5, 10)):
        with pytest.raises(TexnetError, match="bad size"):
            brick.sample(*size)
    with pytest.raises(TexnetError, match="not a style model"):
        brick.stylize(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(TexnetError, match="not a texture model"):
        texnet.load("starry-night").sample(16, 16)
    with pytest.raises(TexnetError, match="not found"):
        texnet.load("no-such-model")


def test_stylize_takes_arrays_tensors_and_files(tmp_path):
    from texnet.images import load_image, save_image

    model = texnet.load("starry-night")
    photo = load_image("astronaut")[:, ::8, ::8]
    from_tensor = model.stylize(photo)
    assert from_tensor.shape == tuple(photo.shape) and from_tensor.dtype == np.float32
    assert np.array_equal(model.stylize(photo.numpy()), from_tensor)
    save_image(photo, tmp_path / "p.png")
    written = texnet.stylize(model, tmp_path / "p.png", tmp_path / "out.png")
    assert written == [tmp_path / "out.png"] and (tmp_path / "out.png").exists()


def test_train_texture_routes_every_override_and_refuses_unknown_ones(tmp_path, small_exemplar):
    model = texnet.train_texture(small_exemplar, tmp_path / "m.texnet", iterations=2, size=32, scales=3, loss="gram",
                                 preview_every=0, progress=False, log=lambda *_: None)
    training, loss = model.meta["training"], model.meta["loss"]
    assert (training["iterations"], training["size"]) == (2, 32)
    assert model.generator.cfg.scales == 3 and loss["kind"] == "gram"
    with pytest.raises(TexnetError, match="unknown training option 'iteratons'"):
        texnet.train_texture(small_exemplar, tmp_path / "n.texnet", iteratons=2)
    with pytest.raises(TexnetError, match="unknown preset 'fast'"):
        texnet.train_texture(small_exemplar, tmp_path / "n.texnet", preset="fast")
    assert not (tmp_path / "n.texnet").exists()
