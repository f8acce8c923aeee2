"""texnet: feed-forward texture synthesis and stylization (Ulyanov et al., ICML 2016).

    import texnet
    model = texnet.train_texture("photo.jpg", "out/photo.texnet", preset="quick")
    images = texnet.load("brick").sample(1024, 512, n=4, seed=1)
    texnet.stylize("starry-night", "photo.jpg", "out/p.png")

See texnet.api; the modules under it are the library's parts (generators, losses, train, ...).
"""

__version__ = "0.2.0"

from texnet.api import Model, load, sample, stylize, train_style, train_texture
from texnet.errors import TexnetError

__all__ = ["train_texture", "train_style", "load", "sample", "stylize", "Model", "TexnetError", "__version__"]
