"""Inference forms of a trained generator: the model's function, computed fast and in bounded memory.

The model (texnet.generators) never imports this package. `prepare(generator)` gives an
InferenceGenerator; texnet.modelfile.load_model(..., inference=True) returns one.
"""

from texnet.inference.generator import InferenceGenerator
from texnet.inference.statistics import use_statistics


def prepare(generator, bf16: bool = False) -> InferenceGenerator:
    """The inference form of `generator` (a copy; see InferenceGenerator)."""
    return InferenceGenerator(generator, bf16=bf16)


__all__ = ["InferenceGenerator", "prepare", "use_statistics"]
