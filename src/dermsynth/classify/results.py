"""The classifier experiment's files that other stages read: ``table.csv``, ``results.json``,
``shortcut.csv`` (and where ``roc.png`` lies). Written here (``run.summarise_run``), read here (the
report, discovery): one layout, one owner (docs/architecture.md, Contracts).

Importing this module loads neither torch nor pandas nor numpy (the report's discovery checks a
folder's header with :func:`has_table`); the writer and reader load pandas when called.

``table.csv``: one row per setup, columns :data:`TABLE_COLUMNS` (``classify.metrics`` defines each
figure), then, when the test set has frame labels, :data:`SHORTCUT_TABLE_COLUMNS`; ``shortcut.csv``:
one row per tested setup (``setup``, ``with_frame_*``, ``without_frame_*``, :data:`SHORTCUT_KEYS`);
``results.json``: ``experiment`` (its name), ``table`` (the rows of ``table.csv``), ``setups`` (per
setup, its ``done`` training record and ``shortcut`` test). Non-finite numbers are ``null``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dermsynth.core.values import finite_float

if TYPE_CHECKING:
    import pandas as pd

TABLE_CSV = "table.csv"
RESULTS_JSON = "results.json"
SHORTCUT_CSV = "shortcut.csv"
ROC_PNG = "roc.png"

#: Columns of ``table.csv`` in order.
TABLE_COLUMNS = (
    "setup", "TP", "FP", "FN", "TN", "ACC", "TPR", "TNR", "AUC", "AUC_CI_low", "AUC_CI_high",
    "DeLong_p_vs_real", "threshold", "threshold_source", "target_sensitivity", "threshold_at_target",
    "TPR_at_target", "TNR_at_target", "n_test", "n_test_melanoma", "weights", "notes",
)  # fmt: skip

#: Columns a table must have to be read back (the report's sentences are made of them).
REQUIRED_COLUMNS = ("setup", "AUC", "AUC_CI_low", "AUC_CI_high", "DeLong_p_vs_real")

#: Columns appended to ``table.csv`` when a setup had the frame shortcut test -> its ``shortcut.json`` key.
SHORTCUT_TABLE_COLUMNS = {
    "shortcut_score_change_add": "score_change_add",
    "shortcut_score_change_remove": "score_change_remove",
    "shortcut_auc_change": "auc_change",
    "shortcut_flagged": "flagged",
}

#: Keys of a shortcut test copied flat into ``shortcut.csv`` (besides ``with_frame_*``, ``without_frame_*``).
SHORTCUT_KEYS = (
    "score_change_add",
    "score_change_remove",
    "AUC_original",
    "AUC_flipped",
    "auc_change",
    "flagged",
)


class ResultsError(ValueError):
    """A classifier table that cannot be read back; ``path`` names the file, ``reason`` says why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


def json_safe(obj):
    """``obj`` with non-finite floats as ``None`` (strict JSON has no NaN / Infinity)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, numbers.Real) and not isinstance(obj, numbers.Integral) and not math.isfinite(obj):
        return None
    return obj


def has_table(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a classifier table: ``table.csv`` whose header has an ``AUC`` column
    (an edit evaluation's ``table.csv`` has none). Reads the first line only."""
    p = Path(folder) / TABLE_CSV
    if not p.is_file():
        return False
    try:
        with p.open(encoding="utf-8", errors="replace") as f:
            head = f.readline().strip()
    except OSError:
        return False
    return "AUC" in [c.strip().strip('"') for c in head.split(",")]


def shortcut_row(setup: str, test: dict) -> dict:
    """One flat row of ``shortcut.csv`` from a setup's shortcut test (``classify.shortcut``)."""
    row: dict[str, Any] = {"setup": setup}
    for g in ("with_frame", "without_frame"):
        row.update({f"{g}_{k}": v for k, v in test[g].items()})
    row.update({k: test[k] for k in SHORTCUT_KEYS})
    return row


def write_results(
    out_dir: str | os.PathLike,
    table: pd.DataFrame,
    experiment: str,
    setups: dict[str, dict],
    shortcuts: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """Write ``table.csv`` (with the shortcut columns of the setups in ``shortcuts``), ``shortcut.csv``
    (when a setup was tested) and ``results.json`` atomically; return the table as written.

    ``table`` needs every column of :data:`TABLE_COLUMNS`; ``setups`` maps a setup to its records
    (``done``, ``shortcut``); ``shortcuts`` maps a setup to its shortcut test."""
    import pandas as pd

    from dermsynth.core.io import atomic_path, atomic_write_json

    out = Path(out_dir)
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{out / TABLE_CSV}: a classifier table needs the column(s) {missing}")
    table = table[list(TABLE_COLUMNS) + [c for c in table.columns if c not in TABLE_COLUMNS]].reset_index(
        drop=True
    )
    shortcuts = {k: v for k, v in (shortcuts or {}).items() if k in set(table["setup"])}
    if shortcuts:
        table = table.copy()
        for c in SHORTCUT_TABLE_COLUMNS:
            table[c] = None
        for i, name in enumerate(table["setup"]):
            if name in shortcuts:
                for c, k in SHORTCUT_TABLE_COLUMNS.items():
                    table.at[i, c] = shortcuts[name][k]
    out.mkdir(parents=True, exist_ok=True)
    if shortcuts:
        rows = [shortcut_row(n, shortcuts[n]) for n in table["setup"] if n in shortcuts]
        with atomic_path(out / SHORTCUT_CSV) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    with atomic_path(out / TABLE_CSV) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_json(
        out / RESULTS_JSON,
        json_safe({"experiment": experiment, "table": table.to_dict(orient="records"), "setups": setups}),
    )
    return table


def _int(v: Any) -> int | None:
    f = finite_float(v)
    return None if f is None else int(round(f))


@dataclass(frozen=True)
class SetupResult:
    """One setup's row of ``table.csv``: the figures the report states, and the whole row."""

    setup: str
    auc: float | None
    auc_ci_low: float | None
    auc_ci_high: float | None
    p_vs_real: float | None  # paired DeLong test against ``real`` (None for real itself or untested)
    n_test: int | None = None
    n_test_melanoma: int | None = None
    row: dict = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict) -> SetupResult:
        return cls(
            str(row["setup"]),
            finite_float(row.get("AUC")),
            finite_float(row.get("AUC_CI_low")),
            finite_float(row.get("AUC_CI_high")),
            finite_float(row.get("DeLong_p_vs_real")),
            _int(row.get("n_test")),
            _int(row.get("n_test_melanoma")),
            dict(row),
        )


@dataclass(frozen=True)
class ClassifierResults:
    """One classifier experiment folder, read back."""

    folder: str
    table: pd.DataFrame  # table.csv as written
    shortcut: pd.DataFrame | None = None  # shortcut.csv (None when no setup was tested)
    experiment: str = ""
    records: dict = field(default_factory=dict)  # results.json's setups: {setup: {done, shortcut}}

    @property
    def setups(self) -> list[SetupResult]:
        """The rows of ``table.csv`` in order."""
        return [SetupResult.from_row(r) for r in self.table.to_dict(orient="records")]

    def setup(self, name: str) -> SetupResult | None:
        return next((s for s in self.setups if s.setup == name), None)

    @property
    def real(self) -> SetupResult | None:
        """The reference setup (trained on real images), which the DeLong p-values compare against."""
        return self.setup("real")

    @property
    def roc(self) -> Path | None:
        p = Path(self.folder) / ROC_PNG
        return p if p.is_file() else None

    def training_record(self, name: str) -> dict:
        """The setup's ``done`` record in results.json (epochs, best epoch, seconds ...); {} if none."""
        v = self.records.get(name)
        done = v.get("done") if isinstance(v, dict) else None
        return done if isinstance(done, dict) else {}


def read_results(folder: str | os.PathLike) -> ClassifierResults:
    """``table.csv`` (+ ``shortcut.csv``, ``results.json`` where present) of ``folder``.

    A missing or unreadable ``table.csv``, or one without a column of :data:`REQUIRED_COLUMNS`, is a
    :class:`ResultsError` naming the file (and the column); a ``shortcut.csv`` without ``setup`` too.
    An absent or unreadable ``results.json`` reads as no records."""
    d = Path(folder)
    table = _read_table(d / TABLE_CSV, REQUIRED_COLUMNS)
    shortcut = _read_table(d / SHORTCUT_CSV, ("setup",)) if (d / SHORTCUT_CSV).is_file() else None
    try:
        res = json.loads((d / RESULTS_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        res = {}
    res = res if isinstance(res, dict) else {}
    records = res.get("setups") if isinstance(res.get("setups"), dict) else {}
    table = table.astype({"setup": str})
    if shortcut is not None:
        shortcut = shortcut.astype({"setup": str})
    return ClassifierResults(str(d), table, shortcut, str(res.get("experiment") or ""), records)


def _read_table(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    try:
        t = pd.read_csv(path, low_memory=False)
    except FileNotFoundError:
        raise ResultsError(path, "not found") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ResultsError(path, f"not readable as a table ({e})") from None
    missing = [c for c in required if c not in t.columns]
    if missing:
        raise ResultsError(path, f"missing column(s) {missing}")
    return t
