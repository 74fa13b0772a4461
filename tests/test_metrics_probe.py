"""The linear probe (metrics/probe.py): a classifier two-sample test with a real-vs-real control."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from dermsynth.metrics import compute_metrics
from dermsynth.metrics.probe import linear_probe, probe_accuracy, probe_sizes
from dermsynth.metrics.registry import resolve_metric
from dermsynth.metrics.result import read_metrics, write_metrics
from test_metrics_compute import KW, fake_dir, real_dir  # noqa: F401  (module fixtures)


def gauss(n: int, d: int = 16, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    x[:, :4] += shift
    return x


def test_same_distribution_is_near_chance_and_shifted_is_separated():
    same = [probe_accuracy(gauss(200, seed=s), gauss(200, seed=100 + s), seed=s)[0] for s in range(5)]
    assert 0.40 < np.mean(same) < 0.58
    far, _ = probe_accuracy(gauss(200), gauss(200, shift=1.5, seed=1))
    assert far > 0.9
    # the accuracy grows with the distance between the two distributions
    steps = [probe_accuracy(gauss(300), gauss(300, shift=s, seed=7))[0] for s in (0.1, 0.4, 1.0)]
    assert steps[0] < steps[1] < steps[2]


def test_equals_hand_written_cross_validation():
    a, b = gauss(60, seed=3), gauss(60, shift=0.5, seed=4)
    x, y = np.concatenate([a, b]), np.r_[np.zeros(60), np.ones(60)]
    scores = []
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=11).split(x, y):
        sc = StandardScaler().fit(x[tr])
        lr = LogisticRegression(class_weight="balanced", max_iter=5000).fit(sc.transform(x[tr]), y[tr])
        scores.append(balanced_accuracy_score(y[te], lr.predict(sc.transform(x[te]))))
    acc, std = probe_accuracy(a, b, seed=11)
    assert acc == pytest.approx(np.mean(scores), abs=1e-9)
    assert std == pytest.approx(np.std(scores), abs=1e-9)


def test_invariant_to_feature_scale_and_offset():
    a, b = gauss(80, seed=5), gauss(80, shift=0.6, seed=6)
    scale = np.random.default_rng(0).uniform(0.1, 10, a.shape[1])
    ref = probe_accuracy(a, b, seed=2)[0]
    # standardisation first: per-feature scale and offset change nothing beyond solver tolerance
    assert probe_accuracy(a * scale + 3, b * scale + 3, seed=2)[0] == pytest.approx(ref, abs=0.02)


def test_equal_draws_and_control():
    real, fake = gauss(300, seed=8), gauss(50, shift=3, seed=9)
    out = linear_probe(real, fake, seed=0)
    assert set(out) == {"", "_std", "_control", "_control_std"}
    assert out[""] > 0.95 and out["_control"] < 0.65
    assert probe_sizes(300, 50) == (50, 50)
    assert probe_sizes(30, 100) == (30, 15)
    assert probe_sizes(8, 100) == (8, 0)  # too few real rows for two halves of 5 folds
    assert set(linear_probe(gauss(8), gauss(20, seed=1))) == {"", "_std"}
    # deterministic for a seed
    assert linear_probe(real, fake, seed=0) == out


def test_refuses_bad_shapes():
    with pytest.raises(ValueError, match="at least 5 rows"):
        probe_accuracy(gauss(3), gauss(30))
    with pytest.raises(ValueError, match="one D"):
        probe_accuracy(gauss(30, d=4), gauss(30, d=5))


def test_name_and_end_to_end(real_dir, fake_dir, tmp_path):  # noqa: F811
    spec = resolve_metric("probe1k_effnetlite")
    assert (spec.kind, spec.num, spec.space) == ("probe", 1000, "effnetlite")
    res = compute_metrics(
        real_dir, fake_dir, metrics="fid30_randlite,probe30_randlite", cache_dir=tmp_path, **KW
    )
    r = res["results"]
    assert {"probe30_randlite", "probe30_randlite_std", "probe30_randlite_control"} <= set(r)
    assert 0.0 <= r["probe30_randlite"] <= 1.0
    info = res["details"]["probe30_randlite"]
    assert (info["folds"], info["per_side"], info["control_per_side"]) == (5, 30, 30)
    # per class too, and the result reader finds it
    assert "probe30_randlite" in res["per_class"]["melanoma"]
    m = read_metrics(write_metrics(tmp_path / "metrics.json", res))
    assert m.probe() == (r["probe30_randlite"], r["probe30_randlite_control"])
