"""The sections of study.yaml, each checked against the config of the stage it feeds.

A section is either one stage config (its keys are that config's fields, e.g. ``gan:`` holds
:class:`dermsynth.gan.train.config.TrainConfig` fields) or, where a stage runs several jobs, a few
named sub-sections holding one config each (``data: {phantom: ..., ingest: ..., split: ...}``,
``edit: {directions: ..., evaluate: ..., apply: ...}``, ``classify: {experiment: ..., embed: ...}``).
Section-level ``device``, ``batch_size`` and the study ``seed`` are defaults for every config that has
such a field. Fields the pipeline fills (paths, the network it just trained) cannot be set. Every
stage section may say ``enabled: false``.

Stages whose package has no config class of its own (audit, clean, generate, metrics, survey
analysis, report) get one here, with the names of their command-line options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dermsynth.core.config import build_config, check_keys

T = TypeVar("T")

#: Section-level keys handed down to every config of the section that has a field of that name.
SHARED = ("device", "batch_size")


@dataclass(frozen=True)
class AuditConfig:
    """``dermsynth bias audit`` in the pipeline."""

    method: str = "heuristic"  # heuristic | model:PATH | best[:PATH] (better of both per artifact)
    model: str | None = None  # model directory of `bias train` (for method best)
    figures: bool = True  # write the prevalence figure and example grids
    device: str = "auto"  # device of the learned model: auto | cpu | cuda | cuda:N | mps


@dataclass(frozen=True)
class CleanConfig:
    """``dermsynth clean`` in the pipeline (runs only with ``clean: {enabled: true}``)."""

    method: str = "crop"  # crop | skin-inpaint | fsr | fsr-best | telea | ns | hair | ink
    also_hair: bool = False  # also remove hair (with a frame method)
    also_ink: bool = False  # also remove ink marks (with a frame or hair method)
    max_changed: float = 0.25  # do no harm: an image whose cleaning would change more is left as it is
    seed: int = 0  # seed of skin-inpaint's draws


@dataclass(frozen=True)
class GenerateConfig:
    """``dermsynth gan generate`` in the pipeline: ``per_class`` seeds for every class."""

    per_class: int = 100  # images per class (seeds 0 .. per_class-1)
    trunc: float = 1.0  # truncation psi (1 = none), official generate.py --trunc
    trunc_cutoff: int | None = None  # truncate only the first N ws
    noise_mode: str = "const"  # const | random | none
    class_aware: bool = False  # truncate towards the class mean w
    centers_samples: int = 10000  # samples per class for the class means
    save_ws: bool = False  # also write ws.npy (manifest order)
    ema: bool = True  # use G_ema when the network file has it
    batch_size: int = 32  # images per forward pass (does not change the images)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    audit: bool = True  # when the study audits its data: audit the generated images the same way (does the GAN keep the biases?)


@dataclass(frozen=True)
class MetricsConfig:
    """``dermsynth metrics`` in the pipeline: which metrics (names of docs/metrics.md, e.g.
    ``fid1k_effnetlite``, ``fid1k_dermo``, ``ppl1k_wend_lpips``) of the generated images against the real
    dataset. Every other key of the section is a field of ``metrics.driver.MetricOptions``."""

    metrics: tuple[str, ...] = ("fid10k_effnetlite",)  # metric names (docs/metrics.md)


@dataclass(frozen=True)
class AnalyzeConfig:
    """``dermsynth survey analyze`` in the pipeline (runs when ``responses`` is given)."""

    responses: str | None = None  # responses.csv of the reader study (app export or typed in)
    n_boot: int = 2000  # cluster-bootstrap resamples


@dataclass(frozen=True)
class ReportConfig:
    """``dermsynth report`` in the pipeline."""

    title: str = "dermsynth study"  # page title


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
