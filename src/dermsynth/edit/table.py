"""The edit stage's files that other stages read: the evaluation (``table.csv``, ``table.json``) and the
status column of an edited set's ``manifest.csv``. Written here (``measure.save_evaluation``,
``batch.clean_to_dataset``), read here (the report): one layout, one owner (docs/architecture.md,
Contracts). Imports pandas only, no torch.

``table.csv``: one row per direction and step, columns :data:`TABLE_COLUMNS` (``measure`` defines each
figure); ``table.json``: ``settings`` (``EvalSettings``: ``alphas``, ``num``, limits ...), ``rule`` (the
best-direction rule in words), ``best`` (the chosen row), ``rows`` (every row), and the job's provenance
(``directions``, ``network``, ``detector``, ``class_scorer``, ``perceptual_distance``, ``seeds_searched``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dermsynth.core.values import finite_float

#: Columns of ``table.csv`` in order (what each one measures: ``edit/measure.py``).
TABLE_COLUMNS = (
    "method", "index", "alpha", "value", "n", "n_present", "removed_frac", "induced_frac", "score_change",
    "ssim_outside", "lesion_iou", "lesion_area_change", "lesion_colour_change", "lpips_outside", "class_kept",
    "eligible", "best",
)  # fmt: skip

#: Values of the ``status`` column of an edited set (``until_clean``): the detector never fired, the edit
#: made it stop, or it still fires at the largest step.
STATUSES = ("already_clean", "cleaned", "still_present")

#: Keys of ``table.json`` besides the provenance of the job.
TABLE_KEYS = ("settings", "rule", "best", "rows")


def write_evaluation(
    out_dir: str | os.PathLike, table: pd.DataFrame, settings: dict, rule: str, info: dict
) -> dict:
    """Write ``table.csv`` and ``table.json`` atomically; return the best row. The table must have every
    column of :data:`TABLE_COLUMNS` and exactly one ``best`` row."""
    from dermsynth.core.io import atomic_path, atomic_write_json

    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{out_dir}: an edit evaluation table needs the columns {missing}")
    if int(table["best"].astype(bool).sum()) != 1:
        raise ValueError(f"{out_dir}: an edit evaluation table needs exactly one best row")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = table[list(TABLE_COLUMNS) + [c for c in table.columns if c not in TABLE_COLUMNS]]
    with atomic_path(out / "table.csv") as tmp:
        table.to_csv(tmp, index=False)
    best = table[table["best"].astype(bool)].iloc[0].to_dict()
    atomic_write_json(out / "table.json", {**info, "settings": settings, "rule": rule, "best": best,
                                           "rows": table.to_dict("records")})  # fmt: skip
    return best


@dataclass(frozen=True)
class EditEvaluation:
    """One edit evaluation folder, read back."""

    folder: str
    table: pd.DataFrame | None  # table.csv (None when absent or unreadable)
    best: dict  # the best row ({} when table.json is absent)
    rule: str = ""
    settings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # provenance: directions, network, detector, seeds_searched ...

    @property
    def method(self) -> str:
        if self.best.get("method"):
            return str(self.best["method"])
        if self.table is not None and "method" in self.table and len(self.table):
            return str(self.table["method"].iloc[0])
        return ""

    @property
    def alphas(self) -> list[float]:
        return [a for a in (finite_float(x) for x in self.settings.get("alphas") or []) if a is not None]

    @property
    def seeds_searched(self) -> int | None:
        v = finite_float(self.info.get("seeds_searched"))
        return int(v) if v is not None else None


def read_evaluation(folder: str | os.PathLike) -> EditEvaluation:
    """``table.csv`` + ``table.json`` of ``folder``; what is missing or unreadable is empty, never an error
    (the report says what it could not read)."""
    d = Path(folder)
    try:
        ev = json.loads((d / "table.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        ev = {}
    ev = ev if isinstance(ev, dict) else {}
    try:
        table = pd.read_csv(d / "table.csv")
    except (OSError, ValueError):
        table = None
    best = ev.get("best") if isinstance(ev.get("best"), dict) else {}
    settings = ev.get("settings") if isinstance(ev.get("settings"), dict) else {}
    info = {k: v for k, v in ev.items() if k not in TABLE_KEYS}
    return EditEvaluation(str(d), table, best, str(ev.get("rule") or ""), settings, info)


def status_counts(manifest: pd.DataFrame) -> dict[str, int]:
    """Images per :data:`STATUSES` value in an edited set's manifest (an unknown value is an error)."""
    if "status" not in manifest.columns:
        return {}
    counts = manifest["status"].astype(str).value_counts()
    unknown = sorted(set(counts.index) - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown edit status {unknown}; expected {list(STATUSES)}")
    return {s: int(counts.get(s, 0)) for s in STATUSES}
