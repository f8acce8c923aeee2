"""texnet: feed-forward texture synthesis and stylization (Ulyanov et al., ICML 2016)."""

__version__ = "0.1.0"

from texnet.errors import TexnetError

__all__ = ["TexnetError", "__version__"]
