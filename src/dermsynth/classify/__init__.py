"""Classifier experiments: what synthetic data is worth for melanoma detection.

Thesis (Rosén & Zoubi 2022) Table 3.1 / Table 4.5 / Fig. 4.17: EfficientNet classifiers trained on
real, synthetic, filtered-synthetic, edited and mixed sets, judged on one real test set.

Modules: ``metrics`` (confusion, thresholds, AUC + bootstrap CI), ``delong`` (DeLong test),
``experiment`` (YAML experiment file), ``data`` (dataset dirs, setups, splits), ``models`` (registry),
``train`` (one setup, resumable), ``run`` (a whole experiment), ``roc`` (figure),
``shortcut`` (frame shortcut test), ``embed`` (penultimate-layer embeddings, Fig. 3.7).
Nothing is imported eagerly: torch is only loaded by the modules that need it.
"""
