"""Latent editing: SeFa / PCA / SVM directions in W, applying them, and measuring what they do.

Public API. The jobs (``dermsynth edit`` and the study pipeline call these, each with one frozen config):
:func:`find_directions` (:class:`DirectionsConfig`), :func:`apply_direction` (:class:`ApplyConfig`),
:func:`evaluate` (:class:`EvaluateConfig`). Their parts:

- :func:`sefa`, :func:`sefa_from_state_dict`, :func:`pca_of_generator`, :func:`pca_directions`,
  :func:`svm_directions`, :func:`boundary_from_scores`, :func:`sample_scored_w`, :func:`class_boundary`,
  :func:`orthogonalise`, :func:`project_out`
- :class:`Directions`, :func:`save_directions`, :func:`load_directions`
- :func:`edit_ws`, :func:`edit_strip`, :func:`strip_image`, :func:`until_clean`,
  :func:`edit_to_dataset`, :func:`clean_to_dataset`; :func:`map_seeds`, :func:`synthesize`
- :func:`evaluate_directions`, :func:`evaluation_samples` (module ``measure``), :func:`choose_best`; scorers: :func:`get_scorer`,
  :func:`register_scorer`
- the files other stages read (``table``): :func:`write_evaluation`, :func:`read_evaluation`
  (:class:`EditEvaluation`), :func:`status_counts`, :data:`TABLE_COLUMNS`, :data:`STATUSES`

``import dermsynth.edit`` loads numpy only: the modules that need torch, OpenCV, scikit-image or
scikit-learn (``apply``, ``batch``, ``measure``, ``sampling``, ``svm``) load on first use of one of
their names (``core.lazy``).
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr
from dermsynth.edit.directions import Directions, load_directions, save_directions
from dermsynth.edit.jobs import (
    ApplyConfig,
    DirectionsConfig,
    EvaluateConfig,
    apply_direction,
    evaluate,
    find_directions,
)
from dermsynth.edit.layers import StyleAffine, parse_layers, style_affines, style_affines_from_state_dict
from dermsynth.edit.pca import pca_directions, pca_of_generator
from dermsynth.edit.scores import Scores, get_scorer, register_scorer
from dermsynth.edit.sefa import sefa, sefa_from_state_dict

_LAZY = {
    "edit_strip": "dermsynth.edit.apply",
    "edit_ws": "dermsynth.edit.apply",
    "parse_alphas": "dermsynth.edit.apply",
    "strip_image": "dermsynth.edit.apply",
    "until_clean": "dermsynth.edit.apply",
    "EditJob": "dermsynth.edit.batch",
    "clean_to_dataset": "dermsynth.edit.batch",
    "edit_to_dataset": "dermsynth.edit.batch",
    "EvalSettings": "dermsynth.edit.measure",
    "choose_best": "dermsynth.edit.measure",
    "evaluate_directions": "dermsynth.edit.measure",
    "evaluation_samples": "dermsynth.edit.measure",
    "map_seeds": "dermsynth.edit.sampling",
    "synthesize": "dermsynth.edit.sampling",
    "boundary_from_scores": "dermsynth.edit.svm",
    "class_boundary": "dermsynth.edit.svm",
    "orthogonalise": "dermsynth.edit.svm",
    "project_out": "dermsynth.edit.svm",
    "sample_scored_w": "dermsynth.edit.svm",
    "svm_directions": "dermsynth.edit.svm",
    # the evaluation files and edited set status other stages read (edit/table.py, pandas)
    "STATUSES": "dermsynth.edit.table",
    "TABLE_COLUMNS": "dermsynth.edit.table",
    "EditEvaluation": "dermsynth.edit.table",
    "read_evaluation": "dermsynth.edit.table",
    "status_counts": "dermsynth.edit.table",
    "write_evaluation": "dermsynth.edit.table",
}

__all__ = [
    "STATUSES",
    "TABLE_COLUMNS",
    "ApplyConfig",
    "Directions",
    "DirectionsConfig",
    "EditEvaluation",
    "EditJob",
    "EvalSettings",
    "EvaluateConfig",
    "Scores",
    "StyleAffine",
    "apply_direction",
    "boundary_from_scores",
    "choose_best",
    "class_boundary",
    "clean_to_dataset",
    "edit_strip",
    "edit_to_dataset",
    "edit_ws",
    "evaluate",
    "evaluate_directions",
    "evaluation_samples",
    "find_directions",
    "get_scorer",
    "load_directions",
    "map_seeds",
    "orthogonalise",
    "parse_alphas",
    "parse_layers",
    "pca_directions",
    "pca_of_generator",
    "project_out",
    "read_evaluation",
    "register_scorer",
    "sample_scored_w",
    "save_directions",
    "sefa",
    "sefa_from_state_dict",
    "status_counts",
    "strip_image",
    "style_affines",
    "style_affines_from_state_dict",
    "svm_directions",
    "synthesize",
    "until_clean",
    "write_evaluation",
]

__getattr__ = lazy_getattr("dermsynth.edit", _LAZY)
