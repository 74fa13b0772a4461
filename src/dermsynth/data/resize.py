"""Square geometry for ingest: centre crop, pad or stretch to N x N, with a named resampling filter.

The thesis resized SIIM-ISIC images with OpenCV's Lanczos (``INTER_LANCZOS4``), the default here. That
kernel keeps its 8-tap support when shrinking, so a direct 10x reduction aliases; ``lanczos`` therefore
first averages k x k blocks (``INTER_AREA``, integer k, leaving 2-4x the target) and applies Lanczos
for the rest.
``pad`` mirrors the image into the padding (``BORDER_REFLECT_101``) rather than painting black bars:
black borders would plant exactly the dark-frame bias that ``dermsynth bias`` looks for.

Crop boxes are trimmed and aligned (:func:`crop_box`) so that they map exactly onto a JPEG decoded at
1/2, 1/4 or 1/8 scale (``decode``): the reduced and the full decode path sample the same region and
meet at the same intermediate size.
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


def area_factor(side: int, size: int) -> int:
    """Integer block size k for the anti-aliasing average (1: none): leaves 2-4x the target."""
    return max(1, side // (2 * size))


def crop_box(width: int, height: int, crop: str, size: int) -> Box:
    """The source region to use: a centred square (``center``) or the whole image (``pad``, ``stretch``).

    For ``center`` and ``stretch`` the region's sides are trimmed (by less than half an output pixel)
    to multiples of the area factor k and its corner aligned to 8 px, so that a JPEG decoded at
    1/f (f dividing k) covers exactly the same region, and both paths meet at the same k x k average.
    """
    if crop == "pad":
        return 0, 0, width, height
    k = area_factor(min(width, height), size)
    if crop == "center":
        s = min(width, height) // k * k
        return (width - s) // 2 // ALIGN * ALIGN, (height - s) // 2 // ALIGN * ALIGN, s, s
    return 0, 0, width // k * k, height // k * k


def _resize(sq: np.ndarray, size: int, resize_filter: str) -> np.ndarray:
    h, w = sq.shape[:2]
    if h == size and w == size:
        return sq
    if resize_filter == "box":
        return np.asarray(Image.fromarray(sq).resize((size, size), Image.Resampling.BOX))
    if resize_filter == "area":
        return cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA)
    k = area_factor(min(h, w), size)
    if k >= 2:  # anti-alias: average k x k blocks (integer k: OpenCV's fast path), keep >= 2x target
        hh, ww = h // k * k, w // k * k
        y0, x0 = (h - hh) // 2, (w - ww) // 2
        sq = cv2.resize(sq[y0 : y0 + hh, x0 : x0 + ww], (ww // k, hh // k), interpolation=cv2.INTER_AREA)
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
