"""Detection quality against annotations: precision, recall, F1 and ROC AUC per artifact (sklearn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_curve, precision_score, recall_score, roc_auc_score

from dermsynth.bias.columns import score_column


def artifact_metrics(truth: np.ndarray, present: np.ndarray, score: np.ndarray | None) -> dict:
    """``{precision, recall, f1, auc, n_pos, n}`` for one artifact (auc None when one class only)."""
    truth = np.asarray(truth, int)
    present = np.asarray(present, int)
    auc = None
    if score is not None and 0 < truth.sum() < truth.size:
        auc = float(roc_auc_score(truth, np.asarray(score, float)))
    return {
        "precision": float(precision_score(truth, present, zero_division=0)),
        "recall": float(recall_score(truth, present, zero_division=0)),
        "f1": float(f1_score(truth, present, zero_division=0)),
        "auc": auc,
        "n_pos": int(truth.sum()),
        "n": int(truth.size),
    }


def evaluate(pred: pd.DataFrame, truth: pd.DataFrame, artifacts: list[str] | None = None) -> dict:
    """Compare predictions (index image_id; ``<a>`` 0/1 and optional ``<a>_score``) with annotations.

    Only images present in both tables count; artifacts are those in both (or ``artifacts``).
    """
    common = pred.index.intersection(truth.index)
    if len(common) == 0:
        raise ValueError("no image id in common between the predictions and the annotations")
    names = artifacts or [a for a in truth.columns if a in pred.columns]
    if not names:
        raise ValueError(f"no artifact column in common (annotations have {list(truth.columns)})")
    out = {}
    for a in names:
        if a not in pred.columns or a not in truth.columns:
            raise ValueError(f"artifact {a!r} missing from the predictions or the annotations")
        p, t = pred.loc[common], truth.loc[common, a]
        score = p[score_column(a)].to_numpy() if score_column(a) in p.columns else None
        out[a] = artifact_metrics(t.to_numpy(), p[a].to_numpy(), score)
    return out


def best_threshold(truth: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """The score threshold that maximises F1 on (truth, score), and that F1 (used on validation data).

    The trivial threshold that flags every image is excluded (it wins for weak scores of common
    artifacts but detects nothing), unless no other threshold exists.
    """
    truth = np.asarray(truth, int)
    score = np.asarray(score, float)
    if truth.sum() == 0:
        return float(np.max(score)) + 1e-6, 0.0
    p, r, t = precision_recall_curve(truth, score)
    f = 2 * p[:-1] * r[:-1] / np.maximum(p[:-1] + r[:-1], 1e-12)
    if len(t) > 1:
        f = np.where(t <= score.min(), -1.0, f)
    i = int(np.argmax(f))
    return float(t[i]), float(max(f[i], 0.0))


def evaluate_dataset(
    directory, truth_path, split: str | None = None, artifacts: list[str] | None = None
) -> dict:
    """``bias eval``: a dataset's audit columns (manifest) against an annotation file."""
    from dermsynth.bias.annotations import image_key, read_annotations
    from dermsynth.core.manifest import read_manifest

    df = read_manifest(directory)
    if split is not None:
        if "split" not in df.columns:
            raise ValueError(f"{directory}: manifest has no split column")
        df = df[df["split"].astype(str) == split]
        if df.empty:
            raise ValueError(f"{directory}: no image in split {split!r}")
    pred = df.set_index(pd.Index([image_key(i) for i in df["image_id"]], name="image_id"))
    truth = read_annotations(truth_path)
    audited = [a for a in truth.columns if score_column(a) in pred.columns]
    if not audited:
        raise ValueError(
            f"{directory}: manifest has no audit columns (<artifact>_score); run `dermsynth bias audit` first"
        )
    pred = pred[[c for a in audited for c in (a, score_column(a))]].dropna()
    return evaluate(pred, truth[audited], artifacts)
