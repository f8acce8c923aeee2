"""What `texnet bench` measures: one dataclass, with a smoke-sized variant for the test suite."""

from __future__ import annotations

from dataclasses import dataclass, field

from texnet.presets import TrainConfig

SECTIONS = ("speed", "quality", "style", "style-quality", "inference")
# scikit-image's exemplars (in the wheel); "dev" adds every texture of the development images (../shared/images)
SKIMAGE_EXEMPLARS = ("brick", "gravel", "grass", "ihc", "hubble-crop", "coins-half")
DEV_TEXTURES = "dev"


@dataclass
class BenchConfig:
    sections: tuple[str, ...] = SECTIONS
    # speed
    exemplars: tuple[str, ...] = ("gravel", "ihc")
    speed_preset: str = "quick"
    sizes: tuple[int, int] = (256, 1024)  # generator timing sizes
    opt_iterations: int = 500
    repeats: int = 5
    batch: int = 16
    # quality
    quality_exemplars: tuple[str, ...] = (*SKIMAGE_EXEMPLARS, DEV_TEXTURES)
    quality_presets: tuple[str, ...] = ("quick", "standard")
    # presets named here run only on the listed exemplars (training `standard` everywhere takes hours)
    preset_exemplars: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quality_size: int = 256  # size at which samples, optimisation and crops are compared
    quality_seeds: int = 4
    opt_losses: tuple[str, ...] = ("gram",)  # the reference; ("gram", "swd") adds an swd optimisation
    # style
    style: str = "ihc"  # style image for the stylization timing rows
    style_content: str = "astronaut"  # photo stylized in the timing rows
    style_preset: str = "quick"
    style_sizes: tuple[int, int] = (512, 1024)
    style_opt_iterations: int = 300
    style_opt_size: int = 512
    # style quality (development images: paintings and photos that are not in the content pool)
    styles: tuple[str, ...] = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "woman-with-hat-matisse.jpg")
    # one of each kind a user stylizes, none in a content pool: building, landscape and night (development photos),
    # portrait, animal and indoor (in the wheels: texnet.bench.style_quality.photo_file)
    style_photos: tuple[str, ...] = ("tubingen.jpg", "golden_gate.jpg", "hoovertowernight.jpg", "grace_hopper",
                                     "chelsea", "coffee")
    style_presets: tuple[str, ...] = ("quick", "standard")
    style_quality_size: int = 384  # longer side of the photos stylized and measured
    style_measure_size: int = 512  # longer side of the painting the distances (and the optimisation) use
    style_quality_opt_iterations: int = 200
    dev_images: str | None = None  # default: $TEXNET_DEV_IMAGES, else ../shared/images
    # inference: optimised PyTorch and onnxruntime, on one texture and one style model
    inference_texture_sizes: tuple[int, ...] = (256, 1024)
    inference_style_sizes: tuple[int, ...] = (512, 1024)
    inference_repeats: int = 7
    device: str = "cpu"
    train_override: TrainConfig | None = None  # replaces every preset's training (the smoke run)

    @classmethod
    def quick(cls, device: str = "cpu") -> "BenchConfig":
        """A smoke run: tiny training, sizes and iteration counts (the test suite uses it)."""
        tiny = TrainConfig(size=48, batch_size=2, iterations=6, preview_every=0, checkpoint_every=0)
        return cls(exemplars=("gravel",), sizes=(64, 128), opt_iterations=12, repeats=2, batch=2,
                   quality_exemplars=("brick", "ihc"), quality_presets=("quick",), quality_size=64, quality_seeds=2,
                   opt_losses=("gram",), style_sizes=(64, 96), style_opt_iterations=6, style_opt_size=64,
                   styles=("starry_night.jpg",), style_photos=("tubingen.jpg", "golden_gate.jpg"),
                   style_presets=("quick",), style_quality_size=64, style_measure_size=96,
                   style_quality_opt_iterations=5, inference_texture_sizes=(64, 96), inference_style_sizes=(64,),
                   inference_repeats=2, device=device, train_override=tiny)
