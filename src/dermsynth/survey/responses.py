"""The reader study's tables: ``responses.csv`` (and ``revisions.csv``) and ``stimuli.csv``. Written
here (the app's and ``survey export``'s exports, the study builder's stimulus table), read here (the
analysis, the report): one layout, one owner (docs/architecture.md, Contracts). Imports pandas only (no
SQLAlchemy, no torch).

Columns: :data:`RESPONSE_COLUMNS` (one row per reader and image, the latest answer),
:data:`REVISION_COLUMNS` (every accepted revision), :data:`STIMULI_COLUMNS` (what the builder writes;
``seed`` regenerates a synthetic stimulus, admins only). Answer values: :data:`DIAGNOSES`,
:data:`SYNTHETIC`, :data:`CERTAINTY`, backgrounds :data:`BACKGROUNDS`.

Readers accept the app's exports and tables typed in from paper forms or another survey tool in the
same columns (:data:`RESPONSE_REQUIRED`, :data:`STIMULI_REQUIRED`; a missing one is an error naming the
file and the column).

Tolerant of header/value case and whitespace, ``yes/no/true/false/1/0`` (and ``y/n``) for the
synthetic answer, ``melanoma / not melanoma / not-melanoma / 1 / 0`` for diagnoses and labels, and
``3`` or ``3.0`` for certainty. Diagnosis and certainty may be blank (an unanswered item on paper);
the synthetic answer may not. Any other value stops with an error naming file, line and column.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pandas as pd

RESPONSES_CSV = "responses.csv"
REVISIONS_CSV = "revisions.csv"
STIMULI_CSV = "stimuli.csv"

#: Readers' backgrounds (key -> what the consent form shows).
BACKGROUNDS = {
    "dermatologist": "Dermatologist",
    "non_dermatologist_doctor": "Doctor (not a dermatologist)",
    "medical_student": "Medical student",
    "other_medical_staff": "Other medical staff",
    "lay_person": "Lay person",
    "deep_learning_expert": "Deep-learning expert",
}
#: The app's answer values (``diagnosis``, ``synthetic``, ``certainty``).
DIAGNOSES = ("melanoma", "not_melanoma")
SYNTHETIC = ("yes", "no")
CERTAINTY = (1, 2, 3, 4, 5)

#: Columns of ``responses.csv`` as the app exports it, in order.
RESPONSE_COLUMNS = [
    "study_id",
    "reader_id",
    "background",
    "image_id",
    "diagnosis",
    "synthetic",
    "certainty",
    "answered_at",
]
#: Columns of ``revisions.csv`` (every accepted revision of every answer), in order.
REVISION_COLUMNS = [
    "study_id",
    "reader_id",
    "background",
    "image_id",
    "revision",
    "diagnosis",
    "synthetic",
    "certainty",
    "answered_at",
]
#: Columns of ``stimuli.csv`` as the study builder writes it, in order.
STIMULI_COLUMNS = ["image_id", "source", "label", "origin", "outlier", "seed"]
#: What a responses / stimuli table must have to be read (typed-in tables may have fewer columns).
RESPONSE_REQUIRED = ["reader_id", "image_id", "synthetic"]
STIMULI_REQUIRED = ["image_id", "source", "label"]
_YES = {"yes", "y", "true", "t", "1", "synthetic", "fake"}
_NO = {"no", "n", "false", "f", "0", "real"}
_MEL = {"melanoma", "mel", "1", "malignant", "yes", "true"}
_NOT = {
    "not_melanoma",
    "not melanoma",
    "non_melanoma",
    "nonmelanoma",
    "no_melanoma",
    "benign",
    "0",
    "no",
    "false",
}
_BACKGROUND_ALIASES = {
    **{k: k for k in BACKGROUNDS},
    "layperson": "lay_person",
    "lay": "lay_person",
    "doctor": "non_dermatologist_doctor",
    "non_dermatologist": "non_dermatologist_doctor",
    "nondermatologist_doctor": "non_dermatologist_doctor",
    "student": "medical_student",
    "medical_staff": "other_medical_staff",
    "dl_expert": "deep_learning_expert",
    "deep_learning": "deep_learning_expert",
}
_SOURCE = {
    "real": "real",
    "synthetic": "synthetic",
    "fake": "synthetic",
    "generated": "synthetic",
    "gan": "synthetic",
}


# -- writers


def _csv_text(rows: list[dict], columns: list[str], what: str) -> str:
    """CSV text of ``rows`` in ``columns``; a row with a missing or an extra key is an error."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for i, r in enumerate(rows):
        if set(r) != set(columns):
            raise ValueError(f"{what}: row {i} has keys {sorted(r)}, expected {columns}")
        w.writerow(r)
    return buf.getvalue()


def responses_text(rows: list[dict]) -> str:
    """``responses.csv`` as text (the app's download): one row per dict with :data:`RESPONSE_COLUMNS`."""
    return _csv_text(rows, RESPONSE_COLUMNS, RESPONSES_CSV)


def revisions_text(rows: list[dict]) -> str:
    """``revisions.csv`` as text: one row per dict with :data:`REVISION_COLUMNS`."""
    return _csv_text(rows, REVISION_COLUMNS, REVISIONS_CSV)


def write_responses(out_dir: str | os.PathLike, rows: list[dict]) -> Path:
    """Write ``OUT/responses.csv`` atomically (:func:`responses_text`)."""
    from dermsynth.core.io import atomic_write_text

    p = Path(out_dir) / RESPONSES_CSV
    atomic_write_text(p, responses_text(rows))
    return p


def write_revisions(out_dir: str | os.PathLike, rows: list[dict]) -> Path:
    """Write ``OUT/revisions.csv`` atomically (:func:`revisions_text`)."""
    from dermsynth.core.io import atomic_write_text

    p = Path(out_dir) / REVISIONS_CSV
    atomic_write_text(p, revisions_text(rows))
    return p


def write_stimuli(study_dir: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write ``STUDY/stimuli.csv`` atomically: :data:`STIMULI_COLUMNS` first (each one required)."""
    from dermsynth.core.io import atomic_write_text

    missing = [c for c in STIMULI_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{study_dir}: a stimulus table needs the columns {missing}")
    table = table[STIMULI_COLUMNS + [c for c in table.columns if c not in STIMULI_COLUMNS]]
    p = Path(study_dir) / STIMULI_CSV
    atomic_write_text(p, table.to_csv(index=False))
    return p


# -- readers


def _key(v: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(v).strip().lower()) if pd.notna(v) else ""


class TableError(ValueError):
    pass


def _fail(path: Path, row: int, col: str, value: object, expected: str) -> TableError:
    return TableError(f"{path}: line {row + 2}, column {col!r}: cannot read {value!r} as {expected}")


def _read(path: str | Path, required: list[str]) -> tuple[Path, pd.DataFrame]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    df.columns = [_key(c) for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise TableError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    df = df.map(lambda v: v.strip() if isinstance(v, str) else v)
    for col in required:
        blank = df.index[df[col] == ""]
        if len(blank):
            raise _fail(path, int(blank[0]), col, "", "a non-empty value")
    return path, df


def _map(path: Path, df: pd.DataFrame, col: str, fn, expected: str) -> list:
    out = []
    for i, v in enumerate(df[col]):
        try:
            out.append(fn(v))
        except (KeyError, ValueError):
            raise _fail(path, i, col, v, expected) from None
    return out


def _yes_no(v: str) -> bool:
    k = _key(v)
    if k in _YES:
        return True
    if k in _NO:
        return False
    raise ValueError(v)


def _diagnosis(v: str, allow_blank: bool = True) -> str | None:
    k = _key(v)
    if k == "" and allow_blank:
        return None
    if k in _MEL:
        return "melanoma"
    if k in _NOT or k.replace("_", " ") in _NOT:
        return "not_melanoma"
    raise ValueError(v)


def _certainty(v: str) -> float | None:
    if str(v).strip() == "":
        return None
    x = float(v)
    if x != int(x) or not 1 <= x <= 5:
        raise ValueError(v)
    return int(x)


def _background(v: str) -> str:
    k = _key(v)
    if not k:
        return "unknown"
    return _BACKGROUND_ALIASES.get(k, k)  # unknown backgrounds are kept (grouped as given)


def read_responses(path: str | Path) -> pd.DataFrame:
    """Normalised responses: reader_id, background, image_id, diagnosis (or None), said_synthetic (bool),
    certainty (Int64, may be NA), answered_at, study_id, line (csv line of the row)."""
    path, df = _read(path, RESPONSE_REQUIRED)
    out = pd.DataFrame(
        {
            "study_id": df["study_id"] if "study_id" in df else "",
            "reader_id": df["reader_id"],
            "background": _map(path, df, "background", _background, "a background")
            if "background" in df
            else "unknown",
            "image_id": df["image_id"],
            "diagnosis": _map(path, df, "diagnosis", _diagnosis, "melanoma / not_melanoma")
            if "diagnosis" in df
            else None,
            "said_synthetic": _map(path, df, "synthetic", _yes_no, "yes / no"),
            "certainty": pd.array(
                _map(path, df, "certainty", _certainty, "a whole number 1-5")
                if "certainty" in df
                else [None] * len(df),
                dtype="Int64",
            ),
            "answered_at": df["answered_at"] if "answered_at" in df else "",
            "line": [i + 2 for i in range(len(df))],
        }
    )
    dup = out.duplicated(["reader_id", "image_id"], keep=False)
    if dup.any():
        d = out[dup].iloc[:2]
        raise TableError(
            f"{path}: lines {d['line'].tolist()} answer the same image {d['image_id'].iloc[0]!r} "
            f"for reader {d['reader_id'].iloc[0]!r} (one answer per reader and image)"
        )
    bgs = out.groupby("reader_id")["background"].nunique()
    if (bgs > 1).any():
        raise TableError(f"{path}: reader {bgs[bgs > 1].index[0]!r} has more than one background")
    return out


def read_stimuli_table(path: str | Path) -> pd.DataFrame:
    """Normalised stimuli: image_id, source (real|synthetic), label (melanoma|not_melanoma), origin."""
    path, df = _read(path, STIMULI_REQUIRED)

    def source(v: str) -> str:
        k = _key(v)
        if k in _SOURCE:
            return _SOURCE[k]
        return "synthetic" if _yes_no(k) else "real"

    out = pd.DataFrame(
        {
            "image_id": df["image_id"],
            "source": _map(path, df, "source", source, "real / synthetic"),
            "label": _map(path, df, "label", lambda v: _diagnosis(v, False), "melanoma / not_melanoma"),
            "origin": df["origin"] if "origin" in df else "",
        }
    )
    dup = out.index[out["image_id"].duplicated()]
    if len(dup):
        raise TableError(f"{path}: line {int(dup[0]) + 2}: image_id {out['image_id'][dup[0]]!r} listed twice")
    return out


def join(
    responses: pd.DataFrame, stimuli: pd.DataFrame, responses_path: str | Path = "responses"
) -> pd.DataFrame:
    """Responses with each image's truth (``is_synthetic``, ``label``); unknown image ids are an error."""
    known = set(stimuli["image_id"])
    unknown = responses[~responses["image_id"].isin(known)]
    if len(unknown):
        r = unknown.iloc[0]
        raise TableError(
            f"{responses_path}: line {r['line']}, column 'image_id': {r['image_id']!r} is not in the stimuli table"
        )
    df = responses.merge(stimuli, on="image_id", how="left")
    df["is_synthetic"] = df["source"] == "synthetic"
    df["correct"] = df["is_synthetic"] == df["said_synthetic"]
    return df
