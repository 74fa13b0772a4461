"""Coloured stickers and calibration patches: a detector the study build runs at the source resolution.

Dermoscopy photographs sometimes show a coloured sticker or a colour-calibration patch beside the
lesion (ISIC 2017: 150 of 1921 annotated images, Bissoto et al. 2020's ``patches``). Generators trained
on such data rarely draw them convincingly and a reader study's synthetic images almost never show
them, so a real stimulus with one is a giveaway (issue 25.4), like a ruler.

Skin and lesions are red-orange-brown with moderate saturation. A sticker is a large connected region
of colour skin never has: blue, cyan, green or violet at any visible saturation, or an orange / yellow
far more saturated than skin. :func:`sticker_score` is the area share of the largest such region
(after a small opening, so hair and noise do not count). Against the ``patches`` annotation of
isic2017-256 at :data:`STICKER_THRESHOLD` (chosen on train): train 109 of 128 found (sensitivity 0.85,
AUC 0.93), 146 of 1672 others flagged too; val 22 of 22 found, 4 of 99 others flagged (AUC 0.996).
For an exclusion a false alarm costs one real candidate, a miss a giveaway, so the colour limits
lean towards finding. Misses are mostly grey or pale stickers.
"""

from __future__ import annotations

import numpy as np

#: Largest sticker-coloured region, as a share of the image, above which an image has a sticker.
STICKER_THRESHOLD = 0.01


def sticker_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels of a colour skin does not have (bool [H, W])."""
    import cv2

    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hue = hsv[..., 0] * (360.0 / 256.0)
    sat, val = hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    cool = (hue >= 70) & (hue <= 290) & (sat > 0.18) & (val > 0.25)  # blue, cyan, green, violet
    warm = (hue < 70) | (hue > 290)
    vivid = warm & (sat > 0.68) & (val > 0.55)  # red, orange, yellow: far more saturated than skin
    return cool | vivid


def sticker_score(rgb: np.ndarray) -> float:
    """Area share of the largest connected sticker-coloured region (0 = none)."""
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
    mask = sticker_mask(rgb).astype(np.uint8)
    k = max(3, int(round(min(rgb.shape[:2]) / 64)) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max() / mask.size)


def has_sticker(rgb: np.ndarray, threshold: float = STICKER_THRESHOLD) -> bool:
    return sticker_score(rgb) >= threshold
