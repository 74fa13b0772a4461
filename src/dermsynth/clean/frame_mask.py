"""The frame mask that cleaning methods fill or crop away.

The dark-corner detector's mask (near-black pixels connected to the border) is grown by a few pixels
so the blurred rim of the dermoscope frame is replaced too (in-painting from a dark rim would drag
the darkness inwards). The growth stops at the lesion body (``clean.lesion``, estimated with the frame
left out): lesion pixels change only where the frame itself covers them (issue 19).
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, radius_map, scaled
from dermsynth.bias.frame import border_frame, corner_ratios, dark_corner, max_channel
from dermsynth.clean.lesion import lesion_mask

GROW_PX = 6  # at 256 px
VIGNETTE = 0.65


def frame_mask(rgb: np.ndarray, grow_px: float = GROW_PX) -> np.ndarray:
    """Bool mask [H, W] of the dermoscope frame (empty when there is none), grown by ``grow_px``.

    The detector's near-black frame, plus the vignetted corners: pixels darker than
    ``VIGNETTE * skin`` connected to the border outside the inscribed circle (radius > 0.9), where a
    lesion rarely reaches.
    """
    _, mask = dark_corner(rgb)
    v = max_channel(rgb)
    _, skin = corner_ratios(v)
    outer = radius_map(*v.shape) > 0.9
    mask = mask | (border_frame(v, VIGNETTE * skin, scaled(3, v.shape)) & outer)
    if not mask.any() or grow_px <= 0:
        return mask
    grown = cv2.dilate(mask.astype(np.uint8), ellipse(2 * scaled(grow_px, mask.shape) + 1)).astype(bool)
    return mask | (grown & ~lesion_mask(rgb, exclude=mask))
