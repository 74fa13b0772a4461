"""Metrics for synthetic data: FID, KID, precision/recall, PPL, memorisation; pluggable feature spaces.

Public API (other stages call these):
- ``compute_metrics(real_dir, fake_dir=None, network=None, metrics=('fid',), features='effnet-lite', ...)``
- ``compute_for_training(G_ema, dataset_dir, metrics, run_dir, num=10000, ...)``
- ``get_extractor(spec, device='cpu', **kw)``, ``register_extractor(name)``
- ``frechet_distance(mu1, s1, mu2, s2)``, ``feature_stats(features)``
- ``kernel_inception_distance(f1, f2, ...)``, ``precision_recall(real, fake, k=3)``
- ``load_feature_model(path)`` (dermo feature space)
"""

from __future__ import annotations

from dermsynth.metrics.compute import METRICS, compute_metrics, write_results
from dermsynth.metrics.dermo import load_feature_model
from dermsynth.metrics.extractors import EXTRACTORS, get_extractor, register_extractor
from dermsynth.metrics.frechet import feature_stats, fid_from_features, frechet_distance
from dermsynth.metrics.kid import kernel_inception_distance
from dermsynth.metrics.precision_recall import precision_recall
from dermsynth.metrics.training import compute_for_training

__all__ = [
    "EXTRACTORS",
    "METRICS",
    "compute_for_training",
    "compute_metrics",
    "feature_stats",
    "fid_from_features",
    "frechet_distance",
    "get_extractor",
    "kernel_inception_distance",
    "load_feature_model",
    "precision_recall",
    "register_extractor",
    "write_results",
]
