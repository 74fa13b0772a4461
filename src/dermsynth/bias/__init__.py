"""Bias audit: classical and learned detectors of dermoscopy artifacts, audit and evaluation.

Artifacts (the annotation columns of Bissoto et al., "Debiasing Skin Lesion Datasets and Models? Not
So Fast", ISIC Workshop @ CVPR 2020): dark_corner, hair, ruler, ink, gel_bubble, gel_border.

Public API: :func:`detect` / :func:`scores` (classical detectors, :data:`DETECTORS`, :data:`THRESHOLDS`,
:data:`ALIASES`, :class:`ArtifactResult`); :func:`audit_dataset` (method from :func:`parse_method`);
:func:`evaluate_dataset`; :func:`train_classifier` (:class:`ArtifactTrainConfig`), :func:`load_model`,
:func:`predict_proba`; :func:`read_annotations`, :func:`labels_dataset`; :func:`decisions` (an audit's
yes/no per artifact); the audit's manifest columns and ``audit_summary.json``, which other stages
read only through these (``bias/columns.py``: :func:`score_column`, :func:`annotated_column`,
:func:`artifact_flags`, :func:`annotation_flags`, :func:`audit_columns`, :func:`read_audit_summary` ...).
The detectors' building blocks, which the clean and edit stages use to remove or measure exactly what a detector finds: masks and scores (:func:`border_frame`, :func:`corner_ratios`,
:func:`dark_corner`, :func:`max_channel`, :func:`long_parts` with :data:`KERNEL_PX`, :func:`ink_pixels`)
and image helpers (:func:`luminance`, :func:`radius_map`, :func:`ellipse`, :func:`scaled`). Imports are lazy:
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
    "decisions": "dermsynth.bias.audit",
    # the audit's manifest columns and audit_summary.json (bias/columns.py; stages read through these)
    "ANNOTATED_SUFFIX": "dermsynth.bias.columns",
    "SCORE_SUFFIX": "dermsynth.bias.columns",
    "SUMMARY_FILE": "dermsynth.bias.columns",
    "AuditSummary": "dermsynth.bias.columns",
    "annotated_column": "dermsynth.bias.columns",
    "annotation_column": "dermsynth.bias.columns",
    "annotation_flags": "dermsynth.bias.columns",
    "artifact_flags": "dermsynth.bias.columns",
    "audit_scores": "dermsynth.bias.columns",
    "audit_columns": "dermsynth.bias.columns",
    "audited_artifacts": "dermsynth.bias.columns",
    "flag_artifacts": "dermsynth.bias.columns",
    "is_audited": "dermsynth.bias.columns",
    "read_audit_summary": "dermsynth.bias.columns",
    "score_column": "dermsynth.bias.columns",
    "write_audit_summary": "dermsynth.bias.columns",
    # detector building blocks (clean, edit)
    "border_frame": "dermsynth.bias.frame",
    "corner_ratios": "dermsynth.bias.frame",
    "dark_corner": "dermsynth.bias.frame",
    "max_channel": "dermsynth.bias.frame",
    "KERNEL_PX": "dermsynth.bias.hair",
    "long_parts": "dermsynth.bias.hair",
    "ink_pixels": "dermsynth.bias.ink",
    "ellipse": "dermsynth.bias.common",
    "luminance": "dermsynth.bias.common",
    "radius_map": "dermsynth.bias.common",
    "scaled": "dermsynth.bias.common",
}

__all__ = sorted(_PUBLIC)

__getattr__ = lazy_getattr("dermsynth.bias", _PUBLIC)
