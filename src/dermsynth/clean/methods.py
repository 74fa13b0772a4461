"""Registry of cleaning methods and ``clean_image``, which combines a frame method with hair removal.

Frame methods take ``(rgb, frame_mask, seed)``; all return ``(image, changed_mask)``. ``crop`` changes
the geometry: its changed mask is in the input's geometry (the discarded pixels) and hair removal, if
asked for, runs before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dermsynth.clean.crop import crop
from dermsynth.clean.frame_mask import frame_mask
from dermsynth.clean.hair import hair_mask, remove_hair
from dermsynth.clean.inpaint import fsr, opencv_inpaint
from dermsynth.clean.skin_inpaint import skin_inpaint

FrameMethod = Callable[[np.ndarray, np.ndarray, object], tuple[np.ndarray, np.ndarray]]

#: frame removal methods (name as on the command line -> function)
FRAME_METHODS: dict[str, FrameMethod] = {
    "crop": lambda rgb, m, seed: crop(rgb, m),
    "skin-inpaint": lambda rgb, m, seed: skin_inpaint(rgb, m, seed),
    "fsr": lambda rgb, m, seed: fsr(rgb, m, best=False),
    "fsr-best": lambda rgb, m, seed: fsr(rgb, m, best=True),
    "telea": lambda rgb, m, seed: opencv_inpaint(rgb, m, "telea"),
    "ns": lambda rgb, m, seed: opencv_inpaint(rgb, m, "ns"),
}
#: every method name ``dermsynth clean --method`` accepts
METHODS = [*FRAME_METHODS, "hair"]


@dataclass(frozen=True)
class Plan:
    """What to do to one image: remove the frame (with ``frame_method``) and/or the hair."""

    frame_method: str | None
    hair: bool

    @property
    def name(self) -> str | None:
        parts = ([self.frame_method] if self.frame_method else []) + (["hair"] if self.hair else [])
        return "+".join(parts) or None


def plan_for(method: str, also_hair: bool, has_frame: bool, has_hair: bool) -> Plan:
    """The plan for one image given the method and the audit's flags (only flagged artifacts change)."""
    if method not in METHODS:
        raise ValueError(f"unknown cleaning method {method!r}; known: {METHODS}")
    if method == "hair":
        return Plan(None, has_hair)
    return Plan(method if has_frame else None, also_hair and has_hair)


def clean_image(
    rgb: np.ndarray,
    plan: Plan,
    seed: object = 0,
    frame: np.ndarray | None = None,
    hair: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a plan: hair removal first, then the frame method. Returns ``(image, changed_mask)``
    (changed mask in the input geometry; for ``crop`` it includes the cut-away border)."""
    out = rgb
    changed = np.zeros(rgb.shape[:2], bool)
    if plan.hair:
        out, m = remove_hair(out, hair_mask(rgb) if hair is None else hair)
        changed |= m
    if plan.frame_method:
        fm = frame_mask(rgb) if frame is None else frame
        out, m = FRAME_METHODS[plan.frame_method](out, fm, seed)
        changed |= m
    return (out.copy() if out is rgb else out), changed
