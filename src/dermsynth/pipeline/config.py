"""Study configs: named presets (YAML shipped in the package) merged with a user's YAML file."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dermsynth.core.config import check_keys, read_yaml_mapping

PRESETS = ("demo-cpu", "demo-phantom", "gpu-quick", "thesis-256")


def preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {list(PRESETS)}")
    text = (
        resources.files("dermsynth.pipeline").joinpath("presets", f"{name}.yaml").read_text(encoding="utf-8")
    )
    return yaml.safe_load(text)


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = (
            deep_merge(out[k], v)
            if isinstance(v, dict) and isinstance(out.get(k), dict)
            else copy.deepcopy(v)
        )
    return out


def load_study_config(path: str | Path | None = None, preset_name: str | None = None) -> dict[str, Any]:
    """The config of a study: ``preset_name`` (or the file's ``preset:`` key) overlaid by the file.

    Every key of every section is checked against the stage configs here, before any work: an unknown
    or misspelled key is an error naming it, the file and the valid keys.
    """
    user: dict[str, Any] = read_yaml_mapping(path) if path is not None else {}
    name = preset_name or user.pop("preset", None)
    cfg = deep_merge(preset(name), user) if name else user
    where = str(path) if path is not None else f"preset {name}"
    try:
        check_study(cfg)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    return cfg


def check_study(cfg: dict[str, Any], out: str | Path = "study") -> dict[str, Any]:
    """Check a study config; return every stage's resolved configs (stage folders under ``out``)."""
    from dermsynth.pipeline.runner import check_stages
    from dermsynth.pipeline.stages import STAGES, STUDY_KEYS

    check_keys(cfg, STUDY_KEYS, "study config")
    if "data" not in cfg:
        raise ValueError("the config has no 'data' section (name a preset or give data: {source: ...})")
    return check_stages(cfg, out, STAGES)


def resolved_study(cfg: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """What ``dermsynth run`` writes to ``OUT/config.json``: the study config and every stage's configs.

    The GAN's preset is resolved by the training stage once the data's resolution is known; its full
    config is in ``OUT/gan/<run>/config.json``.
    """
    import json

    from dermsynth.core.io import to_json

    return {"study": cfg, "stages": json.loads(to_json(check_study(cfg, out)))}
