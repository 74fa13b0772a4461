"""What every report stage needs: the runs folder, what was found in it, where figures go, and
what ``dermsynth run`` recorded about each stage (``pipeline.json``), plus provenance lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dermsynth.core.io import sha256_file
from dermsynth.report.discover import Found
from dermsynth.report.html import Card, Item, Section

#: Settings of a run's config.json worth naming in its provenance line.
_PROV_KEYS = (
    "preset",
    "cfg",
    "seed",
    "n",
    "size",
    "kimg",
    "network",
    "model",
    "weights",
    "method",
    "features",
)


@dataclass
class Ctx:
    root: Path
    found: Found
    fig_dir: Path
    stages: dict[str, dict] = field(default_factory=dict)  # pipeline.json's {stage: {status, ...}}

    def rel(self, p: Path) -> str:
        """``p`` relative to the runs folder, with a trailing slash for folders."""
        p = Path(p)
        r = str(p.relative_to(self.root)) if p.is_relative_to(self.root) else str(p)
        r = "the runs folder" if r == "." else r
        return r + "/" if p.is_dir() and r != "the runs folder" else r

    def why_not_run(self, stage: str, what: str) -> str:
        """One line: why ``stage`` has no output here (from pipeline.json when there is one)."""
        st = self.stages.get(stage, {}).get("status")
        if st == "disabled":
            return f"did not run: the {stage} stage is disabled in this study's config."
        if st == "not-selected":
            return f"did not run: the {stage} stage was not selected (--only) and never ran."
        return f"did not run: no {what} under {self.root.name}/."

    def provenance(self, folder: Path) -> list[str]:
        """Folder, sha256 of its config.json and a few of its settings."""
        lines = [f"from: {self.rel(folder)}"]
        for name in ("config.json", "clean_config.json", ".stage.json"):
            cfg = folder / name
            if not cfg.is_file():
                continue
            lines.append(f"{name} sha256:{sha256_file(cfg)[:12]}")
            if name == ".stage.json":
                continue
            try:
                data = json.loads(cfg.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                data = {}
            if isinstance(data, dict):
                picked = {
                    k: data[k] for k in _PROV_KEYS if k in data and not isinstance(data[k], dict | list)
                }
                if picked:
                    lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in picked.items()))
        return lines


@dataclass
class StageReport:
    """What one stage contributes: its section, its summary card and its summary sentences."""

    section: Section | None = None
    card: Card | None = None
    findings: list[tuple[str, str]] = field(default_factory=list)  # (label, sentence)
    not_run: str = ""  # one line when the stage has no output


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; {} if missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def read_csv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dict -> {"a.b": scalar}; lists of scalars joined, longer structures left out."""
    out: dict = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list):
            if len(v) <= 12 and all(isinstance(x, int | float | str | bool) or x is None for x in v):
                out[key] = ", ".join(map(str, v))
        elif isinstance(v, int | float | str | bool) or v is None:
            out[key] = v
    return out


def kv_frame(d: dict) -> pd.DataFrame:
    """A two-column key/value table of display strings (numbers to 4 significant digits)."""

    def show(v) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    flat = flatten(d)
    return pd.DataFrame({"key": list(flat), "value": [show(v) for v in flat.values()]})


def numbered(items: list[Item]) -> set[str]:
    return {i.number for i in items if getattr(i, "number", "")}
