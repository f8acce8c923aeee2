import pytest
import torch

from texnet.images import load_image, tile
from texnet.quality import (QualityMeter, contact_sheet, diversity, exemplar_crops, measuring_size, ratios, seam_score,
                            shift_similarity)


def test_seam_score_and_diversity():
    # stationary and periodic: noise smoothed with circular shifts
    noise = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0))
    periodic = sum(torch.roll(noise, (dy, dx), (1, 2)) for dy in range(3) for dx in range(3)) / 9
    assert abs(seam_score(periodic, grid=1) - 1) < 0.25
    assert abs(seam_score(periodic) - 1) < 0.25
    assert abs(seam_score(tile(periodic)) - seam_score(periodic)) < 1e-2  # tiling a periodic image adds nothing
    # the same noise smoothed without wrap-around is not periodic: its seam shows
    smooth = torch.nn.functional.avg_pool2d(noise[None], 3, stride=1)[0]
    ramp = smooth + torch.linspace(0, 1, smooth.shape[-1])
    assert seam_score(ramp) > 3 and seam_score(ramp, grid=1) > 3
    same = torch.rand(1, 3, 8, 8).repeat(3, 1, 1, 1)
    assert diversity(same) == 0
    assert diversity(torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])) == 1


def test_shift_similarity_sees_shifted_copies():
    g = torch.Generator().manual_seed(1)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 70, 70, generator=g), 3, stride=1)[0]
    shifted = torch.stack([base, torch.roll(base, (17, 5), (1, 2))])
    independent = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 70, 70, generator=g), 3, stride=1)
    assert shift_similarity(shifted) > 0.99
    assert shift_similarity(independent) < 0.3
    assert diversity(shifted) > 0.05  # pixel differences alone miss it


def test_exemplar_crops_do_not_overlap():
    image = torch.arange(3 * 8 * 12, dtype=torch.float32).reshape(3, 8, 12)
    crops = exemplar_crops(image, 4)
    assert crops.shape == (6, 3, 4, 4)
    assert len({float(c[0, 0, 0]) for c in crops}) == 6
    assert exemplar_crops(image, 5).shape[0] == 2
    assert exemplar_crops(image, 7) is None  # fewer than two disjoint crops


def test_measuring_size_keeps_two_disjoint_crops():
    assert measuring_size(512, 512, 256) == 256
    assert measuring_size(152, 192, 256) == 96  # one row of two crops along the longer side
    assert measuring_size(303, 384, 256) == 192
    assert measuring_size(40, 40, 256) == 32  # the descriptor's minimum
    for h, w in ((152, 192), (303, 384), (100, 400)):
        assert exemplar_crops(torch.zeros(3, h, w), measuring_size(h, w, 256)) is not None


def test_named_views_crop_and_scale_the_bundled_samples():
    from texnet.images import load_exemplar

    coins, info = load_exemplar("coins-half")
    full, _ = load_exemplar("coins")
    assert coins.shape[-2:] == (152, 192) and full.shape[-2:] == (303, 384)
    assert info["name"] == "coins-half" and info["longer_side"] == 192 and "crop" not in info
    # the half-scale view is the photo, smaller: close to the full photo pooled 2x2
    pooled = torch.nn.functional.interpolate(full, size=(152, 192), mode="area")
    assert (coins - pooled).abs().mean() < 0.03
    hubble, info = load_exemplar("hubble-crop")
    assert hubble.shape[-2:] == (512, 512) and info["crop"] == [244, 180, 512, 512] and "longer_side" not in info


def test_quality_meter_ranks_real_crops_above_noise_and_off_colours(hed_descriptor_spec):
    from texnet.descriptor import load_descriptor
    from texnet.losses import DEFAULT_TEXTURE_LAYERS

    descriptor, _ = load_descriptor(hed_descriptor_spec, DEFAULT_TEXTURE_LAYERS, "avg", "cpu", "fp32")
    exemplar = load_image("gravel")[:, :192, :192]
    meter = QualityMeter(descriptor, exemplar[None])
    crop = load_image("gravel")[:, 256:352, 256:352]  # another part of the same photo
    noise = torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(0))
    tinted = (crop * torch.tensor([1.0, 0.8, 0.6])[:, None, None])
    real, fake, tint = meter.distances(crop), meter.distances(noise), meter.distances(tinted)
    assert real["swd"] < 0.5 * fake["swd"] and real["gram"] < fake["gram"]
    assert tint["color"] > 3 * real["color"]
    assert meter.distances(crop) == real  # fixed directions: repeatable
    summary = meter.summary(torch.stack([crop, noise]))
    assert {"swd", "gram", "color", "diversity", "shift_similarity", "seam", "swd_relu4_1"} <= set(summary)
    assert ratios({"swd": 2.0, "gram": 1.0}, {"swd": 4.0, "gram": 0.5}) == {"swd_ratio": 0.5, "gram_ratio": 2.0}
    sheet = contact_sheet([("a", crop), ("b", noise)], size=64)
    assert sheet.size == (128, 64 + 18)
    with pytest.raises(ValueError):
        QualityMeter(descriptor, exemplar[None], swd_layers=("relu5_3",))


def test_speckle_sees_dots_in_dark_flat_regions_only():
    from texnet.quality import speckle

    photo = torch.full((3, 64, 64), 0.1)
    photo[:, :, 32:] = torch.rand(3, 64, 32, generator=torch.Generator().manual_seed(0))  # bright, busy half
    clean = photo.clone()
    dotted = photo.clone()
    dotted[:, 5:30:6, 5:30:6] = 1.0  # white dots in the dark flat half
    assert speckle(clean, photo) < 0.01 < speckle(dotted, photo)
    assert speckle(clean, torch.rand(3, 64, 64)) is None  # no dark flat region to judge


def test_structure_sees_layout_not_colour_or_blank_images():
    from texnet.quality import structure

    g = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 16, 24, 24, generator=g)
    assert structure(photo, photo) == pytest.approx(1.0)
    assert structure(photo * 3 + 5, photo) == pytest.approx(1.0, abs=1e-5)  # per-channel level and gain do not count
    assert structure(torch.ones_like(photo), photo) == pytest.approx(0.0, abs=1e-6)  # a blank image keeps no layout
    other = torch.rand(1, 16, 24, 24, generator=g)
    assert abs(structure(other, photo)) < 0.1
    edge = torch.zeros(1, 16, 24, 24)
    edge[..., :2, :] = 1.0  # the same border pattern on both: dropped, so it does not count as shared layout
    assert abs(structure(other + edge, photo + edge)) < 0.1


def test_edge_halo_sees_relief_along_the_photos_edges():
    from texnet.quality import edge_halo

    g = torch.Generator().manual_seed(0)
    photo = torch.full((3, 64, 64), 0.3)
    photo[:, 16:48, 16:48] = 0.8  # a bright square: its outline is the photo's edges
    embossed = torch.full_like(photo, 0.5)
    embossed[:, 15:17, 16:48], embossed[:, 47:49, 16:48] = 1.0, 0.0  # a bright and a dark rim, flat elsewhere
    embossed[:, 16:48, 15:17], embossed[:, 16:48, 47:49] = 1.0, 0.0
    painted = 0.5 * photo + 0.5 * torch.rand(3, 64, 64, generator=g)  # strokes spread over the whole picture
    assert edge_halo(embossed, photo) > 10 * edge_halo(painted, photo)
    assert 0.5 < edge_halo(painted, photo) < 2.0
    assert edge_halo(photo, photo) > 10  # the photo itself has its detail on its edges
    assert edge_halo(painted, torch.full_like(photo, 0.3)) == 1.0  # a flat photo has no edges to judge


def test_stroke_energy_ranks_bold_strokes_above_soft_ones_and_ignores_flat_shading_and_pixel_noise():
    import torch.nn.functional as F

    from texnet.quality import stroke_energy

    g = torch.Generator().manual_seed(0)
    blobs = F.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=96, mode="nearest")[0]  # 6 px strokes
    bold, soft = blobs, 0.5 + 0.3 * (blobs - 0.5)  # the same strokes with less contrast
    assert stroke_energy(bold) > 3 * stroke_energy(soft)
    ramp = torch.linspace(0, 1, 96).expand(3, 96, 96)  # smooth shading: no strokes
    noise = 0.5 + 0.2 * (torch.rand(3, 96, 96, generator=g) - 0.5)  # pixel noise, averaged out by the fine blur
    assert stroke_energy(ramp) < 0.1 * stroke_energy(bold)
    assert stroke_energy(noise) < 0.2 * stroke_energy(bold)
    assert stroke_energy(torch.full((3, 96, 96), 0.4)) < 1e-6  # flat: nothing but rounding


def test_tone_sees_light_and_dark_inverted():
    from texnet.quality import tone

    g = torch.Generator().manual_seed(0)
    photo = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=64, mode="bilinear")[0]
    assert tone(photo, photo) == pytest.approx(1.0)
    assert tone(0.5 * photo + 0.3, photo) == pytest.approx(1.0)  # a darker, flatter copy keeps the order
    assert tone(1 - photo, photo) == pytest.approx(-1.0)  # a negative inverts it
    assert abs(tone(torch.rand(3, 64, 64, generator=g), photo)) < 0.3
    assert tone(torch.full_like(photo, 0.5), photo) == 0.0  # a blank image keeps no light and dark
