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


def test_the_training_pad_gives_f_pads_values_and_gradients():
    from texnet.layers import _CircularPad

    for shape, p in (((2, 3, 5, 7), 1), ((1, 4, 3, 3), 2), ((2, 2, 8, 6), 1)):
        x = torch.randn(*shape, requires_grad=True)
        ours, theirs = _CircularPad.apply(x, p), torch.nn.functional.pad(x, (p,) * 4, mode="circular")
        assert torch.equal(ours, theirs)
        weights = torch.randn(ours.shape)
        g1, = torch.autograd.grad((ours * weights).sum(), x)
        g2, = torch.autograd.grad((theirs * weights).sum(), x)
        assert torch.allclose(g1, g2, atol=1e-6)


def test_a_circular_conv_trains_as_nn_conv2d():
    from texnet.layers import Conv2d

    torch.manual_seed(0)
    ours = Conv2d(4, 5, 3, padding=1, padding_mode="circular")
    theirs = torch.nn.Conv2d(4, 5, 3, padding=1, padding_mode="circular")
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 9, 6, requires_grad=True)
    a, b = ours(x), theirs(x)
    assert torch.allclose(a, b, atol=1e-6)
    ga = torch.autograd.grad(a.square().sum(), [x, ours.weight])
    gb = torch.autograd.grad(b.square().sum(), [x, theirs.weight])
    assert all(torch.allclose(u, v, atol=1e-4) for u, v in zip(ga, gb))
