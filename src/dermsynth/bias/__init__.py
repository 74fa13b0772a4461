"""Bias audit: classical and learned detectors of dermoscopy artifacts, audit and evaluation.

Artifacts (the annotation columns of Bissoto et al., "Debiasing Skin Lesion Datasets and Models? Not
So Fast", ISIC Workshop @ CVPR 2020): dark_corner, hair, ruler, ink, gel_bubble, gel_border.
"""

from dermsynth.bias.registry import ALIASES, DETECTORS, THRESHOLDS, ArtifactResult, detect, scores

__all__ = ["ALIASES", "DETECTORS", "THRESHOLDS", "ArtifactResult", "detect", "scores"]
