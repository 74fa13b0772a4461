"""The bias audit's columns of ``manifest.csv`` and its ``audit_summary.json``: written here (the audit,
``bias/audit.py``), read here (clean, data filter, annotation readers, data stats, classify, the report):
one layout, one owner (docs/architecture.md, Contracts). Imports pandas only, no torch or OpenCV.

Per artifact ``a`` of :data:`ARTIFACTS` a manifest may hold

* ``a`` (0/1, empty where the image could not be read): the audit's decision when ``a_score`` is
  beside it; otherwise an annotation (the phantom generator's ground truth, a source's labels);
* ``a_score`` (:func:`score_column`): the audit's raw score, rounded to 6 digits; flag = score >= the
  artifact's threshold (``audit_summary.json`` records it);
* ``a_annotated`` (:func:`annotated_column`): an annotation the audit would have overwritten, moved aside
  (or written so by ``labels_dataset``).

``audit_summary.json`` (:data:`SUMMARY_FILE`): ``method``, ``n_images``, ``n_scored``, ``n_errors``,
``errors`` (first 50), ``artifacts[a]`` (``source``, ``threshold``, ``n_present``, ``prevalence``,
``prevalence_by_class``), ``excluded`` (artifact -> why its detector was left out: it did not reach the
F1 the audit model's ``model.json`` asks of it; issue 27.4) and ``figures`` (when drawn).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.core.manifest import ARTIFACTS

#: suffix of the audit's raw score column
SCORE_SUFFIX = "_score"
#: suffix under which the audit keeps annotation columns it would otherwise overwrite
ANNOTATED_SUFFIX = "_annotated"
#: the audit's summary, beside manifest.csv
SUMMARY_FILE = "audit_summary.json"


def score_column(artifact: str) -> str:
    """``<artifact>_score``: the audit's raw score."""
    return f"{artifact}{SCORE_SUFFIX}"


def annotated_column(artifact: str) -> str:
    """``<artifact>_annotated``: an annotation kept aside from the audit's decision."""
    return f"{artifact}{ANNOTATED_SUFFIX}"


def _wanted(artifacts: Iterable[str] | None) -> list[str]:
    return list(ARTIFACTS if artifacts is None else artifacts)


def is_audited(df: pd.DataFrame, artifact: str) -> bool:
    """Is ``artifact``'s plain column the audit's decision (its score beside it)?"""
    return artifact in df.columns and score_column(artifact) in df.columns


def audited_artifacts(df: pd.DataFrame, artifacts: Iterable[str] | None = None) -> list[str]:
    """Artifacts the audit decided in this manifest, in :data:`ARTIFACTS` order."""
    return [a for a in _wanted(artifacts) if is_audited(df, a)]


def flag_artifacts(
    df: pd.DataFrame, artifacts: Iterable[str] | None = None, valued: bool = False
) -> list[str]:
    """Artifacts with a plain 0/1 column (the audit's decision, or an annotation where none ran);
    ``valued``: only those with at least one value."""
    out = [a for a in _wanted(artifacts) if a in df.columns]
    if valued:
        out = [a for a in out if pd.to_numeric(df[a], errors="coerce").notna().any()]
    return out


def artifact_flags(
    df: pd.DataFrame, artifacts: Iterable[str] | None = None, valued: bool = False
) -> pd.DataFrame:
    """The plain flag columns (:func:`flag_artifacts`) as numbers (NaN where unknown), same index."""
    cols = flag_artifacts(df, artifacts, valued)
    return df[cols].apply(pd.to_numeric, errors="coerce") if cols else pd.DataFrame(index=df.index)


def audit_scores(df: pd.DataFrame, artifacts: Iterable[str] | None = None) -> pd.DataFrame:
    """The audit's raw scores, columns named by artifact (only the audited ones)."""
    arts = [a for a in _wanted(artifacts) if score_column(a) in df.columns]
    out = df[[score_column(a) for a in arts]].apply(pd.to_numeric, errors="coerce")
    out.columns = arts
    return out


def annotation_column(df: pd.DataFrame, artifact: str) -> str | None:
    """The column holding ``artifact``'s annotation: ``<a>_annotated``, else a plain ``<a>`` that is not
    the audit's decision; None when the manifest has none."""
    if annotated_column(artifact) in df.columns:
        return annotated_column(artifact)
    if artifact in df.columns and score_column(artifact) not in df.columns:
        return artifact
    return None


def annotation_flags(df: pd.DataFrame, artifacts: Iterable[str] | None = None) -> pd.DataFrame:
    """Annotation columns (:func:`annotation_column`) named by artifact, as numbers (NaN where none)."""
    cols = {a: c for a in _wanted(artifacts) if (c := annotation_column(df, a)) is not None}
    out = (
        df[list(cols.values())].apply(pd.to_numeric, errors="coerce")
        if cols
        else pd.DataFrame(index=df.index)
    )
    out.columns = list(cols)
    return out


def audit_columns(df: pd.DataFrame) -> list[str]:
    """The flag and score columns present (``<a>``, ``<a>_score``, audited or not): they describe the
    pixels, so a stage that changes the images (clean) drops them; ``<a>_annotated`` stays."""
    return [c for a in ARTIFACTS for c in (a, score_column(a)) if c in df.columns]


def set_audit_columns(df: pd.DataFrame, artifact: str, score: np.ndarray, threshold: float) -> pd.DataFrame:
    """``df`` (a new frame) with ``artifact``'s audit columns: ``<a>_score`` (rounded to 6 digits) and
    ``<a>`` = score >= threshold (empty where the score is NaN). A plain ``<a>`` that is not an earlier
    audit's decision is an annotation: it moves to ``<a>_annotated`` unless that exists."""
    moved = not is_audited(df, artifact) and annotated_column(artifact) not in df.columns
    df = df.rename(columns={artifact: annotated_column(artifact)} if moved else {})
    s = np.asarray(score, dtype=float)
    df[score_column(artifact)] = np.round(s, 6)
    df[artifact] = pd.array(np.where(np.isnan(s), pd.NA, (s >= threshold).astype(int)), dtype="Int64")
    return df


def clear_audit_columns(df: pd.DataFrame, artifact: str) -> pd.DataFrame:
    """``df`` without an earlier audit's decision on ``artifact`` (its flag and score); an annotation kept
    aside as ``<a>_annotated`` returns to ``<a>``. A plain annotation column is left alone."""
    if not is_audited(df, artifact):
        return df
    df = df.drop(columns=[artifact, score_column(artifact)])
    return df.rename(columns={annotated_column(artifact): artifact})


# -- audit_summary.json


def write_audit_summary(directory: str | os.PathLike, summary: dict) -> Path:
    """Write ``DIR/audit_summary.json`` atomically (the layout in the module docstring)."""
    from dermsynth.core.io import atomic_write_json

    if not isinstance(summary.get("artifacts"), dict) or "method" not in summary:
        raise ValueError(f"{directory}: an audit summary needs 'method' and 'artifacts' (audit.summarise)")
    p = Path(directory) / SUMMARY_FILE
    atomic_write_json(p, summary)
    return p


@dataclass(frozen=True)
class AuditSummary:
    """One ``audit_summary.json`` read back (``data`` keeps the whole file; ``{}`` when absent)."""

    data: dict
    path: str | None = None

    @property
    def method(self) -> str:
        return str(self.data.get("method") or "")

    @property
    def artifacts(self) -> list[str]:
        arts = self.data.get("artifacts")
        return list(arts) if isinstance(arts, dict) else []

    def artifact(self, name: str) -> dict:
        d = (self.data.get("artifacts") or {}).get(name)
        return d if isinstance(d, dict) else {}

    @property
    def excluded(self) -> dict[str, str]:
        """Artifacts the audit left out, with the reason."""
        ex = self.data.get("excluded")
        return {str(k): str(v) for k, v in ex.items()} if isinstance(ex, dict) else {}

    def prevalence(self, name: str) -> float | None:
        v = self.artifact(name).get("prevalence")
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def read_audit_summary(directory: str | os.PathLike) -> AuditSummary:
    """``DIR/audit_summary.json``; empty (``data == {}``) when absent or unreadable, never an error (the
    report says what it could not read)."""
    p = Path(directory) / SUMMARY_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return AuditSummary({}, None)
    return AuditSummary(data if isinstance(data, dict) else {}, str(p))
