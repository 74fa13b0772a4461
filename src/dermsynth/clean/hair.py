"""Hair removal: black-hat mask of thin dark structures, then in-painting (thesis Sec. 4.2, Fig. 4.3).

As DullRazor (Lee et al. 1997): the thin-dark black-hat mask of ``bias.hair`` (long thin parts, with a
lower level and larger blob size than detection), grown by 2 px to cover the hair's soft edge, is
in-painted with Telea's method (or another in-painter). Parts lying mostly inside the lesion body (dark after a
closing and blur that erase hairs) are dropped: pigment network and dots respond like hair there, and
lesion pixels may change only where hair covers them. A hair crossing the lesion reaches outside it and
is removed whole. On phantom hair (seed 21, 12 images) this mask
covers 95% of the true hair pixels with 98% of it on or next to hair.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, luminance, scaled
from dermsynth.bias.hair import KERNEL_PX, MIN_LENGTH_PX, long_parts, thin_dark
from dermsynth.clean.inpaint import opencv_inpaint

GROW_PX = 2  # at 256 px
#: a lower black-hat level than detection: once an image has hair, catch its fainter parts too
LEVEL = 8
#: and a larger blob size: thick hairs (3-4 px) and crossings must go too; detection keeps 5 px,
#: which ranks real images better (isic2017 train AUC 0.74 vs 0.65)
BLOB_PX = 9.0
#: the lesion body is protected: darker than 0.85 x the skin (75th percentile) after a 6 px blur
LESION_SIGMA_PX = 6.0
LESION_DARKNESS = 0.85
#: a part is hair only if at least this share of it lies outside the lesion body
OUTSIDE_SHARE = 0.3


def lesion_core(gray: np.ndarray) -> np.ndarray:
    """Pixels that stay dark once hairs are erased (closing with the black-hat element, then a blur of
    sigma 6 px at 256 px): the lesion body, which hair removal must not touch (its pigment network
    looks like hair to the black-hat)."""
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, ellipse(scaled(KERNEL_PX, gray.shape)))
    blur = cv2.GaussianBlur(closed, (0, 0), scaled(LESION_SIGMA_PX, gray.shape))
    return blur < LESION_DARKNESS * np.percentile(blur, 75)


def hair_mask(rgb: np.ndarray, grow_px: float = GROW_PX) -> np.ndarray:
    """Bool mask [H, W] of hair pixels to remove.

    Parts lying mostly inside the lesion body (``lesion_core``) are dropped: there the black-hat also
    answers to pigment network and dots. A hair crossing the lesion is one part reaching well outside
    it and is kept whole.
    """
    gray = luminance(rgb)
    mask, _ = long_parts(thin_dark(gray, level=LEVEL, blob_px=BLOB_PX), scaled(MIN_LENGTH_PX, gray.shape))
    if not mask.any():
        return mask
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    core = lesion_core(gray)
    outside = np.bincount(labels[~core], minlength=n)
    total = np.bincount(labels.ravel(), minlength=n)
    keep = outside >= OUTSIDE_SHARE * total
    keep[0] = False
    mask = keep[labels]
    if mask.any() and grow_px > 0:
        mask = cv2.dilate(mask.astype(np.uint8), ellipse(2 * scaled(grow_px, gray.shape) + 1)).astype(bool)
    return mask


def remove_hair(
    rgb: np.ndarray, mask: np.ndarray | None = None, method: str = "telea"
) -> tuple[np.ndarray, np.ndarray]:
    """In-paint hair pixels (``mask`` or ``hair_mask(rgb)``); returns ``(image, mask)``."""
    mask = hair_mask(rgb) if mask is None else mask
    return opencv_inpaint(rgb, mask, method)
