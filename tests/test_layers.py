"""texnet.layers: the building blocks the model and its inference forms share."""

import torch

from texnet.layers import CircularPad, InstanceNorm, circular_padded, nearest_rows, upsample_nearest


def test_instance_norm_matches_pytorchs_and_its_gradients():
    """texnet's InstanceNorm (statistics from two reductions, one scale and shift) is instance norm."""
    torch.manual_seed(0)
    norm = InstanceNorm(5)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.uniform_(-0.5, 0.5)
    x = (torch.randn(2, 5, 9, 7) * 3 + 4).requires_grad_()  # an offset mean, as after a convolution
    ours = norm(x)
    ref = torch.nn.functional.instance_norm(x, weight=norm.weight, bias=norm.bias, eps=norm.eps)
    assert torch.allclose(ours, ref, atol=1e-4)
    g1, = torch.autograd.grad(ours.square().sum(), x)
    g2, = torch.autograd.grad(ref.square().sum(), x)
    assert torch.allclose(g1, g2, atol=1e-3)
    flat = norm(torch.full((1, 5, 1, 1), 2.0))  # a 1x1 map normalises to 0: the output is the bias
    assert torch.allclose(flat, norm.bias.view(1, 5, 1, 1), atol=1e-3)


def test_circular_padding_wraps_any_border():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    for border in (1, 2, 7):  # 7: more than the image, wrapping more than once
        expected = x.repeat(1, 1, 5, 5)[:, :, 8 - border:12 + border, 10 - border:15 + border]  # around copy 3
        assert torch.equal(circular_padded(x, border, border, border, border), expected)
        assert torch.equal(CircularPad(border)(x), expected)
    assert torch.equal(CircularPad(0)(x), x)


def test_nearest_rows_is_the_row_map_of_nearest_upsampling():
    grid = torch.arange(7, dtype=torch.float32).view(1, 1, 7, 1)
    for out in (7, 14, 15, 3):
        assert torch.equal(upsample_nearest(grid, (out, 1)).view(-1).long(), nearest_rows(out, 7))
