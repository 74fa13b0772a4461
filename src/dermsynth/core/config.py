"""Typed configs with presets (docs/architecture.md R2).

Configs are frozen dataclasses. A stage keeps a registry ``{preset_name: Config(...)}``;
:func:`resolve` starts from a preset and applies overrides (unknown keys are an error), and the
resolved config is written to ``config.json`` in the run directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from collections.abc import Iterable, Mapping
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


def check_keys(data: Mapping[str, Any], valid: Iterable[str], where: str) -> None:
    """Raise ``ValueError`` naming each unknown key of ``data``, its nearest valid name and all valid ones."""
    valid = sorted(valid)
    unknown = [k for k in data if k not in valid]
    if not unknown:
        return
    hints = []
    for k in unknown:
        near = difflib.get_close_matches(str(k), valid, n=1)
        hints.append(f"{k!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    raise ValueError(f"{where}: unknown key(s) {', '.join(hints)}; valid keys: {', '.join(valid)}")


def _coerce(value: Any, hint: Any) -> Any:
    """YAML values into a field's type where YAML cannot say it: lists -> tuples, '1,2' -> tuple."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return value if value is None else _coerce(value, args[0])
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            return tuple(value)
    return value


def coerce_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with each value coerced to the type of ``cls``'s field of that name (see :func:`build_config`)."""
    hints = typing.get_type_hints(cls)
    return {k: _coerce(v, hints.get(k)) for k, v in data.items()}


def build_config(cls: type[T], data: Mapping[str, Any] | None, where: str, **fixed: Any) -> T:
    """The frozen dataclass ``cls`` from a mapping (e.g. a study.yaml section); ``fixed`` fills the rest.

    Unknown keys are an error naming them and the valid ones (before any work is done); lists become
    tuples where the field is a tuple.
    """
    data = dict(data or {})
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys(data, names, where)
    try:
        return cls(**{**coerce_fields(cls, data), **fixed})
    except TypeError as e:
        raise ValueError(f"{where}: {e}") from None


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
