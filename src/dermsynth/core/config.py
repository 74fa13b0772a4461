"""Typed configs with presets (DESIGN.md 3.2).

Configs are frozen dataclasses. A stage keeps a registry ``{preset_name: Config(...)}``;
:func:`resolve` starts from a preset and applies overrides (unknown keys are an error), and the
resolved config is written to ``config.json`` in the run directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from dermsynth.core.io import atomic_write_json

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return dict(cfg)


def resolve(presets: dict[str, T], name: str, **overrides: Any) -> T:
    """The preset ``name`` with ``overrides`` applied (``None`` values are ignored)."""
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(presets)}")
    base = presets[name]
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = [k for k in overrides if k not in fields]
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {type(base).__name__}")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {cls.__name__}")
    return cls(**data)


def save_config(cfg: Any, directory: str | os.PathLike, name: str = "config.json") -> Path:
    p = Path(directory) / name
    atomic_write_json(p, to_dict(cfg))
    return p


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_yaml_mapping(path: str | os.PathLike, what: str = "config file") -> dict[str, Any]:
    """A YAML file whose top level is a mapping; errors name the file and the problem."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: {what} not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a mapping at the top level")
    return data
