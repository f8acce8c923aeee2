"""texnet.noise against its documented formula, written again here in plain Python integers."""

import numpy as np
import pytest

from texnet import noise

MASK = 0xFFFFFFFF


def mix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x7FEB352D) & MASK
    h ^= h >> 15
    h = (h * 0x846CA68B) & MASK
    return h ^ (h >> 16)


def reference(seed: int, scale: int, channel: int, y: int, x: int) -> float:
    key = mix((mix((seed ^ 0x9E3779B9) & MASK) + (scale * 16 + channel) * 0x85EBCA6B) & MASK)
    row = mix((key + y * 0x9E3779B9) & MASK)
    return (mix(row ^ ((x * 0x85EBCA6B) & MASK)) >> 8) / 2**24


@pytest.mark.parametrize("channels,height,width", [
    (3, 7, 5),  # one band
    (3, 23, 4000),  # bands of two rows, the last one short
    (1, 3, 40000),  # rows wider than a band: one row per band
    (8, 1, 1),
])
def test_uniform_follows_the_formula_across_bands(channels, height, width):
    seed, scale = 2**31 - 5, 3
    z = noise.uniform(seed, scale, channels, height, width)
    assert z.shape == (channels, height, width) and z.dtype == np.float32
    points = {(c, y, x) for c in (0, channels - 1) for y in {0, min(1, height - 1), height // 2, height - 1}
              for x in {0, min(1, width - 1), width // 2, width - 1}}
    for c, y, x in points:
        assert z[c, y, x] == reference(seed, scale, c, y, x), (c, y, x)


def test_pyramid_values_do_not_depend_on_the_image_size_and_batches_count_seeds_up():
    small = noise.noise_pyramid(7, 2, 20, 30, scales=3)
    large = noise.noise_pyramid(7, 1, 64, 50, scales=3, amplitude=2.0)
    for s, (a, b) in enumerate(zip(small, large)):
        h, w = a.shape[-2:]
        assert np.array_equal(2 * a[0], b[0, :, :h, :w]), s
    assert np.array_equal(small[0][1], noise.noise_pyramid(8, 1, 20, 30, scales=1)[0][0])
    assert [z.shape for z in small] == [(2, 3, 20, 30), (2, 3, 10, 15), (2, 3, 5, 8)]
