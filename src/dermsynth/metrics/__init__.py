"""Metrics for synthetic data: FID, KID, precision/recall, PPL, memorisation, by name; pluggable feature spaces.

Names say the protocol (registry.py): official ``fid50k_full``, ``kid50k_full``, ``pr50k3_full``,
``ppl2_wend`` (official feature networks from local files, refused without them) and explicit
``<metric><count>_<space>`` names such as ``fid10k_effnetlite``. One driver (driver.evaluate) serves
the command and training.

Public API (other stages call these):
- ``compute_metrics(real_dir, fake_dir=None, network=None, metrics=(...), **options)``
- ``compute_for_training(G_ema, dataset_dir, metrics, run_dir, kimg=..., snapshot=..., **options)``
- ``evaluate(metrics, real_dir, opts, G=None, fake_dir=None)``, ``MetricOptions``
- ``check_metrics(names, has_generator=True, opts=None)``: names valid and weights present, at setup
- ``resolve_metric(name)``, ``resolve_metrics(names)``, ``list_metrics()``, ``register_space(...)``
- ``get_extractor(spec, device='cpu', **kw)``, ``register_extractor(name)``
- ``frechet_distance(mu1, s1, mu2, s2)``, ``feature_stats(features)``
- ``kernel_inception_distance(f1, f2, ...)``, ``precision_recall(real, fake, k=3)``
- ``load_feature_model(path)``, ``resolve_dermo_checkpoint(spec)`` (dermo feature space)
"""

from __future__ import annotations

from dermsynth.metrics.compute import compute_metrics, write_results
from dermsynth.metrics.dermo import load_feature_model, resolve_dermo_checkpoint
from dermsynth.metrics.driver import MetricOptions, check_metrics, evaluate
from dermsynth.metrics.extractors import EXTRACTORS, get_extractor, register_extractor
from dermsynth.metrics.frechet import feature_stats, fid_from_features, frechet_distance
from dermsynth.metrics.kid import kernel_inception_distance
from dermsynth.metrics.precision_recall import precision_recall
from dermsynth.metrics.registry import (
    OFFICIAL,
    SPACES,
    MetricSpec,
    list_metrics,
    register_space,
    resolve_metric,
    resolve_metrics,
)
from dermsynth.metrics.training import compute_for_training

__all__ = [
    "EXTRACTORS",
    "OFFICIAL",
    "SPACES",
    "MetricOptions",
    "MetricSpec",
    "check_metrics",
    "compute_for_training",
    "compute_metrics",
    "evaluate",
    "feature_stats",
    "fid_from_features",
    "frechet_distance",
    "get_extractor",
    "kernel_inception_distance",
    "list_metrics",
    "load_feature_model",
    "precision_recall",
    "register_extractor",
    "register_space",
    "resolve_dermo_checkpoint",
    "resolve_metric",
    "resolve_metrics",
    "write_results",
]
