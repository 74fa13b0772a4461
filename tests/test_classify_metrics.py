"""classify.metrics and classify.delong against sklearn / the O(mn) definition / the bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score

from dermsynth.classify.delong import delong_ci, delong_test, delong_variance, structural_components
from dermsynth.classify.metrics import (
    auc,
    auc_or_reason,
    bootstrap_auc_ci,
    choose_threshold,
    confusion_at,
    evaluate,
    rank_auc_batch,
    target_sensitivity_threshold,
    youden_threshold,
)


def _data(n, prev, shift, seed, ties=False):
    g = np.random.default_rng(seed)
    y = (g.random(n) < prev).astype(int)
    y[0], y[1] = 0, 1
    s = g.normal(0, 1, n) + shift * y
    if ties:
        s = np.round(s, 0)
    return y, s


CASES = [
    (50, 0.5, 1.0, 0, False),
    (200, 0.1, 0.5, 1, False),
    (300, 0.3, 2.0, 2, True),
    (40, 0.8, 0.0, 3, True),
]


@pytest.mark.parametrize("n,prev,shift,seed,ties", CASES)
def test_confusion_and_auc_equal_sklearn(n, prev, shift, seed, ties):
    y, s = _data(n, prev, shift, seed, ties)
    t = float(np.median(s))
    row = confusion_at(y, s, t)
    tn, fp, fn, tp = confusion_matrix(y, (s >= t).astype(int)).ravel()
    assert (row["TP"], row["FP"], row["FN"], row["TN"]) == (tp, fp, fn, tn)
    assert row["ACC"] == pytest.approx((tp + tn) / n)
    assert row["TPR"] == pytest.approx(tp / (tp + fn))
    assert row["TNR"] == pytest.approx(tn / (tn + fp))
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert rank_auc_batch(y, s[None])[0] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_single_class_gives_nan_or_clear_error():
    y = np.zeros(10, int)
    s = np.linspace(0, 1, 10)
    a, reason = auc_or_reason(y, s)
    assert math.isnan(a) and "only class 0" in reason
    assert math.isnan(confusion_at(y, s, 0.5)["TPR"])
    assert all(math.isnan(v) for v in bootstrap_auc_ci(y, s, n_boot=10))
    with pytest.raises(ValueError, match="both classes"):
        youden_threshold(y, s)
    with pytest.raises(ValueError, match="both classes"):
        delong_variance(y, s)
    row = evaluate(y, s, threshold=0.5, n_boot=10)
    assert math.isnan(row["AUC"]) and "AUC undefined" in row["notes"]


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="0/1"):
        confusion_at([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="equal length"):
        auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="not finite"):
        auc([0, 1], [0.1, float("nan")])


def test_youden_is_the_max_j_threshold():
    y, s = _data(300, 0.3, 1.0, 5)
    t = youden_threshold(y, s)
    j = lambda th: confusion_at(y, s, th)["TPR"] + confusion_at(y, s, th)["TNR"] - 1  # noqa: E731
    assert j(t) == pytest.approx(max(j(v) for v in np.unique(s)))


@pytest.mark.parametrize("target", [0.8, 0.95, 1.0])
def test_target_sensitivity_threshold_is_highest_reaching_target(target):
    y, s = _data(400, 0.3, 1.0, 6)
    t = target_sensitivity_threshold(y, s, target)
    assert confusion_at(y, s, t)["TPR"] >= target
    higher = np.unique(s[s > t])
    if len(higher):
        assert confusion_at(y, s, higher.min())["TPR"] < target


def test_threshold_uses_validation_only():
    yv, sv = _data(200, 0.4, 1.0, 7)
    yt, st = _data(300, 0.2, 1.0, 8)
    a = evaluate(yt, st, yv, sv, n_boot=50)
    perm = np.random.default_rng(0).permutation(yt)
    b = evaluate(perm, st, yv, sv, n_boot=50)
    assert a["threshold"] == b["threshold"] == choose_threshold(yv, sv)
    assert a["threshold_at_target"] == b["threshold_at_target"]
    assert a["threshold_source"] == "validation:youden"
    assert a["TPR"] != b["TPR"] or a["TNR"] != b["TNR"]  # the test labels do change the test metrics
    c = evaluate(yt, st, n_boot=50)
    assert c["threshold"] == 0.5 and "not tuned" in c["threshold_source"]


def test_bootstrap_ci_is_seeded_and_brackets_auc():
    y, s = _data(300, 0.3, 1.0, 9)
    lo, hi = bootstrap_auc_ci(y, s, n_boot=500, seed=1)
    assert (lo, hi) == bootstrap_auc_ci(y, s, n_boot=500, seed=1)
    assert lo < auc(y, s) < hi and hi - lo < 0.25


def _slow_delong(y, scores):
    """DeLong et al. (1988) from the definition: psi over all (positive, negative) pairs, O(k m n)."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    return psi.mean(axis=(1, 2)), np.cov(v10) / pos.shape[1] + np.cov(v01) / neg.shape[1]


@pytest.mark.parametrize("n,prev,shift,seed,ties", CASES[:3])
def test_delong_fast_equals_definition_and_sklearn(n, prev, shift, seed, ties):
    y, a = _data(n, prev, shift, seed, ties)
    b = a + np.random.default_rng(seed + 10).normal(0, 1, n)
    if ties:
        b = np.round(b)
    scores = np.stack([a, b])
    aucs, v10, v01 = structural_components(y, scores)
    ref_auc, ref_cov = _slow_delong(y, scores)
    np.testing.assert_allclose(aucs, ref_auc, atol=1e-12)
    np.testing.assert_allclose(aucs, [roc_auc_score(y, a), roc_auc_score(y, b)], atol=1e-12)
    from dermsynth.classify.delong import delong_covariance

    np.testing.assert_allclose(delong_covariance(y, scores)[1], ref_cov, rtol=1e-10, atol=1e-15)


def test_delong_variance_matches_bootstrap_variance():
    y, s = _data(400, 0.3, 1.0, 11)
    _, var = delong_variance(y, s)
    g = np.random.default_rng(0)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    idx = np.concatenate([g.choice(pos, (2000, len(pos))), g.choice(neg, (2000, len(neg)))], axis=1)
    boot = rank_auc_batch(np.r_[np.ones(len(pos)), np.zeros(len(neg))], s[idx])
    assert var == pytest.approx(boot.var(), rel=0.2)
    lo, hi = delong_ci(y, s)
    assert lo < auc(y, s) < hi


def test_delong_paired_test():
    y, a = _data(300, 0.4, 1.5, 12)
    same = delong_test(y, a, a)
    assert same["p"] == 1.0 and same["z"] == 0.0
    noise = np.random.default_rng(1).normal(0, 3, len(y))
    worse = delong_test(y, a, a + noise)
    assert worse["auc_a"] > worse["auc_b"] and worse["p"] < 0.01
    flipped = delong_test(y, a + noise, a)
    assert flipped["z"] == pytest.approx(-worse["z"]) and flipped["p"] == pytest.approx(worse["p"])
    # a monotone transform keeps the ranks: no difference at all
    assert delong_test(y, a, np.exp(a))["p"] == 1.0


def test_delong_p_is_roughly_uniform_under_the_null():
    g = np.random.default_rng(3)
    ps = []
    for _ in range(200):
        y = (g.random(120) < 0.4).astype(int)
        base = g.normal(0, 1, 120) + y
        ps.append(delong_test(y, base + g.normal(0, 1, 120), base + g.normal(0, 1, 120))["p"])
    ps = np.array(ps)
    assert 0.02 <= (ps < 0.05).mean() <= 0.1 and 0.35 <= np.median(ps) <= 0.65
