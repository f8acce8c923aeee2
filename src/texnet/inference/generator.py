"""InferenceGenerator: a trained generator prepared for sampling fast, at any size, in bounded memory.

The same function as the model's forward() (up to float rounding, and within BF16_CHECK_TOLERANCE
where the finest join runs in bf16), computed the cheapest way this machine has:

* batch norm folded into the convolutions, one circular pad per block (texnet.inference.folding),
  joins whose input is written once and fused convolutions (texnet.inference.kernels);
* instance-norm generators layer by layer in strips on the CPU (texnet.inference.layerwise);
* large textures in strips of rows (texnet.inference.strips);
* the finest join in bfloat16 where a check on test samples allows it.

The copy is for sampling and export, not for training or saving.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from texnet.generators import MultiScaleGenerator
from texnet.inference import layerwise, strips
from texnet.inference.folding import Bf16Block, fold_batch_norms
from texnet.inference.kernels import run_join, run_layers
from texnet.inference.statistics import Statistics, instance_norms, record_statistics, use_statistics
from texnet.limits import block_halo

# Instance-norm textures sampled in strips take their statistics from one pass at up to this side
# (docs/performance.md: a smaller stand-in moved large samples further from the exemplar).
STATISTICS_SIDE = 1024
STRIP_ROWS = 128  # rows per strip at most (strips bound the memory of large samples; timings in docs/performance.md)
BF16_CHECK_SIZE = 128  # side of the samples (seeds 0-3) that decide whether bf16 may run the finest join
BF16_CHECK_SEEDS = 4  # one seed let through a model whose next seed moved a pixel by 1.76/255
BF16_CHECK_TOLERANCE = 1 / 255  # max difference allowed there: half of the 2/255 budget, for larger images' extremes


class InferenceGenerator(MultiScaleGenerator):
    """An eval-mode copy of `generator` in its inference form; bf16: try the finest join in bfloat16
    (kept only where use_bf16_finest's check passes). forward() stays the plain pass (export traces it)."""

    def __init__(self, generator: MultiScaleGenerator, bf16: bool = False):
        nn.Module.__init__(self)
        with torch.inference_mode(False):  # ordinary tensors even when made under inference mode (upconv caches)
            g = copy.deepcopy(generator)
        self.cfg = g.cfg
        self.branches, self.up_norms, self.branch_norms = g.branches, g.up_norms, g.branch_norms  # the model's order
        self.joins = nn.ModuleList(j.block if isinstance(j, Bf16Block) else j for j in g.joins)
        self.to_rgb = g.to_rgb
        self.head = None  # prepare() gives a generator with a narrow head the plain form
        self.pads_once = bool(getattr(generator, "pads_once", False))  # each block pads its input once
        self.layerwise_bf16 = False  # instance norm: the finest join's convolutions in bf16 (use_bf16_finest)
        self.eval()
        if any(isinstance(m, nn.BatchNorm2d) for m in self.modules()):  # none: instance norm, or folded already
            self.pads_once = fold_batch_norms(self)
        if bf16:
            self.use_bf16_finest()

    @torch.inference_mode()
    def infer(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None = None) -> torch.Tensor:
        """forward(), computed the fast way: folded joins written once, or instance norm layer by layer."""
        if self.pads_once:
            return self._folded_forward(noise, content)
        if self.cfg.norm != "instance" or self.to_rgb.weight.device.type != "cpu":
            return self(noise, content)  # on a GPU memory traffic is cheap: the plain pass
        return layerwise.forward(self, noise, content, bf16_finest=self.layerwise_bf16)

    def _folded_forward(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None) -> torch.Tensor:
        """forward() of a form that pads once, each join's input (upsampled, concatenated, padded, cast) written
        once (not traced for export: that takes forward())."""
        inputs = self.inputs(noise, content)
        k = self.cfg.scales
        x = run_layers(self.branches[k - 1], inputs[k - 1])
        for j, s in enumerate(range(k - 2, -1, -1)):
            fine = self.branch_norms[j](run_layers(self.branches[s], inputs[s]))
            x = run_join(self.joins[j], x, fine, block_halo(self.cfg.kernels), pad_rows=True)
        return self.fast_pixels(x)

    def fast_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """pixels() with the 1x1 convolution run as run_layers runs it."""
        return self.to_image(run_layers([self.to_rgb], x))

    def is_local(self) -> bool:
        """True when every layer only looks at a neighbourhood (no per-image statistics in use)."""
        return self.cfg.norm == "batch" or all(m.frozen is not None for m in instance_norms(self))

    @torch.inference_mode()
    def forward_strips(self, noise: Sequence[torch.Tensor], rows_per_strip: int = 256) -> torch.Tensor:
        """The same result as infer(noise), computed in horizontal strips (texnet.inference.strips)."""
        if self.cfg.content_channels or self.cfg.padding != "circular" or not self.is_local():
            raise ValueError("strip evaluation needs a circular texture generator with batch norm "
                             "or frozen instance-norm statistics")
        return strips.forward_strips(self, noise, rows_per_strip)

    def record_statistics(self, noise: Sequence[torch.Tensor], content: torch.Tensor | None) -> Statistics | None:
        """Every instance norm's statistics in one pass (texnet.inference.statistics.record_statistics)."""
        return record_statistics(self, noise, content)

    @torch.inference_mode()
    def use_bf16_finest(self, check: bool = True) -> "InferenceGenerator":
        """Run the finest join's convolutions (two full-size 3x3 convolutions: most of the FLOPs) in bfloat16,
        if BF16_CHECK_SIZE samples of BF16_CHECK_SEEDS seeds stay within BF16_CHECK_TOLERANCE of float32.

        Only the finest join: rounding in coarser layers is upsampled and amplified on its way to the
        pixels (docs/performance.md). Batch norm (folded): the whole join in bf16. Instance norm: its
        convolutions only, statistics and norms in float32 (texnet.inference.layerwise); style generators
        are checked on a random photo. check=False skips the check (a worker repeating the driver's choice).
        Changes this generator in place.
        """
        if not len(self.joins) or self.runs_bf16() or (self.cfg.norm == "batch" and self.cfg.content_channels):
            return self
        size, n = BF16_CHECK_SIZE, BF16_CHECK_SEEDS
        content = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)).to(
            self.to_rgb.weight.device) if self.cfg.content_channels else None
        reference = self.sample(size, size, n, seed=0, content=content) if check else None
        if self.cfg.norm == "batch":
            self.joins[-1] = Bf16Block(self.joins[-1])
        else:
            self.layerwise_bf16 = True
        if check and (self.sample(size, size, n, seed=0, content=content) - reference).abs().max().item() > BF16_CHECK_TOLERANCE:
            if self.cfg.norm == "batch":
                self.joins[-1] = self.joins[-1].block
            self.layerwise_bf16 = False
        return self

    def runs_bf16(self) -> bool:
        return self.layerwise_bf16 or any(isinstance(m, Bf16Block) for m in self.modules())

    @torch.inference_mode()
    def sample(self, width: int, height: int, batch: int = 1, seed: int | None = None,
               content: torch.Tensor | None = None, noise_scale: float = 1.0,
               max_pixels_at_once: int = 512 * 512) -> torch.Tensor:
        """Images (batch, 3, H, W) in [0, 1]; the same seed gives the same images.

        Textures larger than max_pixels_at_once are computed in strips (of at most half that, and STRIP_ROWS):
        the same result with bounded memory. Instance-norm texture generators take their statistics from one
        pass at up to STATISTICS_SIDE px a side: up to that size the image itself is that pass, beyond it the
        same seed's sample at that size stands in (textures are stationary, so its statistics are the large
        image's up to noise).
        """
        device = next(self.parameters()).device
        seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        noise = self.seeded_noise(seed, batch, width, height, device, noise_scale)
        if self.to_rgb.weight.is_contiguous(memory_format=torch.channels_last) and self.to_rgb.weight.shape[1] > 1:
            noise = [z.contiguous(memory_format=torch.channels_last) for z in noise]
        rows = max(16, min(STRIP_ROWS, max_pixels_at_once // (2 * width)))
        if height * width > max_pixels_at_once and content is None and self.cfg.padding == "circular":
            if self.cfg.norm == "batch":
                out = self.forward_strips(noise, rows_per_strip=rows)
            elif max(height, width) <= STATISTICS_SIDE:  # the statistics pass would be the whole image
                out = self.infer(noise, content)
            else:
                side = max(2 ** (self.cfg.scales - 1), STATISTICS_SIDE)
                ref = self.seeded_noise(seed, batch, min(side, width), min(side, height), device, noise_scale)
                with use_statistics(self, self.record_statistics(ref, None)):
                    out = self.forward_strips(noise, rows_per_strip=rows)
        else:
            out = self.infer(noise, content)
        return out.clamp(0, 1)
