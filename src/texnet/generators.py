"""The paper's multi-scale generator (Fig. 2), for textures g(z) and stylization g(y, z).

K branches see noise at 1/2^(K-1) ... 1/1 of the output size. From the coarsest:
conv block -> nearest upsample to the next scale -> norm, concatenated with that
scale's (normed) conv block output -> conv block -> ... -> 1x1 conv to RGB.
Every convolution pads circularly, so textures are periodic and tile seamlessly.

Any output size works: scale s has size ceil(H / 2^s) x ceil(W / 2^s), and nearest
resampling to the exact finer size keeps neighbours (including wrap-around ones)
neighbours, so periodicity survives odd sizes too.
For stylization each branch also receives the content image area-averaged to its
scale (content_channels=3); everything else is the same network. Optionally (`head`) the
coarse path is projected to fewer channels before the full-resolution join, which is most of
the cost on large photos.

This module is the network as trained. Sampling fast and in bounded memory (folded
batch norm, strips, bf16, layer-by-layer instance norm) is texnet.inference's job.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from texnet.layers import InstanceNorm, conv_block, make_norm, upsample_nearest
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
    # "multiscale": this module's network (the paper's). "residual": texnet.residual's encoder-decoder for
    # stylization, with `channels` at full resolution doubling at each of the scales - 1 downsamplings and
    # `blocks` residual blocks at the coarsest (kernels unused).
    arch: str = "multiscale"
    blocks: int = 5
    edge_kernel: int = 9  # residual: the kernel of its first and last convolution (Johnson et al.'s 9)
    # multiscale stylization: channels of the coarse path kept into the full-resolution join, by a 1x1
    # projection before the last upsampling. 0 keeps all channels * (scales - 1), as the paper does; that
    # join is most of the network's cost on large photos (docs/stylization.md).
    head: int = 0
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


class Generator(nn.Module):
    """What every texnet network shares: g(z) or g(y, z) of a list of noise tensors (finest first, one per
    scale) and optionally a content image; the noise, the pixel mapping and sampling."""

    cfg: GeneratorConfig

    def init_weights(self, seed: int | None) -> None:
        """Xavier initialisation of every convolution (as in the paper), repeatable with a seed."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight, generator=rng)
                nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def make_noise(self, batch: int, width: int, height: int, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu", scale: float = 1.0) -> list[torch.Tensor]:
        """Uniform i.i.d. noise for every scale, finest first, from torch's RNG (training: fast, not portable)."""
        return [(torch.rand(batch, self.cfg.noise_channels, h, w, generator=generator) * scale).to(device)
                for h, w in scale_sizes(height, width, self.cfg.scales)]

    def seeded_noise(self, seed: int, batch: int, width: int, height: int, device: torch.device | str = "cpu",
                     scale: float = 1.0) -> list[torch.Tensor]:
        """The portable noise of `seed` (texnet.noise): the same in PyTorch, the ONNX runtime and the browser."""
        return [torch.from_numpy(z).to(device)
                for z in noise_pyramid(seed, batch, height, width, self.cfg.scales, self.cfg.noise_channels, scale)]

    def to_image(self, rgb: torch.Tensor) -> torch.Tensor:
        """From the last convolution's 0..255 units around mid-grey to [0, 1] (copied to RGB for grey models)."""
        out = self.cfg.output_offset + self.cfg.output_scale * rgb
        return out.expand(-1, 3, -1, -1) if self.cfg.grayscale else out

    @torch.no_grad()
    def sample(self, width: int, height: int, batch: int = 1, seed: int | None = None,
               content: torch.Tensor | None = None, noise_scale: float = 1.0) -> torch.Tensor:
        """Images (batch, 3, H, W) in [0, 1] in eval mode, the model left in the mode it was in; the same seed
        gives the same images. For many or large samples, texnet.inference.prepare's form is faster and
        bounds memory."""
        device = next(self.parameters()).device
        seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        noise = self.seeded_noise(seed, batch, width, height, device, noise_scale)
        was_training = self.training
        self.eval()
        try:
            return self(noise, content).clamp(0, 1)
        finally:
            self.train(was_training)


class MultiScaleGenerator(Generator):
    """The paper's network: g(z) or g(y, z) of a list of noise tensors (finest first), optionally a content image."""

    def __init__(self, cfg: GeneratorConfig | None = None, seed: int | None = None):
        super().__init__()
        self.cfg = cfg = cfg or GeneratorConfig()
        if cfg.scales < 1:
            raise ValueError("a generator needs at least one scale")
        if cfg.head < 0 or (cfg.head and not cfg.content_channels):
            raise ValueError(f"head must be 0, or positive for a stylization generator, not {cfg.head}")
        in_ch = cfg.noise_channels + cfg.content_channels

        def block(i: int, o: int) -> nn.Sequential:
            return conv_block(i, o, cfg.kernels, cfg.norm, cfg.activation, cfg.padding)

        # branches[s] processes the input of scale s (0 = full resolution).
        self.branches = nn.ModuleList(block(in_ch, cfg.channels) for _ in range(cfg.scales))
        self.up_norms = nn.ModuleList()  # norm of the upsampled coarse path, before the join
        self.branch_norms = nn.ModuleList()  # norm of the fine branch, before the join
        self.joins = nn.ModuleList()
        # head: the coarse path projected to fewer channels before the full-resolution join (1x1, so the same
        # at either resolution: it runs at the coarse one)
        self.head = nn.Conv2d(cfg.channels * (cfg.scales - 1), cfg.head, 1) if cfg.head and cfg.scales > 1 else None
        for j in range(1, cfg.scales):  # join j merges j coarse branches' worth with one more
            coarse = cfg.head if self.head is not None and j == cfg.scales - 1 else cfg.channels * j
            self.up_norms.append(make_norm(cfg.norm, coarse))
            self.branch_norms.append(make_norm(cfg.norm, cfg.channels))
            self.joins.append(block(coarse + cfg.channels, coarse + cfg.channels))
        width = cfg.head + cfg.channels if self.head is not None else cfg.channels * cfg.scales
        self.to_rgb = nn.Conv2d(width, 1 if cfg.grayscale else 3, 1)
        self.init_weights(seed)

    def inputs(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None) -> list[torch.Tensor]:
        """Each scale's input: its noise, joined by the content image at that scale when stylizing."""
        if self.cfg.content_channels == 0:
            return list(noise)
        if content is None:
            raise ValueError("this generator stylizes: it needs a content image")
        return [torch.cat([z, c], dim=1) for z, c in zip(noise, content_pyramid(content, len(noise)))]

    def forward(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        return self.pixels(self.joined(self.inputs(noise, content)))

    def joined(self, inputs: Sequence[torch.Tensor], joins: int | None = None) -> torch.Tensor:
        """The coarsest branch and then the first `joins` joins (all by default): the last join's output,
        before the 1x1 convolution to pixels."""
        k = self.cfg.scales
        x = self.branches[k - 1](inputs[k - 1])
        for j, s in enumerate(range(k - 2, -1, -1)[:joins]):
            if s == 0 and self.head is not None:
                x = self.head(x)
            fine = self.branch_norms[j](self.branches[s](inputs[s]))
            up = self.up_norms[j](upsample_nearest(x, fine.shape[-2:]))
            x = self.joins[j](torch.cat([up, fine], dim=1))
        return x

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """The last 1x1 conv, mapped to [0, 1]."""
        return self.to_image(self.to_rgb(x))


def build_generator(cfg: GeneratorConfig, seed: int | None = None) -> Generator:
    """The network `cfg.arch` names, freshly initialised (model files and training build through here)."""
    if cfg.arch == "multiscale":
        return MultiScaleGenerator(cfg, seed)
    if cfg.arch == "residual":
        from texnet.residual import ResidualGenerator  # its own module: the paper's network is this one

        return ResidualGenerator(cfg, seed)
    raise ValueError(f"unknown generator arch {cfg.arch!r} (multiscale or residual)")


def trained_per_sample(cfg: GeneratorConfig, batch_size: int | None) -> bool:
    """True for a batch-norm generator trained on batches of one image.

    In training, batch norm then normalises every sample by that sample's own statistics:
    the computation of instance norm. Eval mode's running averages are another function,
    and a worse one (docs/performance.md: 1.2-1.9x further from the exemplars at 256 px).
    Such a generator runs as instance norm.
    """
    return cfg.norm == "batch" and batch_size == 1


@torch.no_grad()
def batch_norm_to_instance(generator: MultiScaleGenerator) -> MultiScaleGenerator:
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


__all__ = ["GeneratorConfig", "Generator", "MultiScaleGenerator", "build_generator", "content_pyramid", "max_scales", "check_scales",
           "trained_per_sample", "batch_norm_to_instance", "scale_sizes", "MAX_SCALES"]
