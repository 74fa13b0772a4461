"""Artifact removal: frame crop, skin-colour in-painting, FSR / Telea / NS in-painting, hair and ink removal.

Every method returns ``(image, changed_mask)`` (thesis Sec. 4.1-4.2, Figs. 4.1-4.3); ``clean_safely``
leaves an image alone when cleaning would change too much of it (issue 19). ``twins`` renders artifacts
onto real images with known masks, the measure of cleaning on real skin.
"""

from dermsynth.clean.crop import apply_crop, crop
from dermsynth.clean.dataset import CleanConfig, clean_dataset
from dermsynth.clean.frame_mask import frame_mask
from dermsynth.clean.hair import hair_mask, remove_hair
from dermsynth.clean.ink import ink_mask, remove_ink
from dermsynth.clean.inpaint import fsr, opencv_inpaint
from dermsynth.clean.lesion import lesion_mask
from dermsynth.clean.methods import (
    FRAME_METHODS,
    MAX_CHANGED,
    METHODS,
    Outcome,
    Plan,
    clean_image,
    clean_safely,
    plan_for,
)
from dermsynth.clean.skin_inpaint import skin_inpaint

__all__ = [
    "CleanConfig",
    "FRAME_METHODS",
    "MAX_CHANGED",
    "METHODS",
    "Outcome",
    "Plan",
    "apply_crop",
    "clean_dataset",
    "clean_image",
    "clean_safely",
    "crop",
    "frame_mask",
    "fsr",
    "hair_mask",
    "ink_mask",
    "lesion_mask",
    "opencv_inpaint",
    "plan_for",
    "remove_hair",
    "remove_ink",
    "skin_inpaint",
]
