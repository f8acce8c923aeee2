"""The thumbnail sheet of `texnet models --sheet`: a sample of each texture model, a stylized photo per style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SHEET_PHOTO = "chelsea"  # a bundled scikit-image photo, outside the style models' content pool
THUMB = 192


def write_sheet(entries: list[dict[str, Any]], output: str | Path) -> Path:
    """One labelled thumbnail per model, made with the same runtime choice as `sample` and `stylize`."""
    import torch

    from texnet.images import check_output_suffix, load_array, resize_array, save_image
    from texnet.quality import contact_sheet
    from texnet.runtime import open_style_model, open_texture_model
    from texnet.stylizer import StylizeOptions, stylize_array

    check_output_suffix(output)
    photo = load_array(SHEET_PHOTO)
    photo = resize_array(photo, (THUMB * photo.shape[2] // photo.shape[1], THUMB))
    tiles = []
    for e in entries:
        if e["kind"] == "texture":
            image = open_texture_model(e["name"]).sample(THUMB, THUMB, seed=1)
        else:
            image, _ = stylize_array(open_style_model(e["name"]), photo, StylizeOptions())
        tiles.append((e["name"], torch.from_numpy(np.ascontiguousarray(image))))
    sheet = contact_sheet(tiles, size=THUMB)
    return save_image(sheet, output)
