"""Metrics for synthetic data: FID, KID, precision/recall, PPL, memorisation, by name; pluggable feature spaces.

Names say the protocol (registry.py): official ``fid50k_full``, ``kid50k_full``, ``pr50k3_full``,
``ppl2_wend`` (official feature networks from local files, refused without them) and explicit
``<metric><count>_<space>`` names such as ``fid10k_effnetlite``. One driver (driver.evaluate) serves
the command and training.

Public API (other stages call these):
- ``compute_metrics(real_dir, fake_dir=None, network=None, metrics=(...), **options)``
- ``compute_for_training(G_ema, dataset_dir, metrics, run_dir, kimg=..., **options)``: results per metric (the training loop writes them)
- ``evaluate(metrics, real_dir, opts, G=None, fake_dir=None)``, ``MetricOptions``
- ``check_metrics(names, has_generator=True, opts=None)``: names valid and weights present, at setup
- ``resolve_metric(name)``, ``resolve_metrics(names)``, ``list_metrics()``, ``register_space(...)``
- ``get_extractor(spec, device='cpu', **kw)``, ``register_extractor(name)``
- ``frechet_distance(mu1, s1, mu2, s2)``, ``feature_stats(features)``
- ``kernel_inception_distance(f1, f2, ...)``, ``precision_recall(real, fake, k=3)``
- ``load_lpips(vgg_weights=None, lin_weights=None)``: LPIPS-VGG16 from local weights (PPL, edit)
- ``load_feature_model(path)``, ``resolve_dermo_checkpoint(spec)`` (dermo feature space)
- ``write_metrics(path, result)``, ``read_metrics(path) -> MetricsResult``: the metrics.json contract
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

# Names load on first use (docs/architecture.md R14): ``dermsynth.metrics.result`` (metrics.json) is read by
# the report, which never imports torch.
_LAZY = {
    "compute_metrics": "dermsynth.metrics.compute",
    "write_results": "dermsynth.metrics.compute",
    "load_feature_model": "dermsynth.metrics.dermo",
    "resolve_dermo_checkpoint": "dermsynth.metrics.dermo",
    "MetricOptions": "dermsynth.metrics.driver",
    "check_metrics": "dermsynth.metrics.driver",
    "evaluate": "dermsynth.metrics.driver",
    "EXTRACTORS": "dermsynth.metrics.extractors",
    "get_extractor": "dermsynth.metrics.extractors",
    "register_extractor": "dermsynth.metrics.extractors",
    "feature_stats": "dermsynth.metrics.frechet",
    "fid_from_features": "dermsynth.metrics.frechet",
    "frechet_distance": "dermsynth.metrics.frechet",
    "kernel_inception_distance": "dermsynth.metrics.kid",
    "precision_recall": "dermsynth.metrics.precision_recall",
    "load_lpips": "dermsynth.metrics.lpips",
    "OFFICIAL": "dermsynth.metrics.registry",
    "SPACES": "dermsynth.metrics.registry",
    "MetricSpec": "dermsynth.metrics.registry",
    "list_metrics": "dermsynth.metrics.registry",
    "register_space": "dermsynth.metrics.registry",
    "resolve_metric": "dermsynth.metrics.registry",
    "resolve_metrics": "dermsynth.metrics.registry",
    "compute_for_training": "dermsynth.metrics.training",
    "MetricsResult": "dermsynth.metrics.result",
    "read_metrics": "dermsynth.metrics.result",
    "write_metrics": "dermsynth.metrics.result",
}

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
    "load_lpips",
    "precision_recall",
    "register_extractor",
    "register_space",
    "resolve_dermo_checkpoint",
    "resolve_metric",
    "resolve_metrics",
    "write_results",
    "MetricsResult",
    "read_metrics",
    "write_metrics",
]

__getattr__ = lazy_getattr("dermsynth.metrics", _LAZY)
