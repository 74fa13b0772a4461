"""Bias audit: classical and learned detectors of dermoscopy artifacts, audit and evaluation.

Artifacts (the annotation columns of Bissoto et al., "Debiasing Skin Lesion Datasets and Models? Not
So Fast", ISIC Workshop @ CVPR 2020): dark_corner, hair, ruler, ink, gel_bubble, gel_border.

Public API: :func:`detect` / :func:`scores` (classical detectors, :data:`DETECTORS`, :data:`THRESHOLDS`,
:data:`ALIASES`, :class:`ArtifactResult`); :func:`audit_dataset` (method from :func:`parse_method`);
:func:`evaluate_dataset`; :func:`train_classifier` (:class:`ArtifactTrainConfig`), :func:`load_model`,
:func:`predict_proba`; :func:`read_annotations`, :func:`labels_dataset`. Imports are lazy:
``import dermsynth.bias`` loads neither OpenCV nor pandas (``core.lazy``).
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

_PUBLIC = {
    "ALIASES": "dermsynth.bias.registry",
    "DETECTORS": "dermsynth.bias.registry",
    "THRESHOLDS": "dermsynth.bias.registry",
    "ArtifactResult": "dermsynth.bias.registry",
    "detect": "dermsynth.bias.registry",
    "scores": "dermsynth.bias.registry",
    "audit_dataset": "dermsynth.bias.audit",
    "parse_method": "dermsynth.bias.audit",
    "evaluate_dataset": "dermsynth.bias.evaluate",
    "ArtifactTrainConfig": "dermsynth.bias.train",
    "train_classifier": "dermsynth.bias.train",
    "load_model": "dermsynth.bias.model",
    "predict_proba": "dermsynth.bias.model",
    "read_annotations": "dermsynth.bias.annotations",
    "labels_dataset": "dermsynth.bias.annotations",
}

__all__ = sorted(_PUBLIC)

__getattr__ = lazy_getattr("dermsynth.bias", _PUBLIC)
