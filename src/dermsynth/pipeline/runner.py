"""Run a chain of stages; skip each one whose inputs and config are unchanged.

Every stage writes ``OUT/<stage>/``. When it finishes, ``OUT/<stage>/.stage.json`` records its key:
a hash of the stage's resolved configs (the frozen dataclasses its section builds, defaults included,
with the study folder written as ``$STUDY`` so that a moved study keeps its keys) and the keys of the
stages whose output it actually reads with those configs (``Stage.reads``): a GAN trained on the
audited images is not retrained when only the audit's method changes. On a rerun a stage whose key
matches is skipped; one whose key changed is redone from a clean folder; one interrupted before its
marker was written is run again in place (stages resume from what they already wrote: ingest skips
done images, GAN training continues from its latest training state, classifier setups that finished
are kept). So rerunning after an interruption or a config change redoes only what is needed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dermsynth import __version__
from dermsynth.core.io import atomic_write_json, sha256_json, to_json

MARKER = ".stage.json"


@dataclass(frozen=True)
class Stage:
    """``fn(cfg_section, out_dir, inputs: dict[name, Path], full_cfg, log) -> None``.

    ``configs(cfg_section, full_cfg, out_dir, inputs)`` builds the stage's configs without reading any
    file; :func:`check_stages` runs it for every stage before any work, so a bad key fails at once.
    """

    name: str
    fn: Callable[[dict, Path, dict[str, Path], dict, Callable[[str], None]], None]
    needs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # read when those stages ran; keyed on them then
    enabled: Callable[[dict], bool] = lambda cfg: True
    configs: Callable[[dict, dict, Path, dict[str, Path]], Any] | None = None
    # before any work of a real run (not --dry-run): checks that read files, e.g. local weights
    preflight: Callable[[Any], None] | None = None
    # reads(configs, ran) -> the stages whose output this one reads, given its configs and the stages
    # that ran before it (default: every need and every optional stage that ran)
    reads: Callable[[Any, set[str]], tuple[str, ...]] | None = None

    def inputs_read(self, configs: Any, ran: set[str]) -> tuple[str, ...]:
        if self.reads is not None:
            return self.reads(configs, ran)
        return tuple(n for n in self.needs + self.optional if n in ran)


def stage_key(stage: Stage, configs: Any, upstream: dict[str, str], root: str | Path) -> str:
    """The stage's identity: its resolved configs (paths under the study folder ``root`` written
    relative to it) and the keys of the upstream stages it reads (``upstream``: name -> key)."""
    text = to_json(configs, indent=None).replace(str(Path(root).resolve()), "$STUDY")
    return sha256_json(
        {
            "stage": stage.name,
            "configs": json.loads(text),
            "upstream": {n: upstream[n] for n in stage.inputs_read(configs, set(upstream)) if n in upstream},
            "version": __version__,
        }
    )


def section_of(cfg: dict, name: str) -> dict:
    sec = cfg.get(name) or {}
    if not isinstance(sec, dict):
        raise ValueError(f"study config: section {name!r} must be a mapping, got {type(sec).__name__}")
    return dict(sec)


def check_stages(cfg: dict[str, Any], out: str | Path, stages: list[Stage]) -> dict[str, Any]:
    """Build every stage's configs (stage folders under ``out``); the first error names the bad key.

    Returns ``{stage: configs}``; sections of disabled stages are checked too (a typo there is a typo).
    """
    out = Path(out).resolve()
    resolved: dict[str, Any] = {}
    for st in stages:
        if st.configs is None:
            continue
        inputs = {n: out / n for n in st.needs + st.optional}
        resolved[st.name] = st.configs(section_of(cfg, st.name), cfg, out / st.name, inputs)
    return resolved


def planned_keys(cfg: dict[str, Any], out: str | Path, stages: list[Stage]) -> dict[str, str]:
    """The key every enabled stage will have in a full run of ``cfg`` under ``out`` (no file is read):
    what a change of the config redoes, before anything runs."""
    resolved = check_stages(cfg, out, stages)
    keys: dict[str, str] = {}
    for st in stages:
        if st.enabled(cfg) and all(n in keys for n in st.needs):
            own = resolved.get(st.name, {"section": section_of(cfg, st.name), "seed": cfg.get("seed")})
            keys[st.name] = stage_key(st, own, keys, out)
    return keys


def _done_key(d: Path) -> str | None:
    p = d / MARKER
    try:
        return json.loads(p.read_text())["key"] if p.is_file() else None
    except (json.JSONDecodeError, KeyError, OSError):
        return None


def run_pipeline(
    cfg: dict[str, Any],
    out: str | Path,
    stages: list[Stage],
    only: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Run ``stages`` in order under ``out``; return ``{stage: {status, key, seconds}}``."""
    out = Path(out).resolve()
    names = [st.name for st in stages]
    unknown = [n for n in only or () if n not in names]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown} in --only; stages: {', '.join(names)}")
    resolved = check_stages(cfg, out, stages)  # every key of every section, before any work
    for st in stages:  # weights and other files the enabled stages will need, before any work
        if st.preflight is not None and st.enabled(cfg) and (not only or st.name in only):
            st.preflight(resolved[st.name])
    out.mkdir(parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    dirs: dict[str, Path] = {}
    result: dict[str, dict] = {}
    for st in stages:
        if not st.enabled(cfg) or (only and st.name not in only and not (out / st.name / MARKER).exists()):
            if only and st.name not in only and st.enabled(cfg):
                log(f"[{st.name}] not selected and never run")
            result[st.name] = {"status": "disabled" if not st.enabled(cfg) else "not-selected"}
            continue
        missing = [n for n in st.needs if n not in dirs]
        if missing:
            raise ValueError(f"stage {st.name!r} needs {missing}, which are disabled or failed")
        # a stage without a configs function is keyed on its raw section and the study seed
        own = resolved.get(st.name, {"section": section_of(cfg, st.name), "seed": cfg.get("seed")})
        key = stage_key(st, own, keys, out)
        d = out / st.name
        inputs = {n: dirs[n] for n in st.needs + st.optional if n in dirs}
        done = _done_key(d)
        if done == key:
            log(f"[{st.name}] unchanged, skipped")
            result[st.name] = {"status": "skipped", "key": key}
        elif only and st.name not in only:
            log(f"[{st.name}] changed but not selected; using its old output")
            key = done or key
            result[st.name] = {"status": "stale", "key": key}
        else:
            if done is not None:  # finished earlier with another config: redo from scratch
                log(f"[{st.name}] config or inputs changed: redoing")
                shutil.rmtree(d)
            elif d.exists():
                log(f"[{st.name}] resuming an interrupted run")
            d.mkdir(parents=True, exist_ok=True)
            t0 = time.time()
            log(f"[{st.name}] running")
            st.fn(section_of(cfg, st.name), d, inputs, cfg, log)
            secs = time.time() - t0
            atomic_write_json(d / MARKER, {"key": key, "seconds": round(secs, 2), "finished": time.time()})
            log(f"[{st.name}] done in {secs:.1f} s")
            result[st.name] = {"status": "ran", "key": key, "seconds": round(secs, 2)}
        keys[st.name] = key
        dirs[st.name] = d
    atomic_write_json(out / "pipeline.json", {"stages": result})
    return result
