"""Classifier experiments: what synthetic data is worth for melanoma detection.

Thesis (Rosén & Zoubi 2022) Table 3.1 / Table 4.5 / Fig. 4.17: EfficientNet classifiers trained on
real, synthetic, filtered-synthetic, edited and mixed sets, judged on one real test set.

Modules: ``metrics`` (confusion, thresholds, AUC + bootstrap CI), ``delong`` (DeLong test),
``experiment`` (YAML experiment file), ``data`` (dataset dirs, setups, splits), ``models`` (registry),
``train`` (one setup, resumable), ``run`` (a whole experiment), ``results`` (its table.csv,
results.json, shortcut.csv), ``roc`` (figure), ``shortcut`` (frame shortcut test), ``embed``
(penultimate-layer embeddings, Fig. 3.7).
Nothing is imported eagerly: torch is only loaded by the modules that need it.

Public API (``dermsynth classify`` and the study pipeline call these): :func:`experiment_from_dict`,
:func:`load_experiment` (-> :class:`Experiment`), :func:`run_experiment`, :func:`embed_datasets`
(:class:`EmbedConfig`), :func:`shortcut_test`, :func:`load_trained`; other stages score images with
:func:`load_classifier` + :func:`predict_images` (``edit``'s ``classifier`` scorer);
``classify export|predict``: :func:`export_setup`, :func:`predict_dataset`; :func:`load_dataset` (a
dataset dir's rows), :func:`evaluate` (confusion counts, AUC + bootstrap CI of a prediction).

The files other stages read (``results``, docs/architecture.md, Contracts): :func:`write_results` /
:func:`read_results` (-> :class:`ClassifierResults` of :class:`SetupResult` rows; :class:`ResultsError`),
:func:`has_table` (the report's discovery), :data:`TABLE_COLUMNS`, :data:`REQUIRED_COLUMNS`, the file
names :data:`TABLE_CSV`, :data:`RESULTS_JSON`, :data:`SHORTCUT_CSV`, :data:`ROC_PNG`; :func:`json_safe`.
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

_PUBLIC = {
    "Experiment": "dermsynth.classify.experiment",
    "experiment_from_dict": "dermsynth.classify.experiment",
    "load_experiment": "dermsynth.classify.experiment",
    "run_experiment": "dermsynth.classify.run",
    "EmbedConfig": "dermsynth.classify.embed",
    "embed_datasets": "dermsynth.classify.embed",
    "shortcut_test": "dermsynth.classify.shortcut",
    "load_trained": "dermsynth.classify.trained",
    "load_classifier": "dermsynth.classify.exported",
    "predict_images": "dermsynth.classify.exported",
    "predict_dataset": "dermsynth.classify.exported",
    "export_setup": "dermsynth.classify.exported",
    "load_dataset": "dermsynth.classify.data",
    "evaluate": "dermsynth.classify.metrics",
    # the experiment's files other stages read (classify/results.py; loads no pandas until called)
    "REQUIRED_COLUMNS": "dermsynth.classify.results",
    "RESULTS_JSON": "dermsynth.classify.results",
    "ROC_PNG": "dermsynth.classify.results",
    "SHORTCUT_CSV": "dermsynth.classify.results",
    "TABLE_COLUMNS": "dermsynth.classify.results",
    "TABLE_CSV": "dermsynth.classify.results",
    "ClassifierResults": "dermsynth.classify.results",
    "ResultsError": "dermsynth.classify.results",
    "SetupResult": "dermsynth.classify.results",
    "has_table": "dermsynth.classify.results",
    "json_safe": "dermsynth.classify.results",
    "read_results": "dermsynth.classify.results",
    "write_results": "dermsynth.classify.results",
}

__all__ = sorted(_PUBLIC)

__getattr__ = lazy_getattr("dermsynth.classify", _PUBLIC)
