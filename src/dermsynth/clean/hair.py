"""Hair removal: a hair mask that knows skin, then in-painting (thesis Sec. 4.2, Fig. 4.3).

DullRazor (Lee et al. 1997) finds hair with a grayscale closing by line elements and in-paints it.
The first mask here (a disc black-hat, thresholded at a fixed level, grown 2 px) changed 14% of a
real image that sparse rendered hair covered at 2.5% (precision 0.19, 11% of the lesion touched;
issue 19): it answers to every thin dark thing on real skin, pigment network and the thin dark line
along the edge of scanned images included. This mask keeps what only hair has:

1. **dark relative to the skin**: black-hat (13 px disc at 256 px) divided by the skin level (75th
   percentile of the luminance), so a lesion's dark texture is not inflated as a local ratio would;
2. **long and straight over 13 px**: the largest of 12 openings of that response with line elements
   13 px long (the "path" of a hair; dots and network meshes shorter than that vanish). Curved hairs
   pass: over 13 px a hair of radius 40 px strays by 0.5 px;
3. **hysteresis**: pixels above ``HIGH`` seed hairs that continue through pixels above ``LOW`` (faint
   ends); inside the lesion body (``clean.lesion``) a pixel needs ``LESION_LOW`` to continue a hair, and
   that level applies *before* pixels are joined, so a hair crossing a lesion is not fused with the
   lesion's pigment network into one part (which step 4 then dropped whole: on held-out twins whole sets
   of plain dark hairs over a large lesion were missed that way);
4. **long parts**: connected parts at least 20 px long (bounding-box diagonal); a part lying mostly
   (> 85%) inside the lesion body is lesion texture, not hair; the outer 2 px ring is ignored (scanned
   images often carry a thin dark line along the edge);
5. **the soft edge**: pixels next to the mask, outside the lesion, darker than the skin by ``EDGE``
   (10% of the skin level) join it (anti-aliased hair borders), instead of a blind 2 px dilation.

Figures on real twins (``benchmarks/clean_real.py``, docs/bias.md): tuned on the first 40 hair-twin
candidates of the isic2017-256 ``train`` split (IoU 0.713 / 0.714 at sparse / medium density), reported on
the 60 held-out ones: IoU 0.603 / 0.675 (before issue 27.5: 0.518 / 0.525; the 2022 mask 0.14 / 0.15), lesion
pixels changed outside the hair 0.17% / 0.22% / 0.42% on average at sparse / medium / dense (limit 0.5%).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, luminance, scaled
from dermsynth.bias.hair import KERNEL_PX, long_parts
from dermsynth.clean.inpaint import opencv_inpaint
from dermsynth.clean.lesion import lesion_core

LINE_PX = 13.0  # line element length at 256 px
N_ORIENTATIONS = 12
HIGH = 0.2  # seed level, in units of the skin level
LOW = 0.08  # continuation level
LESION_LOW = 0.16  # continuation level inside the lesion body
EDGE = 0.1  # soft-edge level
OUTSIDE_SHARE = 0.15  # a part must lie at least this much outside the lesion body
MIN_LENGTH_PX = 20.0
BORDER_PX = 2  # outer ring ignored (thin dark lines along the edge of scanned images)


@lru_cache(maxsize=8)
def line_elements(length: int, n: int = N_ORIENTATIONS) -> tuple[np.ndarray, ...]:
    """``n`` line structuring elements of odd ``length`` at angles k * 180 / n degrees."""
    length = max(3, length | 1)
    c = (length - 1) / 2
    out = []
    for k in range(n):
        t = np.pi * k / n
        el = np.zeros((length, length), np.uint8)
        dx, dy = np.cos(t) * c, np.sin(t) * c
        cv2.line(el, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1, 1)
        out.append(el)
    return tuple(out)


def hair_response(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(line response, black-hat) [H, W] float32, both in units of the skin level (steps 1-2)."""
    g = gray.astype(np.float32)
    skin = max(float(np.percentile(gray, 75)), 1.0)
    bh = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, ellipse(scaled(KERNEL_PX, gray.shape))) / skin
    b = scaled(BORDER_PX, gray.shape)
    bh[:b], bh[-b:], bh[:, :b], bh[:, -b:] = 0, 0, 0, 0
    lines = line_elements(scaled(LINE_PX, gray.shape))
    resp = np.max([cv2.morphologyEx(bh, cv2.MORPH_OPEN, el) for el in lines], axis=0)
    return resp, bh


def _drop_lesion_parts(mask: np.ndarray, core: np.ndarray) -> np.ndarray:
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    outside = np.bincount(labels[~core], minlength=n)
    total = np.bincount(labels.ravel(), minlength=n)
    keep = outside >= OUTSIDE_SHARE * total
    keep[0] = False
    return keep[labels]


def hysteresis(resp: np.ndarray, low: np.ndarray, high: float) -> np.ndarray:
    """Bool mask: connected parts (8-neighbours) of ``resp > low`` (``low`` per pixel) holding a pixel
    above ``high``."""
    cand = resp > low
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    seeded = np.zeros(n, bool)
    seeded[np.unique(labels[cand & (resp > high)])] = True
    seeded[0] = False
    return seeded[labels]


def hair_mask(rgb: np.ndarray, lesion: np.ndarray | None = None) -> np.ndarray:
    """Bool mask [H, W] of hair pixels to remove (see the module docstring).

    ``lesion``: the lesion body to protect (default ``clean.lesion.lesion_core`` of the image).
    """
    gray = luminance(rgb)
    resp, bh = hair_response(gray)
    min_len = scaled(MIN_LENGTH_PX, gray.shape)
    core = lesion_core(gray) if lesion is None else lesion
    mask = hysteresis(resp, np.where(core, LESION_LOW, LOW).astype(np.float32), HIGH)
    mask, _ = long_parts(mask.astype(np.uint8), min_len)
    if not mask.any():
        return mask
    mask = _drop_lesion_parts(mask, core)
    mask, _ = long_parts(mask.astype(np.uint8), min_len)
    if mask.any():
        near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        mask |= near & (bh > EDGE) & ~core
    return mask


def remove_hair(
    rgb: np.ndarray, mask: np.ndarray | None = None, method: str = "telea"
) -> tuple[np.ndarray, np.ndarray]:
    """In-paint hair pixels (``mask`` or ``hair_mask(rgb)``); returns ``(image, mask)``."""
    mask = hair_mask(rgb) if mask is None else mask
    return opencv_inpaint(rgb, mask, method)
