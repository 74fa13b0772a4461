"""Square geometry for ingest: centre crop, pad or stretch to N x N, with a named resampling filter.

The thesis resized SIIM-ISIC images with OpenCV's Lanczos (``INTER_LANCZOS4``), the default here. That
kernel keeps its 8-tap support when shrinking, so a direct 10x reduction aliases; ``lanczos`` therefore
first averages (``INTER_AREA``) down to twice the target and applies Lanczos for the last 2x.
``pad`` mirrors the image into the padding (``BORDER_REFLECT_101``) rather than painting black bars:
black borders would plant exactly the dark-frame bias that ``dermsynth bias`` looks for.

Crop boxes of images at least twice the target are aligned to 8 source pixels, so the box maps
exactly onto a JPEG decoded at 1/2, 1/4 or 1/8 scale (``decode``): the reduced and the full decode
path then sample the same region of the lesion.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

FILTERS = ("lanczos", "area", "box")
CROPS = ("center", "pad", "stretch")
ALIGN = 8  # the largest JPEG reduction factor

Box = tuple[int, int, int, int]  # x0, y0, width, height in source pixels


def check_options(crop: str, resize_filter: str) -> None:
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; choose from {list(CROPS)}")
    if resize_filter not in FILTERS:
        raise ValueError(f"unknown resize filter {resize_filter!r}; choose from {list(FILTERS)}")


def crop_box(width: int, height: int, crop: str, size: int) -> Box:
    """The source region to use: a centred square (``center``) or the whole image (``pad``, ``stretch``)."""
    a = ALIGN if min(width, height) >= 2 * size else 1
    if crop == "center":
        s = min(width, height) // a * a
        return (width - s) // 2 // a * a, (height - s) // 2 // a * a, s, s
    return 0, 0, width // a * a, height // a * a


def _resize(sq: np.ndarray, size: int, resize_filter: str) -> np.ndarray:
    h, w = sq.shape[:2]
    if h == size and w == size:
        return sq
    if resize_filter == "box":
        return np.asarray(Image.fromarray(sq).resize((size, size), Image.Resampling.BOX))
    if resize_filter == "area":
        return cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA)
    if min(h, w) > 2 * size:  # anti-alias: average down to 2x, then Lanczos
        sq = cv2.resize(sq, (min(w, 2 * size), min(h, 2 * size)), interpolation=cv2.INTER_AREA)
    return cv2.resize(sq, (size, size), interpolation=cv2.INTER_LANCZOS4)


def resize_square(
    rgb: np.ndarray, size: int, crop: str = "center", resize_filter: str = "lanczos", box: Box | None = None
) -> np.ndarray:
    """RGB uint8 [H, W, 3] -> [size, size, 3]: take ``box`` (default :func:`crop_box`), pad if asked, resize."""
    check_options(crop, resize_filter)
    h, w = rgb.shape[:2]
    x0, y0, bw, bh = box if box is not None else crop_box(w, h, crop, size)
    region = rgb[y0 : y0 + bh, x0 : x0 + bw]
    if crop == "pad" and bw != bh:
        s = max(bw, bh)
        top, left = (s - bh) // 2, (s - bw) // 2
        region = cv2.copyMakeBorder(region, top, s - bh - top, left, s - bw - left, cv2.BORDER_REFLECT_101)
    return _resize(np.ascontiguousarray(region), size, resize_filter)
