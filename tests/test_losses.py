import math

import pytest
import torch

from texnet.losses import (GramLoss, SlicedWassersteinLoss, build_texture_loss, content_loss, diversity_loss, gram,
                           tone_loss, total_variation)


def naive_gram(f):
    c, h, w = f.shape
    g = torch.zeros(c, c, dtype=torch.float64)
    for i in range(c):
        for j in range(c):
            g[i, j] = (f[i].double() * f[j].double()).sum() / (h * w)
    return g


def test_gram_matches_naive_loops():
    torch.manual_seed(0)
    f = torch.randn(2, 5, 7, 3)
    g = gram(f)
    assert g.shape == (2, 5, 5)
    for b in range(2):
        assert torch.allclose(g[b].double(), naive_gram(f[b]), atol=1e-5)


def test_gram_loss_matches_naive_sum_over_layers():
    torch.manual_seed(1)
    target = {"a": torch.randn(1, 4, 6, 6), "b": torch.randn(1, 8, 3, 3)}
    x = {"a": torch.randn(3, 4, 5, 9), "b": torch.randn(3, 8, 2, 4)}
    weights = {"a": 0.5, "b": 2.0}
    loss = GramLoss(target, ["a", "b"], weights)
    got = loss(x)
    assert got.shape == (3,)
    for n in range(3):
        expected = 0.0
        for name, w in weights.items():
            diff = naive_gram(x[name][n]) - naive_gram(target[name][0])
            expected += w * (diff**2).sum() / (naive_gram(target[name][0]) ** 2).sum()
        assert abs(float(got[n]) - float(expected)) < 1e-4 * max(1.0, float(expected))
    # "paper" weighting is the plain sum; the relative errors stay available for measurements
    paper = GramLoss(target, ["a", "b"], weighting="paper")
    raw = sum(((naive_gram(x[k][0]) - naive_gram(target[k][0])) ** 2).sum() for k in ("a", "b"))
    assert abs(float(paper(x)[0]) - float(raw)) < 1e-4 * float(raw)
    assert set(paper.relative(x)) == {"a", "b"}


def test_gram_loss_is_zero_for_the_exemplar_and_size_independent():
    torch.manual_seed(2)
    f = torch.rand(1, 3, 8, 8)
    loss = GramLoss({"l": f}, ["l"])
    assert float(loss({"l": f})) < 1e-12
    # the same statistics on a 2x2 tiled copy: Gram is normalised by area
    assert float(loss({"l": f.repeat(1, 1, 2, 2)})) < 1e-10


def test_floor_weighting_divides_by_the_floor():
    torch.manual_seed(3)
    target = {"a": torch.rand(1, 4, 6, 6)}
    x = {"a": torch.rand(2, 4, 6, 6)}
    relative = GramLoss(target, ["a"])
    floored = GramLoss(target, ["a"], weighting="floor")
    floored.floor = {"a": 0.25}
    assert torch.allclose(floored(x), 4 * relative(x))
    with pytest.raises(ValueError):
        GramLoss(target, ["a"], weighting="nope")


def test_swd_is_zero_for_the_same_distribution_and_sees_what_gram_misses():
    torch.manual_seed(4)
    # two 1-channel-pair distributions with the same second moments but different shapes:
    # +-1 (two spikes) against a Gaussian scaled to the same variance
    n = 64 * 64
    spikes = (torch.randint(0, 2, (1, 2, 64, 64)).float() * 2 - 1)
    gauss = torch.randn(1, 2, 64, 64)
    gauss = gauss / gauss.pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
    spikes_g, gauss_g = GramLoss({"l": spikes}, ["l"]), SlicedWassersteinLoss({"l": spikes}, ["l"])
    assert float(spikes_g({"l": gauss})) < 0.01  # Gram: nearly identical
    rng = torch.Generator().manual_seed(0)
    assert float(gauss_g({"l": gauss}, rng)) > 0.1  # sliced Wasserstein: clearly different
    # a shuffled copy of the exemplar has exactly its distribution
    shuffled = spikes.reshape(1, 2, n)[:, :, torch.randperm(n)].reshape(1, 2, 64, 64)
    assert float(gauss_g({"l": shuffled}, rng)) < 0.02
    assert n == 4096 and math.isfinite(float(gauss_g({"l": gauss})))


def test_swd_handles_different_sizes_and_is_repeatable_with_a_seeded_rng():
    torch.manual_seed(5)
    target = {"l": torch.rand(1, 3, 40, 40)}
    loss = build_texture_loss("swd", target, ["l"])
    x = {"l": torch.rand(2, 3, 9, 13, requires_grad=True)}
    a = loss(x, torch.Generator().manual_seed(7))
    b = loss(x, torch.Generator().manual_seed(7))
    assert a.shape == (2,) and torch.equal(a, b)
    a.sum().backward()
    assert x["l"].grad is not None and x["l"].grad.abs().sum() > 0
    with pytest.raises(ValueError):
        build_texture_loss("nope", target, ["l"])


def test_diversity_loss_rewards_distinct_samples():
    same = torch.rand(1, 8, 4, 4).repeat(3, 1, 1, 1) + 1e-3 * torch.rand(3, 8, 4, 4)
    distinct = torch.rand(3, 8, 4, 4)
    assert float(diversity_loss(distinct)) < float(diversity_loss(same))
    x = torch.rand(2, 8, 4, 4, requires_grad=True)
    diversity_loss(x).backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        diversity_loss(torch.rand(1, 8, 4, 4))


def test_content_loss_and_tv():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.ones(2, 3, 4, 4)
    assert torch.allclose(content_loss({"relu4_2": a}, {"relu4_2": b}), torch.ones(2))
    assert torch.allclose(total_variation(b), torch.zeros(2))
    stripes = torch.zeros(1, 3, 4, 4)
    stripes[..., ::2] = 1
    assert float(total_variation(stripes)) == 1.0


def test_tone_loss_sees_inversion_but_not_brightness_contrast_or_detail():
    g = torch.Generator().manual_seed(0)
    photo = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=64, mode="bilinear")
    assert float(tone_loss(photo, photo)) < 1e-5
    assert float(tone_loss(0.2 + 0.5 * photo, photo)) < 1e-5  # the painting may set brightness and contrast
    assert float(tone_loss(1 - photo, photo)) > 1.99  # a night sky turned pale costs the most
    strokes = photo + 0.3 * (torch.rand(1, 3, 64, 64, generator=g) - 0.5)  # detail inside the 8 px regions
    assert float(tone_loss(strokes, photo)) < 0.05
    flat = torch.full_like(photo, 0.5).requires_grad_()
    flat.data += 1e-3 * torch.rand(flat.shape, generator=g)
    loss = tone_loss(torch.cat([flat, flat]), torch.cat([photo, photo]))
    assert loss.shape == (2,)
    loss.sum().backward()
    assert torch.isfinite(flat.grad).all() and flat.grad.abs().sum() > 0


def test_swd_quantile_target_and_more_projections():
    torch.manual_seed(6)
    target = {"l": torch.rand(1, 3, 40, 40)}
    # a quarter of the target's positions, taken at random: its quantiles match the target's closely
    sub = {"l": target["l"].reshape(1, 3, -1)[:, :, torch.randperm(1600)[:400]].reshape(1, 3, 20, 20)}
    exact = build_texture_loss("swd", target, ["l"], options={"quantiles": True, "projections": 4})
    resampled = build_texture_loss("swd", target, ["l"])
    rng = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert float(exact(sub, rng())) < float(resampled(sub, rng()))  # no resampling noise in the target
    assert float(exact(target, rng())) < 1e-10  # the exemplar itself: zero, whatever the directions
    assert exact.describe()["quantiles"] is True and exact.describe()["projections"] == 4
    # the interpolated quantiles of a sorted row
    from texnet.losses import _quantiles
    assert torch.allclose(_quantiles(torch.tensor([[0.0, 1.0, 2.0, 3.0]]), 2), torch.tensor([[0.5, 2.5]]))


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("shape", [(2, 7, 300), (3, 5, 9000)])  # one thread; rows shared among threads
def test_sorting_on_the_cpu_gives_torch_sorts_values_and_gradients(shape, two_threads, monkeypatch):
    from texnet import losses
    from texnet.losses import sorted_last

    monkeypatch.setattr(losses, "PARALLEL_SORT_MIN", 10_000)
    numel = shape[0] * shape[1] * shape[2]
    x = (torch.randperm(numel).float() / numel).view(shape).requires_grad_()  # no ties: one order only
    ours, theirs = sorted_last(x), x.sort(dim=-1).values
    assert torch.equal(ours, theirs)
    weights = torch.randn(shape[-1])
    g1, = torch.autograd.grad((ours * weights).sum(), x)
    g2, = torch.autograd.grad((theirs * weights).sum(), x)
    assert torch.equal(g1, g2)
    with torch.no_grad():
        assert torch.equal(sorted_last(x), theirs)


def test_swd_takes_a_window_of_a_large_target_and_the_quantiles_of_a_small_one():
    from texnet.losses import SlicedWassersteinLoss

    big = {"relu1_1": torch.randn(1, 4, 40, 40)}
    small = {"relu1_1": torch.randn(1, 4, 10, 10)}
    sample = {"relu1_1": torch.randn(2, 4, 20, 20)}
    for exemplar in (big, small):
        loss = SlicedWassersteinLoss(exemplar, ["relu1_1"], weighting="paper")
        value = loss.raw("relu1_1", sample, torch.Generator().manual_seed(0))
        assert value.shape == (2,) and torch.isfinite(value).all() and (value > 0).all()
        # the exemplar against itself: near zero, far below a different distribution
        same = loss.raw("relu1_1", exemplar, torch.Generator().manual_seed(1))
        shifted = loss.raw("relu1_1", {"relu1_1": exemplar["relu1_1"] + 1.0}, torch.Generator().manual_seed(1))
        assert float(same) < 0.1 * float(shifted)


def test_swd_positions_compares_a_random_subset_that_still_tells_distributions_apart():
    from texnet.losses import SlicedWassersteinLoss

    g = torch.Generator().manual_seed(2)
    exemplar = {"l": torch.randn(1, 4, 64, 64, generator=g)}
    capped = SlicedWassersteinLoss(exemplar, ["l"], weighting="paper", positions=256)
    x = torch.randn(2, 4, 32, 32, generator=g).requires_grad_()
    value = capped.raw("l", {"l": x}, torch.Generator().manual_seed(0))
    value.sum().backward()
    touched = (x.grad.abs().sum(dim=1) > 0).flatten(1).sum(dim=1)
    assert touched.tolist() == [256, 256]  # the gradient reaches only the compared positions
    # a fresh draw of the exemplar's distribution scores far below a shifted one, as without the cap
    same = capped.raw("l", {"l": torch.randn(1, 4, 64, 64, generator=g)}, torch.Generator().manual_seed(1))
    shifted = capped.raw("l", {"l": torch.randn(1, 4, 64, 64, generator=g) + 1.0}, torch.Generator().manual_seed(1))
    assert float(same) < 0.1 * float(shifted)
    assert capped.describe()["positions"] == 256
    small = {"l": torch.randn(1, 4, 8, 8, generator=g)}  # fewer positions than the cap: all of them, as before
    full = SlicedWassersteinLoss(exemplar, ["l"], weighting="paper")
    assert torch.equal(capped.raw("l", small, torch.Generator().manual_seed(3)),
                       full.raw("l", small, torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="positions"):
        SlicedWassersteinLoss(exemplar, ["l"], positions=0)
