"""Latent editing: SeFa / PCA / SVM directions in W, applying them, and measuring what they do.

Public API. The jobs (``dermsynth edit`` and the study pipeline call these, each with one frozen config):
:func:`find_directions` (:class:`DirectionsConfig`), :func:`apply_direction` (:class:`ApplyConfig`),
:func:`evaluate` (:class:`EvaluateConfig`). Their parts:

- :func:`sefa`, :func:`sefa_from_state_dict`, :func:`pca_of_generator`, :func:`pca_directions`,
  :func:`svm_directions`, :func:`boundary_from_scores`, :func:`sample_scored_w`, :func:`class_boundary`,
  :func:`orthogonalise`, :func:`project_out`
- :class:`Directions`, :func:`save_directions`, :func:`load_directions`
- :func:`edit_ws`, :func:`edit_strip`, :func:`strip_image`, :func:`until_clean`,
  :func:`edit_to_dataset`, :func:`clean_to_dataset`
- :func:`evaluate_directions`, :func:`choose_best`; scorers: :func:`get_scorer`, :func:`register_scorer`
"""

from dermsynth.edit.apply import edit_strip, edit_ws, parse_alphas, strip_image, until_clean
from dermsynth.edit.batch import EditJob, clean_to_dataset, edit_to_dataset
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
from dermsynth.edit.measure import EvalSettings, choose_best, evaluate_directions
from dermsynth.edit.pca import pca_directions, pca_of_generator
from dermsynth.edit.scores import Scores, get_scorer, register_scorer
from dermsynth.edit.sefa import sefa, sefa_from_state_dict
from dermsynth.edit.svm import (
    boundary_from_scores,
    class_boundary,
    orthogonalise,
    project_out,
    sample_scored_w,
    svm_directions,
)

__all__ = [
    "ApplyConfig",
    "DirectionsConfig",
    "EvaluateConfig",
    "apply_direction",
    "evaluate",
    "find_directions",
    "Directions",
    "EditJob",
    "EvalSettings",
    "Scores",
    "StyleAffine",
    "boundary_from_scores",
    "choose_best",
    "class_boundary",
    "clean_to_dataset",
    "edit_strip",
    "edit_to_dataset",
    "edit_ws",
    "evaluate_directions",
    "get_scorer",
    "load_directions",
    "parse_alphas",
    "parse_layers",
    "pca_directions",
    "pca_of_generator",
    "orthogonalise",
    "project_out",
    "sample_scored_w",
    "register_scorer",
    "save_directions",
    "sefa",
    "sefa_from_state_dict",
    "strip_image",
    "style_affines",
    "style_affines_from_state_dict",
    "svm_directions",
    "until_clean",
]
