"""Simple lesion segmentation: Otsu's threshold on a darkness channel in the central region.

Lesions are darker than the surrounding skin; dermoscopy centres them. Darkness = 255 - luminance,
blurred a little; Otsu's threshold (Otsu 1979, via scikit-image) is computed inside the central disc
(radius ``centre`` of half the shorter side), so a dark frame does not pull the threshold; the mask
is the connected component nearest the centre. Good enough to ask "did the edit move or reshape
the lesion?" (overlap before/after), not a clinical segmentation.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from dermsynth.bias.common import luminance, radius_map


def lesion_mask(rgb: np.ndarray, centre: float = 0.8) -> np.ndarray:
    """Bool lesion mask [H, W] of an RGB uint8 image (empty when the centre is uniform)."""
    lum = luminance(rgb).astype(np.float32)
    h, w = lum.shape
    k = max(3, (min(h, w) // 32) | 1)
    dark = cv2.GaussianBlur(255.0 - lum, (k, k), 0)
    inside = radius_map(h, w) <= centre
    vals = dark[inside]
    if vals.max() - vals.min() < 1e-3:
        return np.zeros((h, w), bool)
    cand = (dark > threshold_otsu(vals)) & inside
    n, lab = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    if n <= 1:
        return cand
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    best = min(range(1, n), key=lambda i: dist[lab == i].min())
    return lab == best


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
