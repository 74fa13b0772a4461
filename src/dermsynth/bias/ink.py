"""Ink / surgical pen mark detector (colour cue).

Skin-marker ink in dermoscopy (gentian violet, blue or green pens; Winkler et al., JAMA Dermatol 2019,
showed such marks bias CNNs) is far from every skin and lesion colour: skin and pigment lie in the
red-yellow quadrant of CIELAB (a* > 0, b* > 0), ink is violet (b* below 0 and below the image's
median, a* above it) or green (a* well below the median). Those pixels form the mask; the
score is the fraction of the image they cover (after removing isolated pixels).
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import at_work_size

#: CIELAB offsets from the image's median chroma (OpenCV 8-bit Lab: a*, b* offset by 128).
#: Relative to the median, so a blue-grey dermoscope light (whole image b* < 0) is not ink.
BLUE_DROP = -8.0  # b* this far below the median (and below 0): blue / violet
VIOLET_RISE = 4.0  # ... with a* above the median: violet rather than grey-blue
GREEN_DROP = -14.0  # a* this far below the median: green


def ink_pixels(rgb: np.ndarray) -> np.ndarray:
    """Bool mask of ink-coloured pixels (violet-blue or green), before clean-up."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    a = lab[..., 1].astype(np.int16) - 128
    b = lab[..., 2].astype(np.int16) - 128
    ma, mb = np.median(lab[::4, ::4, 1]) - 128, np.median(lab[::4, ::4, 2]) - 128
    violet = (b - mb < BLUE_DROP) & (b < 0) & (a - ma > VIOLET_RISE)
    green = (a - ma < GREEN_DROP) & (a < -6)
    return violet | green


@at_work_size
def ink(rgb: np.ndarray) -> tuple[float, np.ndarray]:
    """Score (fraction of the image covered by ink colours) and the ink mask."""
    raw = ink_pixels(rgb).astype(np.uint8)
    mask = cv2.morphologyEx(raw, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).astype(bool)
    return float(mask.mean()), mask
