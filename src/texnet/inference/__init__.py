"""Inference forms of a trained generator: the model's function, computed fast and in bounded memory.

The model (texnet.generators) never imports this package. `prepare(generator)` gives an
InferenceGenerator for the paper's network and a PlainInference for the others (the residual
one, and the multi-scale one with a narrow head, whose full-resolution join is cheap as it is);
texnet.modelfile.load_model(..., inference=True) returns one.
"""

from texnet.generators import Generator, MultiScaleGenerator
from texnet.inference.generator import InferenceGenerator
from texnet.inference.plain import PlainInference
from texnet.inference.statistics import use_statistics

PREPARED = (InferenceGenerator, PlainInference)  # what prepare() returns


def prepare(generator: Generator, bf16: bool = False) -> InferenceGenerator | PlainInference:
    """The inference form of `generator` (a copy; see InferenceGenerator and PlainInference)."""
    if isinstance(generator, MultiScaleGenerator) and generator.head is None:
        return InferenceGenerator(generator, bf16=bf16)
    return PlainInference(generator)


def is_prepared(generator: Generator) -> bool:
    return isinstance(generator, PREPARED)


__all__ = ["InferenceGenerator", "PlainInference", "prepare", "is_prepared", "use_statistics"]
