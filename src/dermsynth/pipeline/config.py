"""Study configs: named presets (YAML shipped in the package) merged with a user's YAML file."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dermsynth.core.config import read_yaml_mapping

PRESETS = ("demo-cpu", "gpu-quick", "thesis-256")


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
    """The config of a study: ``preset_name`` (or the file's ``preset:`` key) overlaid by the file."""
    user: dict[str, Any] = read_yaml_mapping(path) if path is not None else {}
    name = preset_name or user.pop("preset", None)
    cfg = deep_merge(preset(name), user) if name else user
    if "data" not in cfg:
        raise ValueError("the config has no 'data' section (name a preset or give data: {source: ...})")
    return cfg
