"""Shared foundations every stage builds on; imports nothing from the stages (tests/test_layering.py).

- ``config``: frozen-dataclass configs from mappings (unknown keys named), ``config.json``, YAML files
- ``io``: atomic writes, hashing, JSON; ``figures``: matplotlib Agg + atomic PNG save
- ``manifest``: the manifest.csv / dataset.json schema that crosses stages
- ``distributed``: single process or torchrun, and the one device choice (``device('auto')``)
- ``frechet``: the Frechet distance between Gaussians fitted to features (FID, fd_simple)
- ``seeding``, ``ranges`` (``0-9,12``), ``stats`` (stats.jsonl), ``paths``, ``pretrained`` (local weights)
"""
