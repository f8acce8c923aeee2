"""The paper's multi-scale generator (Fig. 2), for textures g(z) and stylization g(y, z).

K branches see noise at 1/2^(K-1) ... 1/1 of the output size. From the coarsest:
conv block -> nearest upsample to the next scale -> norm, concatenated with that
scale's (normed) conv block output -> conv block -> ... -> 1x1 conv to RGB.
Every convolution pads circularly, so textures are periodic and tile seamlessly.

Any output size works: scale s has size ceil(H / 2^s) x ceil(W / 2^s), and nearest
resampling to the exact finer size keeps neighbours (including wrap-around ones)
neighbours, so periodicity survives odd sizes too.
For stylization each branch also receives the content image area-averaged to its
scale (content_channels=3); everything else is the same network.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from texnet import upconv
from texnet.limits import block_halo
from texnet.noise import noise_pyramid, scale_sizes


@dataclass
class GeneratorConfig:
    """Architecture of a multi-scale generator (stored in every model file)."""

    scales: int = 5  # K: the paper uses 5 for textures, 6 for stylization (its released code the reverse)
    channels: int = 8  # channels added by each branch; the last join has channels * scales
    noise_channels: int = 3
    content_channels: int = 0  # 3 for stylization: the content image joins the noise at every scale
    kernels: tuple[int, ...] = (3, 3, 1)  # one conv block: 3x3, 3x3, 1x1 as in the paper
    norm: str = "batch"  # "batch" (paper) or "instance" (Ulyanov et al.'s follow-up)
    padding: str = "circular"  # circular: periodic, tileable textures; "replicate" for photos (no wrap-around)
    activation: str = "leaky"  # "leaky" (LeakyReLU 0.01, authors' code) or "relu" (paper text)
    grayscale: bool = False  # one output channel copied to R, G and B: grey exemplars give grey samples
    # The last 1x1 conv speaks in 0..255 pixel units around mid-grey, as the authors' generator
    # (which emits Caffe-space pixels) does: the paper's lr of 0.1 assumes that scale, and with
    # [0, 1] outputs it makes the first Adam steps overshoot by orders of magnitude.
    output_scale: float = 1 / 255
    output_offset: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GeneratorConfig":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        if "kernels" in values:
            values["kernels"] = tuple(values["kernels"])
        return cls(**values)


class InstanceNorm(nn.InstanceNorm2d):
    """Instance norm whose statistics can be recorded, frozen or supplied from outside.

    Per-tile statistics would give each tile of a large photo its own contrast; with
    `frozen` set (see `record_statistics`, `use_statistics`) every tile is normalised alike. `blend` serves
    the ONNX export: the graph computes its own statistics, reports them, and uses
    weight * supplied + (1 - weight) * computed, so one graph does both passes of tiling.
    A 1x1 map normalises to 0 (its output is the bias), as the formula gives.
    """

    def __init__(self, channels: int):
        super().__init__(channels, affine=True)
        self.frozen: tuple[torch.Tensor, torch.Tensor] | None = None
        self.record = False
        self.blend: tuple[torch.Tensor, torch.Tensor, torch.Tensor, list] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen is not None:
            mean, var = self.frozen
        else:
            # E[x^2] - E[x]^2 from two reductions (the L2 norm exports as one ReduceL2), with no full-size
            # temporaries: in the exported graph these elementwise passes, not the convolutions, took most time
            mean = x.mean(dim=(2, 3), keepdim=True)
            norm = torch.linalg.vector_norm(x, dim=(2, 3), keepdim=True)
            var = (norm * norm / (x.shape[2] * x.shape[3]) - mean * mean).clamp_min(0)
            if self.blend is not None:
                given_mean, given_var, weight, sink = self.blend
                sink.append((mean, var))
                mean = weight * given_mean + (1 - weight) * mean
                var = weight * given_var + (1 - weight) * var
            elif self.record:
                self.frozen = (mean, var)
        # one scale and one shift per channel, computed on the small statistics: two full-size passes
        scale = self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return x * scale + (self.bias.view(1, -1, 1, 1) - mean * scale)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return InstanceNorm(channels)
    raise ValueError(f"norm must be 'batch' or 'instance', not {kind!r}")


def _activation(kind: str) -> nn.Module:
    if kind == "leaky":
        return nn.LeakyReLU(0.01, inplace=True)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(f"activation must be 'leaky' or 'relu', not {kind!r}")


def conv_block(in_ch: int, out_ch: int, cfg: GeneratorConfig) -> nn.Sequential:
    """Convolutions (circular padding, stride 1), each followed by norm and non-linearity."""
    layers: list[nn.Module] = []
    for k in cfg.kernels:
        layers += [nn.Conv2d(in_ch, out_ch, k, padding=k // 2, padding_mode=cfg.padding),
                   _norm(cfg.norm, out_ch), _activation(cfg.activation)]
        in_ch = out_ch
    return nn.Sequential(*layers)


MAX_SCALES = 10


def max_scales(size: int) -> int:
    """The most noise scales a generator trained on size x size samples can use: the coarsest must be >= 2 px."""
    return max(1, min(MAX_SCALES, int(math.log2(max(size - 1, 1))) + 1))


def check_scales(scales: int, size: int) -> None:
    """One clear error for a --scales value the training size cannot support."""
    from texnet.errors import TexnetError

    limit = max_scales(size)
    if not 1 <= scales <= limit:
        raise TexnetError(f"--scales {scales} does not fit {size} px training samples: use 1 to {limit} "
                          f"(the coarsest scale is {size}/2^(K-1) px and must be at least 2 px; at most {MAX_SCALES})")




def content_pyramid(content: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """The content image at every scale, finest first, by repeated 2x2 averaging.

    Odd sides round up (the last row or column is averaged on its own), so scale s is
    ceil(H / 2^s) x ceil(W / 2^s) like the noise, and the ONNX export computes the same.
    """
    out = [content]
    for _ in range(1, scales):
        out.append(F.avg_pool2d(out[-1], 2, ceil_mode=True, count_include_pad=False))
    return out


def trained_per_sample(cfg: GeneratorConfig, batch_size: int | None) -> bool:
    """True for a batch-norm generator trained on batches of one image.

    In training, batch norm then normalises every sample by that sample's own statistics:
    the computation of instance norm. Eval mode's running averages are another function,
    and a worse one: at 256 px they moved the bench's standard samples 1.2-1.9x further from
    their exemplars (benchmarks/norm_inference.py). Such a generator runs as instance norm.
    """
    return cfg.norm == "batch" and batch_size == 1


@torch.no_grad()
def batch_norm_to_instance(generator: "MultiScaleGenerator") -> "MultiScaleGenerator":
    """The same generator with every batch norm replaced by an instance norm of the same scale and shift.

    Exactly what a batch-1 batch norm computed in training (see trained_per_sample); the
    running averages are dropped. Changes `generator` in place and returns it.
    """
    for parent in list(generator.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                norm = InstanceNorm(child.num_features).to(child.weight.device)
                norm.eps = child.eps
                norm.weight.copy_(child.weight)
                norm.bias.copy_(child.bias)
                setattr(parent, name, norm)
    generator.cfg = replace(generator.cfg, norm="instance")
    return generator


def _instance_norms(generator: nn.Module) -> list[InstanceNorm]:
    return [m for m in generator.modules() if isinstance(m, InstanceNorm)]


def record_statistics(generator: "MultiScaleGenerator", noise: Sequence[torch.Tensor],
                      content: torch.Tensor | None) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Every instance norm's (mean, var) in one pass on these inputs; None for a model without instance norm.

    Used to process a large image in pieces: the reference is the whole image at a size
    that fits in memory, and every piece is then normalised with its statistics.
    """
    norms = _instance_norms(generator)
    if not norms:
        return None
    for m in norms:
        m.frozen, m.record = None, True
    try:
        with torch.no_grad():
            generator(noise, content) if generator.training else generator.infer(noise, content)
        return [m.frozen for m in norms]
    finally:
        for m in norms:
            m.frozen, m.record = None, False


@contextlib.contextmanager
def use_statistics(generator: "MultiScaleGenerator", stats: list[tuple[torch.Tensor, torch.Tensor]] | None):
    """Within the block, instance norms use `stats` (from record_statistics) instead of their own."""
    norms = _instance_norms(generator) if stats is not None else []
    for m, frozen in zip(norms, stats or []):
        m.frozen = frozen
    try:
        yield
    finally:
        for m in norms:
            m.frozen = None


class CircularPad(nn.Module):
    """Pads H and W circularly by `halo`: once per conv block in the inference form (see fold_batchnorm)."""

    def __init__(self, halo: int):
        super().__init__()
        self.halo = halo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.halo
        if not h:
            return x
        if torch.onnx.is_in_onnx_export():  # traced as slices: no wrapping more than once (limits.smallest_side)
            return F.pad(x, (h,) * 4, mode="circular")
        return _circular_padded(x, h, h, h, h)


class Bf16Block(nn.Module):
    """A block run in bfloat16 (autocast), handing back float32: the inference form's finest join
    (see fold_batchnorm)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.block(x).float()


# Instance-norm textures sampled in strips take their statistics from one pass at up to this side. For a 1024 px
# ihc sample, a 512 px stand-in gave 0.074 (swd, texnet.quality) where its own statistics gave 0.056
# (benchmarks/norm_inference.py --large 1024).
STATISTICS_SIDE = 1024
# Rows per strip at most (strips bound the memory of large samples). benchmarks/strip_rows.py, gravel's quick model
# on a 2-core AVX2 CPU with freed memory reused (as the CLI runs): 1024 px in strips of 64, 128 or 256 rows took
# 688, 659 and 643 ms (medians of 7: a tie; one pass 663), 512 px in 128 rows 161 ms (one pass 149).
STRIP_ROWS = 128
BF16_CHECK_SIZE = 128  # side of the samples (seeds 0-3) that decide whether bf16 may run the finest join
BF16_CHECK_SEEDS = 4  # one seed let through a model whose next seed moved a pixel by 1.76/255 (bf16_check.py)
BF16_CHECK_TOLERANCE = 1 / 255  # max difference allowed there: half of the 2/255 budget, for larger images' extremes


def _join_input(up: torch.Tensor, fine: torch.Tensor, halo: int, dtype: torch.dtype,
                pad_rows: bool = False) -> torch.Tensor:
    """[up upsampled (nearest) to fine's size, fine] along channels, padded circularly by `halo` columns (and
    rows, with pad_rows), written once into a channels_last buffer of `dtype`: no upsampled, concatenated or
    padded temporaries. `up` has fine's rows already (strips) or the coarse rows (whole images)."""
    n, cu, h1, w1 = up.shape
    h, w = fine.shape[-2:]
    ph = halo if pad_rows else 0
    if halo > w or ph > h:  # a tiny scale: pad by wrapping more than once
        up = F.interpolate(up, size=(h, w), mode="nearest") if (h1, w1) != (h, w) else up
        return _circular_padded(torch.cat([up, fine], dim=1), ph, ph, halo, halo).to(dtype)
    buf = torch.empty(n, cu + fine.shape[1], h + 2 * ph, w + 2 * halo, dtype=dtype, device=up.device,
                      memory_format=torch.channels_last)
    inner = buf[:, :, ph:ph + h, halo:halo + w]
    if h == 2 * h1 and w == 2 * w1:  # each coarse pixel as a 2x2 block, straight into the buffer
        inner[:, :cu].unflatten(3, (w1, 2)).unflatten(2, (h1, 2)).copy_(
            up[:, :, :, None, :, None].expand(n, cu, h1, 2, w1, 2))
    elif h == h1 and w == 2 * w1:
        inner[:, :cu].unflatten(3, (w1, 2)).copy_(up.unsqueeze(-1).expand(*up.shape, 2))
    else:
        inner[:, :cu].copy_(F.interpolate(up, size=(h, w), mode="nearest"))
    inner[:, cu:].copy_(fine)
    return _wrap_edges(buf, ph, ph, halo, halo)


def _wrap_edges(buf: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Fills the borders of buf (top rows, bottom rows, left and right columns) circularly from its interior,
    which holds an image already: no larger borders than that image."""
    h, w = buf.shape[2] - top - bottom, buf.shape[3] - left - right
    if left:
        buf[:, :, top:top + h, :left].copy_(buf[:, :, top:top + h, w:w + left])
    if right:
        buf[:, :, top:top + h, left + w:].copy_(buf[:, :, top:top + h, left:left + right])
    if top:
        buf[:, :, :top].copy_(buf[:, :, h:h + top])
    if bottom:
        buf[:, :, top + h:].copy_(buf[:, :, top:top + bottom])
    return buf


def _circular_padded(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """x padded circularly into a fresh channels_last buffer (any border, even one larger than x)."""
    n, c, h, w = x.shape
    buf = torch.empty(n, c, h + top + bottom, w + left + right, dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    if max(top, bottom) <= h and max(left, right) <= w:
        buf[:, :, top:top + h, left:left + w].copy_(x)
        return _wrap_edges(buf, top, bottom, left, right)
    rows = torch.arange(-top, h + bottom, device=x.device) % h
    cols = torch.arange(-left, w + right, device=x.device) % w
    return buf.copy_(x.index_select(2, rows).index_select(3, cols))


def _pads_once(block: nn.Module) -> bool:
    """True for a block in the inference form (fold_batchnorm): CircularPad first, maybe inside a Bf16Block."""
    inner = block.block if isinstance(block, Bf16Block) else block
    return isinstance(inner, nn.Sequential) and isinstance(inner[0], CircularPad)


@functools.lru_cache(maxsize=1)
def _fused_conv_available() -> bool:
    """oneDNN's convolution with the activation applied as it writes (the op inductor uses on CPU)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


# Inputs of fewer pixels than this (a sample's scales of 32 px and below) convolve with F.conv2d and a separate
# activation: there oneDNN's fused call costs more to set up than it saves. benchmarks/small_scales.py, two runs on
# a 2-core AVX2 CPU: 64 px samples took 0.80-0.81x the all-fused time, 128 px 0.93-0.96x, 256 px 0.97-0.99x.
FUSED_MIN_PIXELS = 48 * 48
FUSED_ACTIVATIONS = {nn.LeakyReLU: "leaky_relu", nn.ReLU: "relu"}


def _run_layers(layers: Sequence[nn.Module], x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Layers of an inference-form block (or to_rgb), at inference: in float32 on CPU, on inputs of at least
    FUSED_MIN_PIXELS, each convolution and the activation after it (past the Identity a folded norm left) run as
    one oneDNN call, which applies the activation while the output is in cache; a 1x1 convolution to one channel
    (grey models) runs as a matrix-vector product, where oneDNN is slow. The same arithmetic as the layers one by
    one, up to rounding.
    inplace: x is the caller's to overwrite (an activation before any convolution then runs in place)."""
    fuse = x.device.type == "cpu" and x.dtype == torch.float32 and _fused_conv_available() \
        and x.shape[-2] * x.shape[-1] >= FUSED_MIN_PIXELS
    layers, i = list(layers), 0
    while i < len(layers):
        m = layers[i]
        i += 1
        if isinstance(m, nn.Identity):  # where a folded norm was
            continue
        if inplace and type(m) in FUSED_ACTIVATIONS:
            x = F.leaky_relu_(x, m.negative_slope) if isinstance(m, nn.LeakyReLU) else F.relu_(x)
            continue
        inplace = False
        if not (fuse and isinstance(m, nn.Conv2d) and m.padding == (0, 0) and m.stride == (1, 1) and m.groups == 1):
            x = m(x)
            continue
        if i < len(layers) and isinstance(layers[i], nn.Identity):  # where a folded norm was
            i += 1
        act = layers[i] if i < len(layers) else None
        if m.out_channels == 1 and m.kernel_size == (1, 1) and x.is_contiguous(memory_format=torch.channels_last):
            n, c, h, w = x.shape
            flat = torch.addmv(m.bias.expand(n * h * w), x.permute(0, 2, 3, 1).reshape(-1, c), m.weight.view(c))
            x = flat.view(n, h, w, 1).permute(0, 3, 1, 2)
        elif type(act) in FUSED_ACTIVATIONS:
            slope = [act.negative_slope] if isinstance(act, nn.LeakyReLU) else []
            x = torch.ops.mkldnn._convolution_pointwise(x, m.weight, m.bias, [0, 0], [1, 1], list(m.dilation), 1,
                                                         FUSED_ACTIVATIONS[type(act)], slope, "")
            i += 1
        else:
            x = m(x)
    return x


def _unpadded(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """An inference-form block on an input padded already."""
    if isinstance(block, Bf16Block):
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return block.block[1:](x).float()
    return _run_layers(block[1:], x)


def _run_join(join: nn.Module, up: torch.Tensor, fine: torch.Tensor, halo: int, pad_rows: bool) -> torch.Tensor:
    """An inference-form join on [up, fine], its input written once (in bf16 when the join runs in it).

    When up is the coarse grid itself (half fine's size each way), the first convolution runs its upsampled
    part there (texnet.upconv); its input is then never upsampled at all."""
    h, w = fine.shape[-2:]
    if not isinstance(join, Bf16Block) and (2 * up.shape[2], 2 * up.shape[3]) == (h, w) and h * w >= FUSED_MIN_PIXELS \
            and upconv.available(join[1], up.shape[1], fine.dtype, fine.device):
        return _run_layers(join[2:], _upconv_first(join[1], up, fine, halo, pad_rows), inplace=True)
    dtype = torch.bfloat16 if isinstance(join, Bf16Block) else fine.dtype
    return _unpadded(join, _join_input(up, fine, halo, dtype, pad_rows))


def _upconv_first(conv: nn.Conv2d, coarse: torch.Tensor, fine: torch.Tensor, halo: int, pad_rows: bool
                  ) -> torch.Tensor:
    """A join's first convolution (of its block's `halo`) on [coarse upsampled 2x, fine], padded circularly as
    _join_input pads: columns always, rows with pad_rows (strips carry their rows already: fine's rows are coarse's
    rows doubled, from an even row). Coordinates as in texnet.upconv, with fine's first row and column as 0."""
    h, w = fine.shape[-2:]
    r0, rows = (1 - halo, h + 2 * halo - 2) if pad_rows else (1, h - 2)
    c0, cols = 1 - halo, w + 2 * halo - 2
    lo_r, hi_r = upconv.coarse_span(r0, rows)
    lo_c, hi_c = upconv.coarse_span(c0, cols)
    coarse = _circular_padded(coarse, -lo_r, hi_r - coarse.shape[2], -lo_c, hi_c - coarse.shape[3])
    fine = _circular_padded(fine, halo if pad_rows else 0, halo if pad_rows else 0, halo, halo)
    return upconv.conv(conv, coarse, fine, r0, c0)


@functools.lru_cache(maxsize=128)
def _nearest_rows(out_size: int, in_size: int) -> torch.Tensor:
    """Which input row nearest upsampling reads for each output row (computed once per size pair)."""
    grid = torch.arange(in_size, dtype=torch.float32).view(1, 1, in_size, 1)
    return F.interpolate(grid, size=(out_size, 1), mode="nearest").view(-1).long()


def _affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval-mode batch norm as y = a * x + b per channel."""
    a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return a, bn.bias - a * bn.running_mean


@torch.no_grad()
def _fold_batch_norms(g: "MultiScaleGenerator") -> "MultiScaleGenerator":
    """MultiScaleGenerator.fold_batchnorm's folding, in place on its eval-mode copy."""
    blocks = list(g.branches) + list(g.joins)
    for block in blocks:
        for i in range(len(block) - 1):
            conv, bn = block[i], block[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                a, b = _affine(bn)
                conv.weight.mul_(a.view(-1, 1, 1, 1))
                conv.bias.copy_(a * conv.bias + b)
                block[i + 1] = nn.Identity()
    if g.cfg.padding in ("circular", "replicate", "reflect"):
        for j, join in enumerate(g.joins):
            a_up, b_up = _affine(g.up_norms[j])
            a_fine, b_fine = _affine(g.branch_norms[j])
            a, b = torch.cat([a_up, a_fine]), torch.cat([b_up, b_fine])
            conv = join[0]
            conv.bias.add_((conv.weight * b.view(1, -1, 1, 1)).sum(dim=(1, 2, 3)))
            conv.weight.mul_(a.view(1, -1, 1, 1))
            g.up_norms[j] = nn.Identity()
            g.branch_norms[j] = nn.Identity()
    if g.cfg.padding == "circular":
        # With only pointwise layers left between them, a block's convolutions can share one circular pad of
        # the block's input by their total halo and run unpadded: the same values, a fraction of the copies.
        for container in (g.branches, g.joins):
            for i, block in enumerate(container):
                for m in block:
                    if isinstance(m, nn.Conv2d):
                        m.padding, m.padding_mode = (0, 0), "zeros"
                container[i] = nn.Sequential(CircularPad(g._halo()), *block)
    return g.to(memory_format=torch.channels_last)  # oneDNN's faster layout for these small convolutions


class MultiScaleGenerator(nn.Module):
    """g(z) or g(y, z): a list of noise tensors (finest first), optionally a content image."""

    def __init__(self, cfg: GeneratorConfig | None = None, seed: int | None = None):
        super().__init__()
        self.cfg = cfg = cfg or GeneratorConfig()
        if cfg.scales < 1:
            raise ValueError("a generator needs at least one scale")
        in_ch = cfg.noise_channels + cfg.content_channels
        # branches[s] processes the input of scale s (0 = full resolution).
        self.branches = nn.ModuleList(conv_block(in_ch, cfg.channels, cfg) for _ in range(cfg.scales))
        self.up_norms = nn.ModuleList()  # norm of the upsampled coarse path, before the join
        self.branch_norms = nn.ModuleList()  # norm of the fine branch, before the join
        self.joins = nn.ModuleList()
        for j in range(1, cfg.scales):  # join j merges j coarse branches' worth with one more
            coarse = cfg.channels * j
            self.up_norms.append(_norm(cfg.norm, coarse))
            self.branch_norms.append(_norm(cfg.norm, cfg.channels))
            self.joins.append(conv_block(coarse + cfg.channels, coarse + cfg.channels, cfg))
        self.to_rgb = nn.Conv2d(cfg.channels * cfg.scales, 1 if cfg.grayscale else 3, 1)
        self.layerwise_bf16 = False  # instance norm, inference: the finest join's convolutions in bf16 (use_bf16_finest)
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # Xavier, as in the paper
                nn.init.xavier_uniform_(module.weight, generator=rng)
                nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def make_noise(self, batch: int, height: int, width: int, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu", scale: float = 1.0) -> list[torch.Tensor]:
        """Uniform i.i.d. noise for every scale, finest first, from torch's RNG (training: fast, not portable)."""
        return [(torch.rand(batch, self.cfg.noise_channels, h, w, generator=generator) * scale).to(device)
                for h, w in scale_sizes(height, width, self.cfg.scales)]

    def seeded_noise(self, seed: int, batch: int, height: int, width: int, device: torch.device | str = "cpu",
                     scale: float = 1.0) -> list[torch.Tensor]:
        """The portable noise of `seed` (texnet.noise): the same in PyTorch, the ONNX runtime and the browser."""
        return [torch.from_numpy(z).to(device)
                for z in noise_pyramid(seed, batch, height, width, self.cfg.scales, self.cfg.noise_channels, scale)]

    def _inputs(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None) -> list[torch.Tensor]:
        if self.cfg.content_channels == 0:
            return list(noise)
        if content is None:
            raise ValueError("this generator stylizes: it needs a content image")
        return [torch.cat([z, c], dim=1) for z, c in zip(noise, content_pyramid(content, len(noise)))]

    def forward(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        return self._pixels(self.joined(self._inputs(noise, content)))

    def joined(self, inputs: Sequence[torch.Tensor], joins: int | None = None) -> torch.Tensor:
        """The coarsest branch and then the first `joins` joins (all by default), module by module: the last
        join's output, before the 1x1 convolution to pixels."""
        k = self.cfg.scales
        x = self.branches[k - 1](inputs[k - 1])
        for j, s in enumerate(range(k - 2, -1, -1)[:joins]):
            fine = self.branch_norms[j](self.branches[s](inputs[s]))
            up = self.up_norms[j](F.interpolate(x, size=fine.shape[-2:], mode="nearest"))
            x = self.joins[j](torch.cat([up, fine], dim=1))
        return x

    @torch.inference_mode()
    def infer(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        """forward() for inference: instance-norm generators layer by layer in strips (texnet.layerwise: the
        same result, a fraction of the memory traffic), others as they are (folded, see fold_batchnorm)."""
        if not self.training and self._is_inference_form():
            return self._folded_forward(noise, content)
        if self.training or self.cfg.norm != "instance" or self.to_rgb.weight.device.type != "cpu":
            return self(noise, content)  # on a GPU memory traffic is cheap: the plain pass
        from texnet import layerwise

        return layerwise.forward(self, noise, content, bf16_finest=self.layerwise_bf16)

    def _is_inference_form(self) -> bool:
        """Folded with circular padding (fold_batchnorm): each block pads once, by CircularPad."""
        return _pads_once(self.branches[0]) and all(isinstance(m, nn.Identity) for m in self.up_norms)

    def _folded_forward(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None) -> torch.Tensor:
        """forward() of the inference form, each join's input (upsampled, concatenated, padded, cast) written
        once (not traced for export: that takes forward())."""
        inputs = self._inputs(noise, content)
        k = self.cfg.scales
        x = _run_layers(self.branches[k - 1], inputs[k - 1])
        for j, s in enumerate(range(k - 2, -1, -1)):
            fine = self.branch_norms[j](_run_layers(self.branches[s], inputs[s]))
            x = _run_join(self.joins[j], x, fine, self._halo(), pad_rows=True)
        return self._pixels(x, infer=True)

    def _pixels(self, x: torch.Tensor, infer: bool = False) -> torch.Tensor:
        """The last 1x1 conv, mapped from 0..255 units to [0, 1] (and copied to RGB for grey models); infer: as
        _run_layers runs it."""
        out = self.cfg.output_offset + self.cfg.output_scale * (_run_layers([self.to_rgb], x) if infer
                                                                 else self.to_rgb(x))
        return out.expand(-1, 3, -1, -1) if self.cfg.grayscale else out

    # ------------------------------------------------------------------ bounded-memory sampling

    def _halo(self) -> int:
        """Rows of context one conv block needs on each side."""
        return block_halo(self.cfg.kernels)

    @torch.inference_mode()
    def forward_strips(self, noise: Sequence[torch.Tensor], rows_per_strip: int = 256) -> torch.Tensor:
        """The same result as forward(noise) in eval mode, computed in horizontal strips.

        Every layer is local (convolutions, nearest upsampling, eval-mode batch norm), so a
        strip of output rows needs only a few rows of context at each scale, taken with
        circular indexing just as the circular padding would. Peak memory then follows the
        strip, not the image (texnet.limits budgets only the finished image for PyTorch samples).
        """
        if self.training or self.cfg.content_channels or not self.is_local():
            raise ValueError("strip evaluation needs an eval-mode texture generator with batch norm "
                             "or frozen instance-norm statistics")
        height = noise[0].shape[2]
        strips = [self._pixels(self._rows(list(noise), 0, a, min(a + rows_per_strip, height)),
                               infer=self._is_inference_form())
                  for a in range(0, height, rows_per_strip)]
        return torch.cat(strips, dim=2)

    def is_local(self) -> bool:
        """True when every layer only looks at a neighbourhood (no per-image statistics in use)."""
        return self.cfg.norm == "batch" or all(m.frozen is not None for m in self.modules()
                                                if isinstance(m, InstanceNorm))

    def _rows(self, noise: list[torch.Tensor], s: int, a: int, b: int) -> torch.Tensor:
        """Rows a..b-1 (any integers, read modulo the height) of the activation at scale s."""
        r = self._halo()
        z = noise[s]
        k = self.cfg.scales

        def take(t: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
            idx = torch.arange(lo, hi, device=t.device) % t.shape[2]
            return t.index_select(2, idx)

        if s == k - 1:
            return self._block_rows(self.branches[s], take(z, a - r, b + r))
        j = k - 2 - s  # index of the join at this scale
        fine = self.branch_norms[j](self._block_rows(self.branches[s], take(z, a - 2 * r, b + 2 * r)))
        # nearest upsampling from the coarser scale, row map extended periodically
        h0, h1 = z.shape[2], noise[s + 1].shape[2]
        inference = self._is_inference_form()
        if inference and h0 == 2 * h1 and (a - r) % 2 == 0 and (b + r) % 2 == 0:
            # exact doubling from an even row: the coarse rows, each written twice by _join_input (a row-gathered
            # copy of them, read across its channels, cost more than the join's 1x1 convolution)
            up = self._rows(noise, s + 1, (a - r) // 2, (b + r) // 2)
        else:
            rows = torch.arange(a - r, b + r)
            src = torch.div(rows, h0, rounding_mode="floor") * h1 + _nearest_rows(h0, h1)[rows % h0]
            c0, c1 = int(src.min()), int(src.max()) + 1
            coarse = self._rows(noise, s + 1, c0, c1)
            up = coarse.index_select(2, (src - c0).to(coarse.device))
        if inference:  # upsample and concatenate straight into the join's column-padded input
            return _run_join(self.joins[j], up, fine, r, pad_rows=False)
        up = self.up_norms[j](F.interpolate(up, size=(up.shape[2], z.shape[3]), mode="nearest"))
        return self._block_rows(self.joins[j], torch.cat([up, fine], dim=1))

    def _block_rows(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """A conv block on rows that carry its halo above and below: the rows in between.

        The inference form (fold_batchnorm) pads only the columns, circularly: the rows are there."""
        r = self._halo()
        if _pads_once(block):
            return _unpadded(block, _circular_padded(x, 0, 0, r, r))
        return block(x)[:, :, r:x.shape[2] - r]

    @torch.no_grad()
    def fold_batchnorm(self, finest_bf16: bool = False) -> "MultiScaleGenerator":
        """An equivalent eval-mode copy for inference: batch norms folded into convolutions, padding shared.

        Each eval-mode batch norm is a per-channel affine map: it folds into the convolution
        before it (conv blocks), or into the join's first convolution after it (the norms in
        front of each join; circular or replicate padding repeats values, so it commutes).
        Then, for circular padding, each block pads its input once and convolves unpadded.
        The copy is for sampling and export, not for training or saving.

        finest_bf16: run the finest join in bfloat16 when that keeps a test sample within
        BF16_CHECK_TOLERANCE of float32 (see use_bf16_finest); export always gets float32.
        """
        g = copy.deepcopy(self).eval()
        g.joins = nn.ModuleList(j.block if isinstance(j, Bf16Block) else j for j in g.joins)
        g.layerwise_bf16 = False
        if any(isinstance(m, nn.BatchNorm2d) for m in g.modules()):  # none: instance norm, or folded already
            g = _fold_batch_norms(g)
        return g.use_bf16_finest() if finest_bf16 else g

    @torch.inference_mode()
    def use_bf16_finest(self) -> "MultiScaleGenerator":
        """Run the finest join's convolutions (two full-size 3x3 convolutions: most of the FLOPs) in bfloat16,
        if BF16_CHECK_SIZE samples of BF16_CHECK_SEEDS seeds stay within BF16_CHECK_TOLERANCE of float32.

        Only the finest join: rounding in coarser layers is upsampled and amplified on its way to the
        pixels (every layer in bf16 moved 128 px samples by 3.9-55/255: benchmarks/bf16_check.py).
        Batch norm (folded): the whole join in bf16. Instance norm: its convolutions only, statistics
        and norms in float32 (texnet.layerwise); style generators are checked on a random photo.
        Changes this (inference) generator in place.
        """
        if not len(self.joins) or self.runs_bf16() or (self.cfg.norm == "batch" and self.cfg.content_channels):
            return self
        size, n = BF16_CHECK_SIZE, BF16_CHECK_SEEDS
        content = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)).to(
            self.to_rgb.weight.device) if self.cfg.content_channels else None
        reference = self.sample(size, size, n, seed=0, content=content)
        if self.cfg.norm == "batch":
            self.joins[-1] = Bf16Block(self.joins[-1])
        else:
            self.layerwise_bf16 = True
        if (self.sample(size, size, n, seed=0, content=content) - reference).abs().max().item() > BF16_CHECK_TOLERANCE:
            if self.cfg.norm == "batch":
                self.joins[-1] = self.joins[-1].block
            self.layerwise_bf16 = False
        return self

    def runs_bf16(self) -> bool:
        return self.layerwise_bf16 or any(isinstance(m, Bf16Block) for m in self.modules())

    @torch.inference_mode()
    def sample(self, height: int, width: int, batch: int = 1, seed: int | None = None,
               content: torch.Tensor | None = None, noise_scale: float = 1.0,
               max_pixels_at_once: int = 512 * 512) -> torch.Tensor:
        """Images (batch, 3, H, W) in [0, 1] in eval mode; the same seed gives the same images.

        Textures larger than max_pixels_at_once are computed in strips (of at most half that, and STRIP_ROWS):
        the same result with bounded memory. Instance-norm texture generators
        take their statistics from one pass at up to STATISTICS_SIDE px a side: up to that size
        the image itself is that pass, beyond it the same seed's sample at that size stands in
        (textures are stationary, so its statistics are the large image's up to noise).
        """
        device = next(self.parameters()).device
        seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        noise = self.seeded_noise(seed, batch, height, width, device, noise_scale)
        if self.to_rgb.weight.is_contiguous(memory_format=torch.channels_last) and self.to_rgb.weight.shape[1] > 1:
            noise = [z.contiguous(memory_format=torch.channels_last) for z in noise]
        was_training = self.training
        if was_training:  # eval() walks every module: not free next to a small sample
            self.eval()
        rows = max(16, min(STRIP_ROWS, max_pixels_at_once // (2 * width)))
        try:
            if height * width > max_pixels_at_once and content is None:
                if self.cfg.norm == "batch":
                    out = self.forward_strips(noise, rows_per_strip=rows)
                elif max(height, width) <= STATISTICS_SIDE:  # the statistics pass would be the whole image
                    out = self.infer(noise, content)
                else:
                    side = max(2 ** (self.cfg.scales - 1), STATISTICS_SIDE)
                    ref = self.seeded_noise(seed, batch, min(side, height), min(side, width), device, noise_scale)
                    with use_statistics(self, record_statistics(self, ref, None)):
                        out = self.forward_strips(noise, rows_per_strip=rows)
            else:
                out = self.infer(noise, content)
        finally:
            if was_training:
                self.train()
        return out.clamp(0, 1)
