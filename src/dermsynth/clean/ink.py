"""Ink removal: surgical-marker pixels by colour, then in-painting (issue 19: "an ink line was left").

Marker ink (gentian violet, blue, green) is far from every skin and pigment colour (``bias.ink``:
CIELAB chroma relative to the image's median). Those pixels, cleaned of specks (a 2 x 2 opening, parts
of at least 6 px at 256 px), are grown by 2 px over the ink's bled edge, but never into the lesion body
(``clean.lesion``): a blue-white veil inside a melanoma must not be taken for ink, so ink drawn on the
lesion itself stays. The mask is in-painted with Telea's method.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, scaled
from dermsynth.bias.ink import ink_pixels
from dermsynth.clean.inpaint import opencv_inpaint
from dermsynth.clean.lesion import lesion_mask

GROW_PX = 2  # at 256 px
MIN_AREA_PX = 6  # at 256 px


def ink_mask(rgb: np.ndarray, lesion: np.ndarray | None = None) -> np.ndarray:
    """Bool mask [H, W] of marker ink to remove (empty when there is none)."""
    raw = cv2.morphologyEx(ink_pixels(rgb).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(raw, connectivity=8)
    min_area = MIN_AREA_PX * (min(rgb.shape[:2]) / 256) ** 2
    keep = np.concatenate([[False], stats[1:, cv2.CC_STAT_AREA] >= min_area])
    mask = keep[labels]
    if not mask.any():
        return mask
    lesion = lesion_mask(rgb) if lesion is None else lesion  # thin ink is closed away in the estimate
    mask &= ~lesion
    grown = cv2.dilate(mask.astype(np.uint8), ellipse(2 * scaled(GROW_PX, mask.shape) + 1)).astype(bool)
    return mask | (grown & ~lesion)


def remove_ink(
    rgb: np.ndarray, mask: np.ndarray | None = None, method: str = "telea"
) -> tuple[np.ndarray, np.ndarray]:
    """In-paint ink pixels (``mask`` or ``ink_mask(rgb)``); returns ``(image, mask)``."""
    mask = ink_mask(rgb) if mask is None else mask
    return opencv_inpaint(rgb, mask, method)
