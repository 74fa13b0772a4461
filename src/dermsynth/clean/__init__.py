"""Artifact removal: frame crop, skin-colour in-painting, FSR / Telea / NS in-painting, hair removal.

Every method returns ``(image, changed_mask)`` (thesis Sec. 4.1-4.2, Figs. 4.1-4.3).
"""

from dermsynth.clean.crop import apply_crop, crop
from dermsynth.clean.dataset import clean_dataset
from dermsynth.clean.frame_mask import frame_mask
from dermsynth.clean.hair import hair_mask, remove_hair
from dermsynth.clean.inpaint import fsr, opencv_inpaint
from dermsynth.clean.methods import FRAME_METHODS, METHODS, Plan, clean_image, plan_for
from dermsynth.clean.skin_inpaint import skin_inpaint

__all__ = [
    "FRAME_METHODS",
    "METHODS",
    "Plan",
    "apply_crop",
    "clean_dataset",
    "clean_image",
    "crop",
    "frame_mask",
    "fsr",
    "hair_mask",
    "opencv_inpaint",
    "plan_for",
    "remove_hair",
    "skin_inpaint",
]
