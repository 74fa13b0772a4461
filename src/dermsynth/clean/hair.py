"""Hair removal: black-hat mask of thin dark structures, then in-painting (thesis Sec. 4.2, Fig. 4.3).

As DullRazor (Lee et al. 1997): the thin-dark black-hat mask of ``bias.hair`` (long thin parts), grown
by 1-2 px to cover the hair's soft edge, is in-painted with Telea's method (or another in-painter).
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, luminance, scaled
from dermsynth.bias.hair import MIN_LENGTH_PX, long_parts, thin_dark
from dermsynth.clean.inpaint import opencv_inpaint

GROW_PX = 2  # at 256 px
#: a lower black-hat level than detection: once an image has hair, catch its fainter parts too
LEVEL = 8


def hair_mask(rgb: np.ndarray, grow_px: float = GROW_PX) -> np.ndarray:
    """Bool mask [H, W] of hair pixels to remove."""
    gray = luminance(rgb)
    mask, _ = long_parts(thin_dark(gray, level=LEVEL), scaled(MIN_LENGTH_PX, gray.shape))
    if mask.any() and grow_px > 0:
        mask = cv2.dilate(mask.astype(np.uint8), ellipse(2 * scaled(grow_px, gray.shape) + 1)).astype(bool)
    return mask


def remove_hair(
    rgb: np.ndarray, mask: np.ndarray | None = None, method: str = "telea"
) -> tuple[np.ndarray, np.ndarray]:
    """In-paint hair pixels (``mask`` or ``hair_mask(rgb)``); returns ``(image, mask)``."""
    mask = hair_mask(rgb) if mask is None else mask
    return opencv_inpaint(rgb, mask, method)
