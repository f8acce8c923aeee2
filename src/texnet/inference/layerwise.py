"""Instance-norm generators at inference: one layer at a time, each in horizontal strips.

Run whole-image, a conv -> instance norm -> activation layer moves its full-size activation
through memory once for every step: the padded copy, the convolution's output, two reductions
for the statistics, the scale, the shift, the activation. At 1024 px a style generator's finest
join holds 48 channels (48 x 1024 x 1024 floats: 200 MB a tensor), so these passes weigh as much
as the arithmetic. CPU only: infer() keeps forward() on other devices.

Here a layer's input stays as written by the convolution before it, together with the
per-channel steps still owed to it (this layer's norm as scale and shift, the activation).
Each strip of rows is read once, given those steps while it is in cache, padded, convolved,
written once, and its sums kept for the next norm's statistics. Norms standing between
layers (the ones in front of each join) need only a read-only pass for their statistics;
the upsampling into a join is done strip by strip too. Every per-image statistic is still
taken over the whole image, so the result is forward()'s up to float rounding
(tests/test_layerwise.py); frozen statistics (texnet.inference.use_statistics) are honoured.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from texnet.inference import upconv
from texnet.layers import InstanceNorm, nearest_rows

if TYPE_CHECKING:
    from texnet.inference.generator import InferenceGenerator

# Float32 convolutions on channels_last buffers: oneDNN runs these shapes faster so; the bf16 path stays
# channels-first, which was faster there (docs/performance.md).
CHANNELS_LAST_FLOAT32 = True
# Scales of at most this many pixels run module by module (MultiScaleGenerator.joined), as forward() runs them:
# at that size the layer-by-layer passes cost more in calls than they save in memory traffic (docs/performance.md).
MODULE_MAX_PIXELS = 64 * 64
STRIP_PIXELS = 64 * 1024  # pixels per strip: rows = STRIP_PIXELS // width (a few MB of activations: cache-sized)

Step = tuple[torch.Tensor, torch.Tensor, str | None]  # per-channel scale (N, C, 1, 1), shift, then an activation


def _layout(t: torch.Tensor) -> torch.memory_format:
    """channels_last when t's channels are its innermost dimension (views of channels_last buffers included)."""
    return torch.channels_last if t.dim() == 4 and t.shape[1] > 1 and t.stride(1) == 1 else torch.contiguous_format


def _apply(x: torch.Tensor, steps: Sequence[Step], out: torch.Tensor | None = None) -> torch.Tensor:
    """The steps on x (never in place on x), the last one written into `out` when given.

    Channels-first: mul then in-place add, as addcmul broadcasts per-channel operands slowly there; channels_last:
    addcmul, one pass (docs/performance.md)."""
    fused = _layout(x) == torch.channels_last
    for i, (scale, shift, act) in enumerate(steps):
        target = out if out is not None and i == len(steps) - 1 else None
        if fused:
            x = torch.addcmul(shift, x, scale, out=target) if target is not None else torch.addcmul(shift, x, scale)
        else:
            x = torch.mul(x, scale, out=target) if target is not None else x * scale
            x.add_(shift)
        if act == "leaky":
            F.leaky_relu_(x, 0.01)
        elif act == "relu":
            F.relu_(x)
    if out is not None and not steps:
        out.copy_(x)
    return x if out is None else out


class Source:
    """A full-size activation that can hand out any rows, fully computed, without being stored whole."""

    channels: int
    height: int
    width: int

    def write(self, index: torch.Tensor, out: torch.Tensor) -> None:
        """Rows `index` (all within 0..height-1) into out, a (N, channels, len(index), width) view."""
        raise NotImplementedError

    def rows(self, index: torch.Tensor, batch: int,
             memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
        out = torch.empty(batch, self.channels, len(index), self.width, memory_format=memory_format)
        self.write(index, out)
        return out

    def then(self, steps: list[Step]) -> "Source":
        """This source with per-channel steps applied after it."""
        raise NotImplementedError


class Stored(Source):
    """A convolution's output as it wrote it, strip by strip, with the steps (norm, activation) still owed to it.

    Kept as the strips the convolution returned (row start, tensor), not copied into one tensor: that copy,
    with the page faults of a fresh full-size tensor, was a large part of a stylization's time."""

    def __init__(self, data: torch.Tensor | list[tuple[int, torch.Tensor]], steps: list[Step] | None = None):
        self.chunks = [(0, data)] if isinstance(data, torch.Tensor) else data
        self.steps = steps or []
        self.starts = [a for a, _ in self.chunks]
        first = self.chunks[0][1]
        self.channels, self.width = first.shape[1], first.shape[3]
        self.height = self.chunks[-1][0] + self.chunks[-1][1].shape[2]

    def write(self, index: torch.Tensor, out: torch.Tensor) -> None:
        rows, i = index.tolist(), 0
        while i < len(rows):  # each run of consecutive rows within one strip: one slice
            k = bisect.bisect_right(self.starts, rows[i]) - 1
            a, t = self.chunks[k]
            end, j = a + t.shape[2], i + 1
            while j < len(rows) and rows[j] == rows[j - 1] + 1 and rows[j] < end:
                j += 1
            _apply(t[:, :, rows[i] - a:rows[j - 1] - a + 1], self.steps, out[:, :, i:j])
            i = j

    def then(self, steps: list[Step]) -> "Source":
        return Stored(self.chunks, self.steps + steps)


class Upsampled(Source):
    """Nearest upsampling of a coarser source to (height, width), as F.interpolate(mode="nearest")."""

    def __init__(self, source: Source, height: int, width: int):
        self.source, self.channels, self.height, self.width = source, source.channels, height, width
        self.row_map = nearest_rows(height, source.height)

    def write(self, index: torch.Tensor, out: torch.Tensor) -> None:
        x = self.source.rows(self.row_map[index], out.shape[0], _layout(out))
        if self.width == 2 * self.source.width:  # each column twice: straight into out, no resampled temporary
            out.unflatten(3, (self.source.width, 2)).copy_(x.unsqueeze(-1).expand(*x.shape, 2))
        else:
            out.copy_(F.interpolate(x, size=(x.shape[2], self.width), mode="nearest"))

    def then(self, steps: list[Step]) -> "Source":
        # per-channel steps commute with nearest upsampling: apply them on the coarse rows (fewer pixels)
        return Upsampled(self.source.then(steps), self.height, self.width)


class Joined(Source):
    """Sources of one size concatenated along channels."""

    def __init__(self, parts: Sequence[Source]):
        self.parts = list(parts)
        self.channels = sum(p.channels for p in parts)
        self.height, self.width = parts[0].height, parts[0].width

    def write(self, index: torch.Tensor, out: torch.Tensor) -> None:
        c = 0
        for p in self.parts:
            p.write(index, out[:, c:c + p.channels])
            c += p.channels


# ---------------------------------------------------------------------------- passes


def _strips(height: int, width: int) -> list[tuple[int, int]]:
    rows = max(1, STRIP_PIXELS // max(width, 1))
    return [(a, min(a + rows, height)) for a in range(0, height, rows)]


def _padded_rows(source: Source, a: int, b: int, halo: int, mode: str, buf: torch.Tensor) -> torch.Tensor:
    """Rows a-halo .. b+halo-1 of the source, padded in both directions as padding_mode pads a convolution's
    input, written into buf (N, C, b-a+2*halo, width+2*halo): the convolution's input, with no padded copy."""
    h, w = source.height, source.width
    inner = buf[:, :, :, halo:halo + w]
    wanted = torch.arange(a - halo, b + halo)
    if mode == "circular":
        source.write(wanted % h, inner)
    elif mode == "replicate":
        source.write(wanted.clamp(0, h - 1), inner)
    elif mode == "reflect":
        source.write(wanted.abs().where(wanted < h, 2 * (h - 1) - wanted), inner)
    else:  # zeros
        inside = (wanted >= 0) & (wanted < h)
        top = int((wanted < 0).sum())
        source.write(wanted[inside], inner[:, :, top:top + int(inside.sum())])
        inner[:, :, :top] = 0
        inner[:, :, top + int(inside.sum()):] = 0
    if halo:
        left, right = buf[:, :, :, :halo], buf[:, :, :, halo + w:]
        if mode == "circular":
            left.copy_(buf[:, :, :, w:w + halo])
            right.copy_(buf[:, :, :, halo:2 * halo])
        elif mode == "replicate":
            left.copy_(buf[:, :, :, halo:halo + 1].expand_as(left))
            right.copy_(buf[:, :, :, halo + w - 1:halo + w].expand_as(right))
        elif mode == "reflect":
            left.copy_(buf[:, :, :, halo + 1:2 * halo + 1].flip(3))
            right.copy_(buf[:, :, :, w - 1:w + halo - 1].flip(3))
        else:
            left.zero_()
            right.zero_()
    return buf


class _Sums:
    """Per-sample, per-channel sums of x and x^2: float32 within a strip, float64 across strips (the
    variance is E[x^2] - E[x]^2, which cancels)."""

    CHUNK = 16 * 1024  # pixels squared at a time, into a reused cache-sized buffer, not a fresh full-strip tensor

    def __init__(self) -> None:
        self.s1: torch.Tensor | float = 0.0
        self.s2: torch.Tensor | float = 0.0
        self.count = 0
        self.squares: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        if _layout(x) == torch.channels_last and x.is_contiguous(memory_format=torch.channels_last):
            # pixels x channels: reductions down the columns (over dims 2, 3 of the 4-d view they are strided,
            # and the L2 norm there was many times slower)
            flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1]).float()
            shape = (flat.shape[0], self.CHUNK, flat.shape[2])
            if self.squares is None or self.squares.shape != shape:
                self.squares = torch.empty(shape)
            s1, s2 = flat.sum(dim=1), 0.0
            for a in range(0, flat.shape[1], self.CHUNK):
                part = flat[:, a:a + self.CHUNK]
                s2 = s2 + torch.mul(part, part, out=self.squares[:, :part.shape[1]]).sum(dim=1)
        else:
            s1 = x.sum(dim=(2, 3), dtype=torch.float32)
            s2 = torch.linalg.vector_norm(x, dim=(2, 3), dtype=torch.float32).square()
        self.s1 = self.s1 + s1.double()
        self.s2 = self.s2 + s2.double()
        self.count += x.shape[2] * x.shape[3]

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.s1 / self.count
        var = (self.s2 / self.count - mean * mean).clamp_min(0)
        shape = (*mean.shape, 1, 1)
        return mean.float().view(shape), var.float().view(shape)


def _norm_step(norm: InstanceNorm, sums: _Sums, act: str | None) -> Step:
    """The instance norm as a per-channel scale and shift: own statistics, or frozen ones (tiles, videos)."""
    if norm.frozen is not None:
        mean, var = norm.frozen
    else:
        mean, var = sums.mean_var()
        if norm.record:
            norm.frozen = (mean, var)
    scale = norm.weight.view(1, -1, 1, 1) * torch.rsqrt(var + norm.eps)
    return scale, norm.bias.view(1, -1, 1, 1) - mean * scale, act


def _conv(source: Source, conv: nn.Conv2d, keep_sums: bool, batch: int, dtype: torch.dtype,
          memory_format: torch.memory_format) -> tuple[list[tuple[int, torch.Tensor]], _Sums]:
    """The convolution over the whole source, strip by strip, in `dtype` (its output too) and the memory format
    of its input buffers (the output follows), and the sums of its output (float32 within a strip)."""
    halo = conv.kernel_size[0] // 2
    weight, bias = conv.weight.to(dtype), conv.bias.to(dtype)
    chunks: list[tuple[int, torch.Tensor]] = []
    sums = _Sums()
    buffers: dict[tuple, torch.Tensor] = {}  # reused strip to strip: fresh ones cost page faults
    mode = conv.padding_mode

    def buffer(part: Source, rows: int, kind: torch.dtype = torch.float32) -> torch.Tensor:
        key = (part.channels, part.width, rows, kind)
        if key not in buffers:
            buffers[key] = torch.empty(batch, part.channels, rows, part.width + 2 * halo, dtype=kind,
                                       memory_format=memory_format)
        return buffers[key]

    halves = _upsampled_halves(source, conv, dtype, memory_format)
    for a, b in _strips(source.height, source.width):
        rows = b - a + 2 * halo
        if halves is not None:  # the upsampled half on the coarse grid: texnet.inference.upconv (halo 1)
            coarse, fine = halves
            lo, hi = upconv.coarse_span(a, b - a)
            chunks.append((a, upconv.conv(conv, _padded_rows(coarse, lo + 1, hi - 1, 1, mode, buffer(coarse, hi - lo)),
                                          _padded_rows(fine, a, b, 1, mode, buffer(fine, rows)), a, 0)))
        else:
            x = _padded_rows(source, a, b, halo, mode, buffer(source, rows))
            if dtype != x.dtype:
                x = buffer(source, rows, dtype).copy_(x)
            chunks.append((a, F.conv2d(x, weight, bias, dilation=conv.dilation, groups=conv.groups)))
        if keep_sums:
            sums.add(chunks[-1][1])
    return chunks, sums


def _upsampled_halves(source: Source, conv: nn.Conv2d, dtype: torch.dtype, memory_format: torch.memory_format
                      ) -> tuple[Source, Source] | None:
    """(the coarse source, the fine one) when the convolution's input is [an exact 2x upsampling, a fine source]
    and texnet.inference.upconv can run it: float32, channels_last, a padding that commutes with the upsampling."""
    if not (isinstance(source, Joined) and len(source.parts) == 2 and isinstance(source.parts[0], Upsampled)):
        return None
    up, fine = source.parts
    if (up.height, up.width) != (2 * up.source.height, 2 * up.source.width) or memory_format != torch.channels_last \
            or conv.padding_mode not in upconv.PADDING_MODES \
            or not upconv.available(conv, up.channels, dtype, torch.device("cpu")):
        return None
    return up.source, fine


def _statistics(source: Source, batch: int, memory_format: torch.memory_format = torch.contiguous_format) -> _Sums:
    """A read-only pass for a norm that follows no convolution."""
    if isinstance(source, Upsampled) and (source.height, source.width) == (2 * source.source.height,
                                                                           2 * source.source.width):
        return _statistics(source.source, batch, memory_format)  # each coarse pixel 4 times: the same statistics
    sums = _Sums()
    for a, b in _strips(source.height, source.width):
        sums.add(source.rows(torch.arange(a, b), batch, memory_format))
    return sums


def _activation(module: nn.Module) -> str | None:
    if isinstance(module, nn.LeakyReLU):
        return "leaky"
    if isinstance(module, nn.ReLU):
        return "relu"
    return None


def run_block(block: nn.Sequential, source: Source, batch: int, dtype: torch.dtype = torch.float32,
              memory_format: torch.memory_format = torch.contiguous_format) -> Source:
    """A conv block (conv, instance norm, activation, ...) as strip passes; returns its output, steps owed.

    dtype bfloat16 runs the convolutions in it; the statistics, norms and activations stay float32.
    memory_format is the convolutions' (their input buffers', and so their outputs')."""
    layers = list(block)
    out = source
    i = 0
    while i < len(layers):
        conv = layers[i]
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"layer-wise inference expects conv blocks, found {type(conv).__name__}")
        norm = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], InstanceNorm) else None
        act = _activation(layers[i + 2]) if norm is not None and i + 2 < len(layers) else None
        data, sums = _conv(out, conv, norm is not None and norm.frozen is None, batch, dtype, memory_format)
        out = Stored(data, [_norm_step(norm, sums, act)] if norm is not None else [])
        i += 1 + (norm is not None) + (act is not None)
    return out


def normed(norm: InstanceNorm, source: Source, batch: int,
           memory_format: torch.memory_format = torch.contiguous_format) -> Source:
    """A norm on its own (before a join): statistics from a read-only pass unless frozen."""
    sums = _statistics(source, batch, memory_format) if norm.frozen is None else _Sums()
    return source.then([_norm_step(norm, sums, None)])


@torch.inference_mode()
def forward(generator: "InferenceGenerator", noise: Sequence[torch.Tensor],
            content: torch.Tensor | None = None, bf16_finest: bool = False) -> torch.Tensor:
    """generator(noise, content) for an eval-mode instance-norm generator, layer by layer in strips.

    bf16_finest: the finest join's convolutions (most of the arithmetic) in bfloat16. Float32 runs
    channels_last, bf16 channels-first: each the faster there (see CHANNELS_LAST_FLOAT32)."""
    inputs = generator.inputs(noise, content)
    n, k = inputs[0].shape[0], generator.cfg.scales
    fmt = torch.channels_last if CHANNELS_LAST_FLOAT32 and not bf16_finest else torch.contiguous_format
    # the small scales module by module: their memory traffic is small, and per call they cost less
    small = sum(z.shape[2] * z.shape[3] <= MODULE_MAX_PIXELS for z in inputs[:k - 1])
    x = Stored(generator.joined(inputs, small).contiguous(memory_format=fmt))
    for j, s in list(enumerate(range(k - 2, -1, -1)))[small:]:
        fine = normed(generator.branch_norms[j], run_block(generator.branches[s], Stored(inputs[s]), n,
                                                           memory_format=fmt), n, fmt)
        up = normed(generator.up_norms[j], Upsampled(x, fine.height, fine.width), n, fmt)
        finest = j == len(generator.joins) - 1
        x = run_block(generator.joins[j], Joined([up, fine]), n,
                      torch.bfloat16 if bf16_finest and finest else torch.float32, fmt)
    out = [generator.fast_pixels(x.rows(torch.arange(a, b), n, fmt)) for a, b in _strips(x.height, x.width)]
    return torch.cat(out, dim=2)
