"""The lesion body that cleaning must not touch where no artifact covers it (issue 19, "do no harm").

No segmentation is at hand at clean time, so the lesion is estimated the classical way: pixels that stay
darker than 0.85 x the skin (75th percentile of the brightness) once thin dark structures are erased
(a closing with the 13 px black-hat element, then a Gaussian blur of sigma 6 px, at 256 px). Pixels of a
dermoscope frame (``exclude``) are replaced by the skin level first, so the frame neither counts as
lesion nor darkens the skin next to it through the blur.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, luminance, scaled
from dermsynth.bias.hair import KERNEL_PX

SIGMA_PX = 6.0  # at 256 px
DARKNESS = 0.85


def lesion_core(gray: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Bool mask [H, W] of the lesion body of a gray image (uint8); ``exclude`` pixels are never lesion."""
    g = gray
    if exclude is not None and exclude.any():
        if exclude.all():
            return np.zeros(gray.shape, bool)
        g = gray.copy()
        g[exclude] = np.uint8(np.percentile(gray[~exclude], 75))
    closed = cv2.morphologyEx(g, cv2.MORPH_CLOSE, ellipse(scaled(KERNEL_PX, g.shape)))
    blur = cv2.GaussianBlur(closed, (0, 0), scaled(SIGMA_PX, g.shape))
    ref = blur[~exclude] if exclude is not None and exclude.any() else blur
    core = blur < DARKNESS * np.percentile(ref, 75)
    if exclude is not None:
        core &= ~exclude
    return core


def lesion_mask(rgb: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """``lesion_core`` of an RGB image."""
    return lesion_core(luminance(rgb), exclude)
