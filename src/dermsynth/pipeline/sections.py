"""The sections of study.yaml, each checked against the config of the stage it feeds.

A section is either one stage config (its keys are that config's fields, e.g. ``gan:`` holds
:class:`dermsynth.gan.train.config.TrainConfig` fields) or, where a stage runs several jobs, a few
named sub-sections holding one config each (``data: {phantom: ..., ingest: ..., split: ...}``,
``edit: {directions: ..., evaluate: ..., apply: ...}``, ``classify: {experiment: ..., embed: ...}``).
Section-level ``device``, ``batch_size`` and the study ``seed`` are defaults for every config that has
such a field. Fields the pipeline fills (paths, the network it just trained) cannot be set. Every
stage section may say ``enabled: false``.

Every config class lives in its stage (docs/architecture.md R2); this module only reads sections into
them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from dermsynth.core.config import build_config, check_keys

T = TypeVar("T")

#: Section-level keys handed down to every config of the section that has a field of that name.
SHARED = ("device", "batch_size")


def sub_config(
    cls: type[T],
    sec: Mapping[str, Any],
    key: str | None,
    where: str,
    seed: int | None = None,
    **filled: Any,
) -> T:
    """``cls`` from ``sec[key]`` (or ``sec`` itself when ``key`` is None).

    Section-level :data:`SHARED` keys and the study ``seed`` are defaults for fields of the same name;
    ``filled`` are the fields the pipeline sets (an error when the user sets them too).
    """
    data = sec if key is None else sec.get(key) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: must be a mapping, got {type(data).__name__}")
    data = {k: v for k, v in data.items() if key is not None or k != "enabled"}  # a flat section's switch
    names = {f.name for f in dataclasses.fields(cls)}
    settable = names - set(filled)
    set_by_pipeline = sorted(set(data) & set(filled))
    if set_by_pipeline:
        raise ValueError(f"{where}: {set_by_pipeline} are set by the pipeline; leave them out")
    check_keys(data, settable, where)
    defaults = {k: sec[k] for k in SHARED if key is not None and k in sec and k in names}
    if seed is not None and "seed" in names:
        defaults["seed"] = seed
    return build_config(cls, {**defaults, **data}, where, **filled)


def check_section_keys(sec: Mapping[str, Any], where: str, own: set[str], subs: Mapping[str, type]) -> None:
    """Keys at the top of a multi-job section: ``own`` keys, sub-section names, ``enabled``, and the
    :data:`SHARED` keys that some sub-section's config has (a shared key that reaches nothing is an error).
    """
    fields = {
        f.name for cls in subs.values() if dataclasses.is_dataclass(cls) for f in dataclasses.fields(cls)
    }
    shared = set(SHARED) & fields
    check_keys(sec, own | set(subs) | shared | {"enabled"}, where)
