"""texnet.inference.upconv: a 3x3 convolution over [coarse upsampled 2x, fine] computed on the coarse grid."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from texnet.inference import upconv

pytestmark = pytest.mark.skipif(not upconv._fused_ops_available(),
                                reason="this PyTorch build lacks oneDNN's fused convolution ops (upconv's only path)")


def _window(x: torch.Tensor, r: torch.Tensor, c: torch.Tensor, mode: str) -> torch.Tensor:
    """Rows r and columns c of x (any integers), outside x as a convolution pads in `mode`."""
    h, w = x.shape[2:]
    if mode == "circular":
        return x[:, :, r % h][:, :, :, c % w]
    out = x[:, :, r.clamp(0, h - 1)][:, :, :, c.clamp(0, w - 1)]
    if mode == "zeros":
        out = out * (((r >= 0) & (r < h))[:, None] & ((c >= 0) & (c < w))[None, :])
    return out


def _padded(x: torch.Tensor, r0: int, c0: int, rows: int, cols: int, mode: str) -> torch.Tensor:
    """A 3x3 convolution's input for output rows r0 .. r0+rows-1 and columns c0 .. c0+cols-1."""
    return _window(x, torch.arange(r0 - 1, r0 + rows + 1), torch.arange(c0 - 1, c0 + cols + 1), mode)


def _reference(conv: nn.Conv2d, coarse: torch.Tensor, fine: torch.Tensor, r0: int, c0: int, rows: int, cols: int,
               mode: str) -> torch.Tensor:
    """The plain way: upsample, concatenate, pad, convolve."""
    x = torch.cat([F.interpolate(coarse, scale_factor=2, mode="nearest"), fine], dim=1)
    return conv(_padded(x, r0, c0, rows, cols, mode))


def _coarse_rows(coarse: torch.Tensor, r0: int, rows: int, c0: int, cols: int, mode: str) -> torch.Tensor:
    """The coarse rows and columns that upconv.conv reads for that output (coarse_span)."""
    return _window(coarse, torch.arange(*upconv.coarse_span(r0, rows)), torch.arange(*upconv.coarse_span(c0, cols)),
                   mode)


@pytest.mark.parametrize("mode", upconv.PADDING_MODES)
@pytest.mark.parametrize("h1,w1,r0,c0,rows,cols,batch", [(5, 7, -1, -1, 12, 16, 1), (6, 4, 0, 0, 12, 8, 2),
                                                          (9, 9, 3, -2, 7, 9, 1), (4, 4, -2, 1, 5, 6, 1)])
def test_equals_the_convolution_of_the_upsampled_input(mode, h1, w1, r0, c0, rows, cols, batch):
    torch.manual_seed(0)
    conv = nn.Conv2d(6 + 3, 5, 3)
    coarse, fine_full = torch.randn(batch, 6, h1, w1), torch.randn(batch, 3, 2 * h1, 2 * w1)
    expected = _reference(conv, coarse, fine_full, r0, c0, rows, cols, mode)
    fine = _padded(fine_full, r0, c0, rows, cols, mode)
    with torch.inference_mode():
        got = upconv.conv(conv, _coarse_rows(coarse, r0, rows, c0, cols, mode), fine, r0, c0)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 1e-5


def test_phase_kernels_follow_the_weights():
    """The 2x2 phase kernels are kept on the module and made again when its weight changes (training)."""
    torch.manual_seed(1)
    conv = nn.Conv2d(4 + 2, 3, 3)
    coarse, fine_full = torch.randn(1, 4, 4, 4), torch.randn(1, 2, 8, 8)
    x = _coarse_rows(coarse, 0, 8, 0, 8, "circular")
    fine = _padded(fine_full, 0, 0, 8, 8, "circular")
    for _ in range(2):
        with torch.inference_mode():
            got = upconv.conv(conv, x, fine, 0, 0)
        assert (got - _reference(conv, coarse, fine_full, 0, 0, 8, 8, "circular")).abs().max() < 1e-5
        with torch.no_grad():
            conv.weight.add_(torch.randn(conv.weight.shape))


def test_runs_only_where_it_can():
    conv = nn.Conv2d(8, 4, 3)
    cpu = torch.device("cpu")
    assert upconv.available(conv, 6, torch.float32, cpu)
    assert not upconv.available(conv, 6, torch.bfloat16, cpu)
    assert not upconv.available(nn.Conv2d(8, 4, 1), 6, torch.float32, cpu)  # 1x1: nothing to gain
    assert not upconv.available(nn.Conv2d(8, 4, 3, dilation=2), 6, torch.float32, cpu)
    assert not upconv.available(conv, 8, torch.float32, cpu)  # no fine channels
    with pytest.raises(ValueError):
        upconv.conv(conv, torch.randn(1, 6, 2, 2), torch.randn(1, 2, 10, 10), 0, 0)  # too few coarse rows
