"""Registry of cleaning methods and ``clean_image``, which combines a frame method with hair removal.

Frame methods take ``(rgb, frame_mask, seed)``; all return ``(image, changed_mask)``. ``crop`` changes
the geometry: its changed mask is in the input's geometry (the discarded pixels) and hair removal, if
asked for, runs before it.

``clean_safely`` adds the do-no-harm rule of issue 19: a method may change at most ``max_changed`` of
an image (default 25%; for ``crop`` the cut-away border counts, so it needs a higher limit to act on a
full dermoscope circle) and ``crop`` may not cut the lesion body away; otherwise the image is left as
it is and the reason is returned (``too dense`` / ``crop cuts lesion``). Lesion pixels that no artifact
covers are protected by the masks themselves (``hair_mask``, ``frame_mask``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dermsynth.clean.crop import crop, crop_box
from dermsynth.clean.frame_mask import frame_mask
from dermsynth.clean.hair import hair_mask, remove_hair
from dermsynth.clean.ink import ink_mask, remove_ink
from dermsynth.clean.inpaint import fsr, opencv_inpaint
from dermsynth.clean.lesion import lesion_mask
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
METHODS = [*FRAME_METHODS, "hair", "ink"]
#: default largest share of an image a cleaning method may change
MAX_CHANGED = 0.25
#: ``crop`` is refused when it would cut away more than this share of the lesion body
MAX_LESION_CUT = 0.005
TOO_DENSE = "too dense"
CUTS_LESION = "crop cuts lesion"


@dataclass(frozen=True)
class Plan:
    """What to do to one image: remove the frame (with ``frame_method``), the hair and/or marker ink."""

    frame_method: str | None
    hair: bool
    ink: bool = False

    @property
    def name(self) -> str | None:
        parts = [self.frame_method] if self.frame_method else []
        parts += (["hair"] if self.hair else []) + (["ink"] if self.ink else [])
        return "+".join(parts) or None


def plan_for(
    method: str,
    also_hair: bool,
    has_frame: bool,
    has_hair: bool,
    also_ink: bool = False,
    has_ink: bool = False,
) -> Plan:
    """The plan for one image given the method and the audit's flags (only flagged artifacts change)."""
    if method not in METHODS:
        raise ValueError(f"unknown cleaning method {method!r}; known: {METHODS}")
    if method == "hair":
        return Plan(None, has_hair, also_ink and has_ink)
    if method == "ink":
        return Plan(None, also_hair and has_hair, has_ink)
    return Plan(method if has_frame else None, also_hair and has_hair, also_ink and has_ink)


def clean_image(
    rgb: np.ndarray,
    plan: Plan,
    seed: object = 0,
    frame: np.ndarray | None = None,
    hair: np.ndarray | None = None,
    ink: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a plan: hair removal first, then ink, then the frame method. Returns ``(image,
    changed_mask)`` (changed mask in the input geometry; for ``crop`` it includes the cut-away border)."""
    out = rgb
    changed = np.zeros(rgb.shape[:2], bool)
    if plan.hair:
        out, m = remove_hair(out, hair_mask(rgb) if hair is None else hair)
        changed |= m
    if plan.ink:
        out, m = remove_ink(out, ink_mask(rgb) if ink is None else ink)
        changed |= m
    if plan.frame_method:
        fm = frame_mask(rgb) if frame is None else frame
        out, m = FRAME_METHODS[plan.frame_method](out, fm, seed)
        changed |= m
    return (out.copy() if out is rgb else out), changed


@dataclass(frozen=True)
class Outcome:
    """What ``clean_safely`` did: the image (the input itself when skipped), the changed mask, why it
    was left alone (``None`` when cleaned or when there was nothing to do), and the share of the image
    the plan would have changed."""

    image: np.ndarray
    changed: np.ndarray
    skipped: str | None
    planned_fraction: float


def cut_away(frame: np.ndarray) -> np.ndarray:
    """The pixels ``crop`` discards for this frame mask."""
    y0, y1, x0, x1 = crop_box(frame)
    cut = np.ones(frame.shape, bool)
    cut[y0:y1, x0:x1] = False
    return cut


def planned_change(
    rgb: np.ndarray,
    plan: Plan,
    frame: np.ndarray | None,
    hair: np.ndarray | None,
    ink: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(pixels the plan would change, frame mask, hair mask, ink mask) without changing anything."""
    changed = np.zeros(rgb.shape[:2], bool)
    if plan.hair:
        hair = hair_mask(rgb) if hair is None else hair
        changed |= hair
    if plan.ink:
        ink = ink_mask(rgb) if ink is None else ink
        changed |= ink
    if plan.frame_method:
        frame = frame_mask(rgb) if frame is None else frame
        changed |= cut_away(frame) if plan.frame_method == "crop" else frame
    return changed, frame, hair, ink


def clean_safely(
    rgb: np.ndarray,
    plan: Plan,
    seed: object = 0,
    max_changed: float = MAX_CHANGED,
    frame: np.ndarray | None = None,
    hair: np.ndarray | None = None,
) -> Outcome:
    """``clean_image`` under the do-no-harm rule (module docstring)."""
    if not 0.0 < max_changed <= 1.0:
        raise ValueError(f"max_changed must be in (0, 1], got {max_changed}")
    planned, frame, hair, ink = planned_change(rgb, plan, frame, hair)
    fraction = float(planned.mean())
    untouched = np.zeros(rgb.shape[:2], bool)
    if fraction > max_changed:
        return Outcome(rgb, untouched, TOO_DENSE, fraction)
    if plan.frame_method == "crop" and frame is not None and frame.any():
        lesion = lesion_mask(rgb, exclude=frame)
        if lesion.any() and (cut_away(frame) & lesion).sum() > MAX_LESION_CUT * lesion.sum():
            return Outcome(rgb, untouched, CUTS_LESION, fraction)
    out, changed = clean_image(rgb, plan, seed, frame, hair, ink)
    return Outcome(out, changed, None, fraction)
