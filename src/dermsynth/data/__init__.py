"""Datasets: ingest any supported source, the procedural phantom, splits, statistics, filtering.

Public API (the CLI ``dermsynth data`` and the study pipeline call these; each takes one frozen config):

- :func:`run_ingest` (:class:`IngestConfig`) — any source -> ``images/``, manifest, dataset.json, rejects
- :func:`make_phantom` (:class:`PhantomConfig`) — procedural dermoscopy with exact ground truth
- :func:`split_dataset` (:class:`SplitConfig`) — patient-level, class-stratified train/val/test
- :func:`write_sample` (:class:`SampleConfig`, :func:`sample_info`) — the embedded ISIC sample
- :func:`write_stats`, :func:`filter_dataset`, :func:`detect_format`; option parsers
  :func:`parse_label_map`, :func:`parse_rates`, :func:`normalise_rates`; :data:`SPLITS`
- phantom parts other stages use: :func:`render_phantom`, :func:`add_frame`

(The ingest function is reached as ``dermsynth.data.ingest.ingest``: a package attribute of that name
is the ``ingest`` module.)

Imports are lazy: ``import dermsynth.data`` loads no image library.
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

_PUBLIC = {
    "IngestConfig": "dermsynth.data.ingest",
    "IngestResult": "dermsynth.data.ingest",
    "run_ingest": "dermsynth.data.ingest",
    "PhantomConfig": "dermsynth.data.phantom",
    "make_phantom": "dermsynth.data.phantom",
    "make_phantom_dataset": "dermsynth.data.phantom",
    "render_phantom": "dermsynth.data.phantom",
    "add_frame": "dermsynth.data.phantom",
    "parse_rates": "dermsynth.data.phantom",
    "normalise_rates": "dermsynth.data.phantom",
    "parse_label_map": "dermsynth.data.labels",
    "SAMPLES_DIR": "dermsynth.data.sample",
    "SampleConfig": "dermsynth.data.sample",
    "write_sample": "dermsynth.data.sample",
    "sample_info": "dermsynth.data.sample",
    "SPLITS": "dermsynth.data.split",
    "SplitConfig": "dermsynth.data.split",
    "split_dataset": "dermsynth.data.split",
    "train_split_view": "dermsynth.data.views",
    "write_stats": "dermsynth.data.stats",
    "filter_dataset": "dermsynth.data.filter",
    "detect_format": "dermsynth.data.sources",
}

__all__ = sorted(_PUBLIC)

__getattr__ = lazy_getattr("dermsynth.data", _PUBLIC)
