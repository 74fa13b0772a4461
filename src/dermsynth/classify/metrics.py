"""Binary classification metrics at a threshold chosen on validation (thesis Table 4.5).

Pure functions over ``labels`` (0/1, melanoma = 1) and ``scores`` (higher = more melanoma):
confusion counts TP FP FN TN, ACC, TPR (sensitivity), TNR (specificity) at a threshold, ROC AUC
(sklearn ``roc_auc_score``), thresholds chosen on *validation* predictions only (Youden's J, or the
highest threshold that reaches a target sensitivity, the thesis's "better safe than sorry"), and a
seeded, stratified percentile-bootstrap 95% CI for the AUC (Efron & Tibshirani 1993).

A set with a single class has no AUC: :func:`auc` returns ``nan`` (with the reason in
:func:`auc_or_reason`) and threshold rules raise ``ValueError``; nothing crashes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ROW_COLUMNS = ["TP", "FP", "FN", "TN", "ACC", "TPR", "TNR", "AUC"]


def check_binary(
    labels: Sequence | np.ndarray, scores: Sequence | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Labels as int 0/1 and scores as float, same length, finite; ``ValueError`` otherwise."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"labels ({y.shape}) and scores ({s.shape}) must be 1-D of equal length")
    if len(y) == 0:
        raise ValueError("no predictions (empty set)")
    try:
        yi = y.astype(np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"labels must be 0/1, got values {sorted(set(map(str, y)))[:5]}") from None
    if not np.all(yi == y.astype(np.float64)) or not set(np.unique(yi)) <= {0, 1}:
        raise ValueError(f"labels must be 0/1, got values {sorted(set(np.unique(y).tolist()))[:5]}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{int((~np.isfinite(s)).sum())} score(s) are not finite")
    return yi, s


def has_both_classes(labels: np.ndarray) -> bool:
    return len(np.unique(labels)) == 2


def confusion_at(labels, scores, threshold: float) -> dict[str, float]:
    """TP FP FN TN ACC TPR TNR with ``score >= threshold`` predicted melanoma (sklearn confusion)."""
    from sklearn.metrics import confusion_matrix

    y, s = check_binary(labels, scores)
    pred = (s >= threshold).astype(np.int64)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel().tolist()
    return {
        "TP": tp,
        "FP": fp,
        "FN": fn,
        "TN": tn,
        "ACC": (tp + tn) / len(y),
        "TPR": tp / (tp + fn) if tp + fn else math.nan,
        "TNR": tn / (tn + fp) if tn + fp else math.nan,
    }


def auc_or_reason(labels, scores) -> tuple[float, str | None]:
    """ROC AUC (sklearn), or ``(nan, reason)`` when the set has a single class."""
    from sklearn.metrics import roc_auc_score

    y, s = check_binary(labels, scores)
    if not has_both_classes(y):
        return math.nan, f"AUC undefined: only class {int(y[0])} present ({len(y)} images)"
    return float(roc_auc_score(y, s)), None


def auc(labels, scores) -> float:
    return auc_or_reason(labels, scores)[0]


def roc(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` from sklearn ``roc_curve``; ``ValueError`` for a single class."""
    from sklearn.metrics import roc_curve

    y, s = check_binary(labels, scores)
    _require_both(y, "ROC curve")
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    return fpr, tpr, thr


def _require_both(y: np.ndarray, what: str) -> None:
    if not has_both_classes(y):
        raise ValueError(f"{what} needs both classes; the set has only class {int(y[0])} ({len(y)} images)")


def youden_threshold(labels, scores) -> float:
    """Threshold maximising Youden's J = TPR - FPR (ties: the highest such threshold)."""
    fpr, tpr, thr = roc(labels, scores)
    j = tpr - fpr
    i = int(np.flatnonzero(j == j.max())[0])
    return _finite_threshold(thr, i, scores)


def target_sensitivity_threshold(labels, scores, target: float = 0.95) -> float:
    """The highest threshold whose TPR on this set is >= ``target`` (best specificity at that sensitivity)."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    fpr, tpr, thr = roc(labels, scores)
    i = int(np.flatnonzero(tpr >= target - 1e-12)[0])
    return _finite_threshold(thr, i, scores)


def _finite_threshold(thr: np.ndarray, i: int, scores) -> float:
    # sklearn's first threshold is +inf (nothing predicted positive); use just above the top score.
    t = float(thr[i])
    if not math.isfinite(t):
        t = float(np.nextafter(np.max(np.asarray(scores, dtype=np.float64)), np.inf))
    return t


def choose_threshold(labels, scores, rule: str | float = "youden") -> float:
    """Threshold on validation predictions: ``"youden"`` or a target sensitivity (float in (0, 1])."""
    if rule == "youden":
        return youden_threshold(labels, scores)
    if isinstance(rule, int | float) or str(rule).replace(".", "", 1).isdigit():
        return target_sensitivity_threshold(labels, scores, float(rule))
    raise ValueError(f"unknown threshold rule {rule!r}: use 'youden' or a target sensitivity like 0.95")


def rank_auc_batch(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of each row of ``scores`` [B, n] via the Mann-Whitney U statistic with midranks (ties = 1/2)."""
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    r = rankdata(scores, axis=-1)
    return (r[..., y].sum(-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def bootstrap_auc_ci(
    labels, scores, n_boot: int = 2000, level: float = 0.95, seed: int = 0, chunk: int = 256
) -> tuple[float, float]:
    """Stratified percentile bootstrap CI for the AUC: positives and negatives resampled separately.

    Seeded: the same ``seed`` gives the same interval. ``(nan, nan)`` for a single-class set.
    """
    y, s = check_binary(labels, scores)
    if not has_both_classes(y):
        return math.nan, math.nan
    gen = np.random.default_rng(seed)
    pos, neg = s[y == 1], s[y == 0]
    lab = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    out = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        bp = pos[gen.integers(0, len(pos), (b, len(pos)))]
        bn = neg[gen.integers(0, len(neg), (b, len(neg)))]
        out.append(rank_auc_batch(lab, np.concatenate([bp, bn], axis=1)))
    aucs = np.concatenate(out)
    a = (1 - level) / 2
    return float(np.quantile(aucs, a)), float(np.quantile(aucs, 1 - a))


def metrics_row(labels, scores, threshold: float) -> dict[str, float]:
    """One row of Table 4.5: TP FP FN TN ACC TPR TNR AUC at ``threshold``."""
    row = confusion_at(labels, scores, threshold)
    row["AUC"] = auc(labels, scores)
    return row


def evaluate(
    test_labels,
    test_scores,
    val_labels=None,
    val_scores=None,
    threshold: float | None = None,
    rule: str = "youden",
    target_sensitivity: float | None = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Table row on the test set with thresholds chosen on validation only.

    ``threshold`` given: used as is. Otherwise ``rule`` is applied to the validation predictions;
    without them the threshold is 0.5 and ``threshold_source`` says it was not tuned. The test labels
    are never read to choose a threshold. Adds the bootstrap CI and, when ``target_sensitivity`` is set,
    TPR/TNR on test at the validation threshold reaching that sensitivity.
    """
    have_val = val_labels is not None and val_scores is not None
    notes: list[str] = []
    if threshold is not None:
        t, src = float(threshold), "given"
    elif have_val:
        t, src = choose_threshold(val_labels, val_scores, rule), f"validation:{rule}"
    else:
        t, src = 0.5, "default-0.5 (no validation predictions; not tuned)"
        notes.append("threshold 0.5 not tuned on validation")
    row = metrics_row(test_labels, test_scores, t)
    _, reason = auc_or_reason(test_labels, test_scores)
    if reason:
        notes.append(reason)
    lo, hi = bootstrap_auc_ci(test_labels, test_scores, n_boot=n_boot, seed=seed)
    row.update({"AUC_CI_low": lo, "AUC_CI_high": hi, "threshold": t, "threshold_source": src})
    if target_sensitivity is not None:
        row.update(_at_target(test_labels, test_scores, val_labels, val_scores, target_sensitivity, notes))
    row["n_test"] = len(np.asarray(test_labels))
    row["n_test_melanoma"] = int(np.asarray(test_labels).astype(int).sum())
    row["notes"] = "; ".join(notes)
    return row


def _at_target(test_labels, test_scores, val_labels, val_scores, target: float, notes: list[str]) -> dict:
    key = f"{target:g}"
    out = {
        "target_sensitivity": target,
        "threshold_at_target": math.nan,
        "TPR_at_target": math.nan,
        "TNR_at_target": math.nan,
    }
    if val_labels is None or val_scores is None:
        notes.append(f"no validation predictions: sensitivity-{key} threshold not chosen")
        return out
    try:
        t = target_sensitivity_threshold(val_labels, val_scores, target)
    except ValueError as e:
        notes.append(str(e))
        return out
    c = confusion_at(test_labels, test_scores, t)
    out.update({"threshold_at_target": t, "TPR_at_target": c["TPR"], "TNR_at_target": c["TNR"]})
    return out
