"""Gel border detector: a long bright or dark curved edge left by the edge of the immersion gel.

Where the gel layer ends, dermoscopy images show a long thin curve crossing the skin (Bissoto et al.
2020, ``gel_border``). It is a thin structure like hair but bright-rimmed and long: the white top-hat
and black-hat responses are combined, and parts much longer than hairs (>= 60 px at 256 px) with a
thin mean width are kept. Score: their total length in image widths.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import at_work_size, ellipse, luminance, scaled
from dermsynth.bias.hair import long_parts

RESPONSE = 12
MIN_LENGTH_PX = 60.0
MAX_WIDTH_PX = 5.0


@at_work_size
def gel_border(rgb: np.ndarray) -> tuple[float, np.ndarray]:
    """Score (length of long bright thin curves in image widths) and their mask."""
    gray = luminance(rgb)
    k = ellipse(scaled(9, gray.shape))
    th = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, k)
    binary = (th > RESPONSE).astype(np.uint8)
    mask, total = long_parts(binary, scaled(MIN_LENGTH_PX, gray.shape), scaled(MAX_WIDTH_PX, gray.shape))
    return total / gray.shape[1], mask
